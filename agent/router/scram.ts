import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it, both ends: the router
 * authenticates a client against the role's stored verifier (pg_authid), learns the client's
 * key from its proof, and with that key logs in to any member: they all hold the same verifier.
 * Channel binding is not offered (the client's TLS ends at the router). PgBouncer's SCRAM
 * pass-through with auth_query works the same way.
 */

/** A role's stored verifier: `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. */
export interface ScramVerifier {
  readonly iterations: number;
  readonly salt: string;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

export function parseScramVerifier(text: string): ScramVerifier | undefined {
  const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(text);
  if (!m) return undefined;
  return {
    iterations: Number(m[1]),
    salt: m[2]!,
    storedKey: Buffer.from(m[3]!, 'base64'),
    serverKey: Buffer.from(m[4]!, 'base64'),
  };
}

const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest();
const xor = (a: Buffer, b: Buffer) => Buffer.from(a.map((byte, i) => byte ^ b[i]!));

function attributes(message: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) map.set(part[0]!, part.slice(2));
  }
  return map;
}

/** The server side: after `first(clientFirst)` and `final(clientFinal)`, the client's key. */
export class ScramServer {
  private clientFirstBare = '';
  private serverFirst = '';
  private gs2Header = '';
  private nonce = '';

  constructor(private readonly verifier: ScramVerifier) {}

  /** The client's first message (gs2 header + bare part) → the server's first, or why not. */
  first(clientFirst: string): string | Error {
    const m = /^([ny]|p=[^,]+),([^,]*),(.*)$/.exec(clientFirst);
    if (!m) return new Error('malformed SCRAM client-first-message');
    if (m[1]!.startsWith('p=')) return new Error('channel binding is not offered by the router');
    this.gs2Header = `${m[1]},${m[2]},`;
    this.clientFirstBare = m[3]!;
    const clientNonce = attributes(this.clientFirstBare).get('r');
    if (!clientNonce) return new Error('SCRAM client-first-message without a nonce');
    this.nonce = clientNonce + randomBytes(18).toString('base64');
    this.serverFirst = `r=${this.nonce},s=${this.verifier.salt},i=${this.verifier.iterations}`;
    return this.serverFirst;
  }

  /** The client's final message → the server's final and the client's key, or why not. */
  final(clientFinal: string): { serverFinal: string; clientKey: Buffer } | Error {
    const at = clientFinal.lastIndexOf(',p=');
    if (at < 0) return new Error('SCRAM client-final-message without a proof');
    const withoutProof = clientFinal.slice(0, at);
    const attrs = attributes(withoutProof);
    if (attrs.get('r') !== this.nonce) return new Error('SCRAM nonce mismatch');
    if (attrs.get('c') !== Buffer.from(this.gs2Header).toString('base64'))
      return new Error('SCRAM channel-binding data mismatch');
    const proof = Buffer.from(clientFinal.slice(at + 3), 'base64');
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const signature = hmac(this.verifier.storedKey, authMessage);
    if (proof.length !== signature.length) return new Error('password authentication failed');
    const clientKey = xor(proof, signature);
    if (!timingSafeEqual(sha256(clientKey), this.verifier.storedKey))
      return new Error('password authentication failed');
    const serverSignature = hmac(this.verifier.serverKey, authMessage).toString('base64');
    return { serverFinal: `v=${serverSignature}`, clientKey };
  }
}

/** The client side, with a client key the router learned: logs in without the password. */
export class ScramClient {
  private readonly clientNonce = randomBytes(18).toString('base64');
  private readonly clientFirstBare = `n=,r=${this.clientNonce}`;
  private expectedServerSignature = '';

  constructor(
    private readonly clientKey: Buffer,
    private readonly verifier: ScramVerifier,
  ) {}

  /** SASLInitialResponse's data: no channel binding (`n`). */
  first(): string {
    return `n,,${this.clientFirstBare}`;
  }

  final(serverFirst: string): string | Error {
    const attrs = attributes(serverFirst);
    const nonce = attrs.get('r');
    if (!nonce?.startsWith(this.clientNonce)) return new Error('SCRAM server nonce does not extend ours');
    if (attrs.get('s') !== this.verifier.salt || Number(attrs.get('i')) !== this.verifier.iterations)
      return new Error("the server's salt or iteration count differs from the verifier the router holds");
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const proof = xor(this.clientKey, hmac(this.verifier.storedKey, authMessage));
    this.expectedServerSignature = hmac(this.verifier.serverKey, authMessage).toString('base64');
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Whether the server proved it holds the verifier too. */
  verify(serverFinal: string): boolean {
    return attributes(serverFinal).get('v') === this.expectedServerSignature;
  }
}

/** PostgreSQL's md5 challenge answer from the stored `md5<hex>` verifier and the salt. */
export function md5Answer(verifier: string, salt: Buffer): string {
  const inner = verifier.slice(3);
  return `md5${createHash('md5')
    .update(Buffer.concat([Buffer.from(inner), salt]))
    .digest('hex')}`;
}
