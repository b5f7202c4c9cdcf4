import { request } from 'node:http';
import type { FailsafePing } from '../../core/failsafe/failsafe-ping.ts';
import { SIGNATURE_HEADER, signPing } from './ping-signature.ts';

export interface RoundResult {
  /** Members that accepted the ping (answered 200). */
  readonly answered: readonly string[];
  /** Members that refused it, did not answer in time, or could not be reached, with why. */
  readonly missing: readonly { name: string; why: string }[];
}

/** POSTs one signed ping to one member's `/failsafe`; resolves with why not, or undefined. */
function pingOne(
  apiUrl: string,
  ping: FailsafePing,
  signature: string,
  timeoutMs: number,
): Promise<string | undefined> {
  const url = new URL('/failsafe', apiUrl);
  const body = JSON.stringify(ping);
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        method: 'POST',
        timeout: timeoutMs,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          [SIGNATURE_HEADER]: signature,
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => {
          text += d.toString();
        });
        res.on('end', () =>
          resolve(res.statusCode === 200 ? undefined : `${res.statusCode}: ${text.slice(0, 200)}`),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (error) => resolve(error.message));
    req.end(body);
  });
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
): Promise<RoundResult> {
  const signature = signPing(ping, secret);
  const outcomes = await Promise.all(
    members.map(async (m) => ({ name: m.name, why: await pingOne(m.api_url, ping, signature, timeoutMs) })),
  );
  return {
    answered: outcomes.filter((o) => o.why === undefined).map((o) => o.name),
    missing: outcomes.flatMap((o) => (o.why === undefined ? [] : [{ name: o.name, why: o.why }])),
  };
}
