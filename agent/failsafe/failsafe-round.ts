import type { FailsafePing } from '../../core/failsafe/failsafe-ping.ts';
import { type PeerTransport, postToPeer } from '../peers/post-to-peer.ts';
import { signPing } from './ping-signature.ts';

export interface RoundResult {
  /** Members that accepted the ping (answered 200). */
  readonly answered: readonly string[];
  /** Members that refused it, did not answer in time, or could not be reached, with why. */
  readonly missing: readonly { name: string; why: string }[];
}

/** How the pings reach the members' REST APIs: TLS settings, the Basic auth header. */
export type PingTransport = PeerTransport;

/** POSTs one signed ping to one member's `/failsafe`; resolves with why not, or undefined. */
async function pingOne(
  apiUrl: string,
  ping: FailsafePing,
  signature: string,
  timeoutMs: number,
  transport: PingTransport,
): Promise<string | undefined> {
  const answer = await postToPeer(apiUrl, '/failsafe', ping, signature, timeoutMs, transport);
  if (answer.status === undefined) return answer.why;
  return answer.status === 200 ? undefined : `${answer.status}: ${answer.body.slice(0, 200)}`;
}

/**
 * One failsafe round of the primary (DESIGN §3): the same signed ping to every member of S at
 * once. The caller extends its lease only if `missing` is empty, from when the round began.
 */
export async function failsafeRound(
  members: readonly { name: string; api_url: string }[],
  ping: FailsafePing,
  secret: string,
  timeoutMs: number,
  transport: PingTransport = {},
): Promise<RoundResult> {
  const signature = signPing(ping, secret);
  const outcomes = await Promise.all(
    members.map(async (m) => ({
      name: m.name,
      why: await pingOne(m.api_url, ping, signature, timeoutMs, transport),
    })),
  );
  return {
    answered: outcomes.filter((o) => o.why === undefined).map((o) => o.name),
    missing: outcomes.flatMap((o) => (o.why === undefined ? [] : [{ name: o.name, why: o.why }])),
  };
}
