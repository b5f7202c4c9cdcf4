import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ConnectionOptions } from 'node:tls';
import type { FailsafePing } from '../../core/failsafe/failsafe-ping.ts';
import { SIGNATURE_HEADER, signPing } from './ping-signature.ts';

export interface RoundResult {
  /** Members that accepted the ping (answered 200). */
  readonly answered: readonly string[];
  /** Members that refused it, did not answer in time, or could not be reached, with why. */
  readonly missing: readonly { name: string; why: string }[];
}

/** How the pings reach the members' REST APIs: TLS settings, the Basic auth header. */
export interface PingTransport {
  readonly tls?: ConnectionOptions;
  readonly authorization?: string | undefined;
}

/** POSTs one signed ping to one member's `/failsafe`; resolves with why not, or undefined. */
function pingOne(
  apiUrl: string,
  ping: FailsafePing,
  signature: string,
  timeoutMs: number,
  transport: PingTransport,
): Promise<string | undefined> {
  const url = new URL('/failsafe', apiUrl);
  const body = JSON.stringify(ping);
  const https = url.protocol === 'https:';
  const request = https ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        method: 'POST',
        timeout: timeoutMs,
        ...(https ? transport.tls : {}),
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          [SIGNATURE_HEADER]: signature,
          ...(transport.authorization ? { authorization: transport.authorization } : {}),
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
