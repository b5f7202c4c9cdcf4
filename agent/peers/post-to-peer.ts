import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ConnectionOptions } from 'node:tls';
import { SIGNATURE_HEADER } from '../failsafe/ping-signature.ts';

/** How the agents reach each other's REST APIs: TLS settings, the Basic auth header. */
export interface PeerTransport {
  readonly tls?: ConnectionOptions;
  readonly authorization?: string | undefined;
}

/** A peer's answer: its status and body, or why there was none. */
export type PeerAnswer =
  | { readonly status: number; readonly body: string }
  | { readonly status?: undefined; readonly why: string };

/** POSTs one signed JSON body to `path` of a member's REST API; never throws. */
export function postToPeer(
  apiUrl: string,
  path: string,
  payload: unknown,
  signature: string,
  timeoutMs: number,
  transport: PeerTransport,
): Promise<PeerAnswer> {
  const url = new URL(path, apiUrl);
  const body = JSON.stringify(payload);
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
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text.slice(0, 2000) }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (error) => resolve({ why: error.message }));
    req.end(body);
  });
}
