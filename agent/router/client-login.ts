import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import {
  AUTH,
  authenticationMessage,
  errorResponse,
  FIRST_PACKET,
  parseStartupParameters,
} from './pg-wire.ts';
import { md5Answer, parseScramVerifier, ScramServer, type ScramVerifier } from './scram.ts';
import { WireReader } from './wire-reader.ts';

/** What the router holds to log in as a client's role elsewhere: never its password. */
export type LoginCredentials =
  | { readonly kind: 'scram'; readonly clientKey: Buffer; readonly verifier: ScramVerifier }
  | { readonly kind: 'md5'; readonly verifier: string };

/** A role's stored verifier (pg_authid.rolpassword), or undefined when it has none or does not exist. */
export type VerifierSource = (role: string) => Promise<string | undefined>;

export type ClientLogin =
  | {
      readonly kind: 'login';
      readonly socket: Socket;
      readonly reader: WireReader;
      readonly params: Readonly<Record<string, string>>;
      readonly credentials: LoginCredentials;
    }
  | { readonly kind: 'cancel'; readonly pid: number; readonly key: number };

/** A client refused during its login: it has been told why. */
export class ClientLoginRefused extends Error {}

function refuse(socket: Socket, sqlstate: string, message: string): never {
  socket.end(errorResponse(sqlstate, message));
  throw new ClientLoginRefused(message);
}

/**
 * The client's side of a login through the router (issue #17): TLS ends here (the host's
 * certificate) when the client asks for it, and the router checks the client's password proof
 * against the role's verifier itself, so that it can log the session in to another member later.
 */
export async function loginClient(
  socket: Socket,
  options: { readonly tls?: SecureContext | undefined; readonly verifiers: VerifierSource },
): Promise<ClientLogin> {
  let current: Socket = socket;
  let reader = new WireReader(current);
  let packet = await reader.untyped();
  for (
    let i = 0;
    i < 2 && (packet.code === FIRST_PACKET.sslRequest || packet.code === FIRST_PACKET.gssEncRequest);
    i++
  ) {
    if (packet.code === FIRST_PACKET.sslRequest && options.tls) {
      reader.detach();
      current.write('S');
      current = new TLSSocket(current, { isServer: true, secureContext: options.tls });
      reader = new WireReader(current);
    } else current.write('N');
    packet = await reader.untyped();
  }
  if (packet.code === FIRST_PACKET.cancelRequest && packet.body.length >= 8)
    return { kind: 'cancel', pid: packet.body.readUInt32BE(0), key: packet.body.readUInt32BE(4) };
  if (packet.code !== FIRST_PACKET.startup)
    refuse(current, '08P01', `unsupported frontend protocol (code ${packet.code})`);
  const params = parseStartupParameters(packet.body);
  const role = params.user;
  if (!role) refuse(current, '28000', 'no PostgreSQL user name specified in startup packet');
  if (params.replication && params.replication !== 'false' && params.replication !== '0')
    refuse(
      current,
      '28000',
      'the pgwarden router carries no replication connections: connect to the member itself',
    );
  const stored = await options
    .verifiers(role)
    .catch((error: Error) =>
      refuse(current, '57P03', `the pgwarden router cannot read the role's verifier: ${error.message}`),
    );
  const failed = `password authentication failed for user "${role}"`;
  if (!stored) refuse(current, '28P01', failed);
  const scram = parseScramVerifier(stored);
  if (scram) {
    const server = new ScramServer(scram);
    current.write(authenticationMessage(AUTH.sasl, Buffer.from('SCRAM-SHA-256\0\0')));
    const initial = await reader.message();
    if (initial.type !== 'p') refuse(current, '08P01', 'expected a SASL initial response');
    const mechanismEnd = initial.body.indexOf(0);
    const mechanism = initial.body.subarray(0, mechanismEnd).toString();
    if (mechanism !== 'SCRAM-SHA-256')
      refuse(current, '28000', `SASL mechanism ${mechanism} is not offered by the router`);
    const length = initial.body.readInt32BE(mechanismEnd + 1);
    const clientFirst = initial.body.subarray(mechanismEnd + 5, mechanismEnd + 5 + length).toString();
    const serverFirst = server.first(clientFirst);
    if (serverFirst instanceof Error) refuse(current, '28000', serverFirst.message);
    current.write(authenticationMessage(AUTH.saslContinue, Buffer.from(serverFirst)));
    const response = await reader.message();
    if (response.type !== 'p') refuse(current, '08P01', 'expected a SASL response');
    const final = server.final(response.body.toString());
    if (final instanceof Error) refuse(current, '28P01', failed);
    current.write(authenticationMessage(AUTH.saslFinal, Buffer.from(final.serverFinal)));
    return {
      kind: 'login',
      socket: current,
      reader,
      params,
      credentials: { kind: 'scram', clientKey: final.clientKey, verifier: scram },
    };
  }
  if (/^md5[0-9a-f]{32}$/.test(stored)) {
    const salt = randomBytes(4);
    current.write(authenticationMessage(AUTH.md5, salt));
    const response = await reader.message();
    const answer = response.body.subarray(0, response.body.indexOf(0)).toString();
    if (response.type !== 'p' || answer !== md5Answer(stored, salt)) refuse(current, '28P01', failed);
    return { kind: 'login', socket: current, reader, params, credentials: { kind: 'md5', verifier: stored } };
  }
  return refuse(current, '28P01', failed);
}
