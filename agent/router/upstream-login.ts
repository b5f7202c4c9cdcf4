import { connect, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect } from 'node:tls';
import type { LoginCredentials } from './client-login.ts';
import { AUTH, errorFields, FIRST_PACKET, startupPacket, untypedPacket, wireMessage } from './pg-wire.ts';
import type { RouteTarget } from './route-target.ts';
import { md5Answer, ScramClient } from './scram.ts';
import { WireReader } from './wire-reader.ts';

/** A session the router opened on a member for a client, ready for its next query. */
export interface UpstreamSession {
  readonly socket: Socket;
  /** What the server sent after AuthenticationOk (ParameterStatus, BackendKeyData, ReadyForQuery). */
  readonly greeting: readonly Buffer[];
  readonly backendKey: { readonly pid: number; readonly key: number } | undefined;
  /** Bytes read past the greeting (none, unless the server sent something unasked). */
  readonly rest: Buffer;
}

/** The server refused the login: its ErrorResponse, to relay to the client as it is. */
export class UpstreamRefused extends Error {
  constructor(
    message: string,
    readonly response: Buffer,
  ) {
    super(message);
  }
}

/**
 * Logs a client's session in to `target` with what the router learned from the client's own
 * login (issue #17): TLS verified against the cluster's CA when one is given (the members'
 * pg_hba takes network logins only over TLS), then SCRAM with the client's key or md5.
 */
export async function loginUpstream(
  target: RouteTarget,
  login: { readonly params: Readonly<Record<string, string>>; readonly credentials: LoginCredentials },
  options: { readonly ca?: string | undefined; readonly timeoutMs: number },
): Promise<UpstreamSession> {
  const raw = connect(target.port, target.host);
  raw.setNoDelay(true);
  let socket: Socket = raw;
  // Whatever stalls (connect, TLS handshake, authentication), the login ends by its deadline.
  const timer = setTimeout(() => {
    const error = new Error(`no login on ${target.name} within ${options.timeoutMs} ms`);
    socket.destroy(error);
    raw.destroy(error);
  }, options.timeoutMs);
  try {
    let reader = new WireReader(raw);
    if (options.ca) {
      raw.write(untypedPacket(FIRST_PACKET.sslRequest));
      const answer = (await reader.bytes(1)).toString();
      if (answer !== 'S') throw new Error(`${target.name} declined TLS`);
      reader.detach();
      const secure = tlsConnect({
        socket: raw,
        ca: options.ca,
        checkServerIdentity: (_host, cert) => checkServerIdentity(target.host, cert),
      });
      socket = secure;
      await new Promise<void>((resolve, reject) => {
        secure.once('secureConnect', () => resolve());
        secure.once('error', reject);
        secure.once('close', () => reject(new Error(`${target.name} closed the connection during TLS`)));
      });
      reader = new WireReader(secure);
    }
    socket.write(startupPacket(login.params));
    let scram: ScramClient | undefined;
    for (;;) {
      const m = await reader.message();
      if (m.type === 'E') {
        const fields = errorFields(m.body);
        throw new UpstreamRefused(`${target.name}: ${fields.M ?? 'login refused'}`, m.raw);
      }
      if (m.type !== 'R') throw new Error(`${target.name} sent '${m.type}' during the login`);
      const code = m.body.readUInt32BE(0);
      const data = m.body.subarray(4);
      if (code === AUTH.ok) break;
      const creds = login.credentials;
      if (code === AUTH.sasl) {
        if (creds.kind !== 'scram' || !data.toString().split('\0').includes('SCRAM-SHA-256'))
          throw new Error(`${target.name} asks for SASL the router cannot answer`);
        scram = new ScramClient(creds.clientKey, creds.verifier);
        const first = Buffer.from(scram.first());
        const length = Buffer.alloc(4);
        length.writeInt32BE(first.length);
        socket.write(wireMessage('p', Buffer.concat([Buffer.from('SCRAM-SHA-256\0'), length, first])));
      } else if (code === AUTH.saslContinue && scram) {
        const final = scram.final(data.toString());
        if (final instanceof Error) throw final;
        socket.write(wireMessage('p', Buffer.from(final)));
      } else if (code === AUTH.saslFinal && scram) {
        if (!scram.verify(data.toString()))
          throw new Error(`${target.name} did not prove it holds the role's verifier`);
      } else if (code === AUTH.md5 && creds.kind === 'md5') {
        socket.write(wireMessage('p', Buffer.from(`${md5Answer(creds.verifier, data.subarray(0, 4))}\0`)));
      } else
        throw new Error(
          `${target.name} asks for authentication code ${code}, which the router cannot answer`,
        );
    }
    const greeting: Buffer[] = [];
    let backendKey: UpstreamSession['backendKey'];
    for (;;) {
      const m = await reader.message();
      greeting.push(m.raw);
      if (m.type === 'K') backendKey = { pid: m.body.readUInt32BE(0), key: m.body.readUInt32BE(4) };
      if (m.type === 'E') {
        const fields = errorFields(m.body);
        throw new UpstreamRefused(`${target.name}: ${fields.M ?? 'session refused'}`, m.raw);
      }
      if (m.type === 'Z') break;
    }
    return { socket, greeting, backendKey, rest: reader.detach() };
  } catch (error) {
    socket.destroy();
    raw.destroy();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
