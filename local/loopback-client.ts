import { readFileSync } from 'node:fs';
import pg from 'pg';

/** How a client logs in to the local topology's servers: a role, its password, the CA to verify with. */
export interface LoopbackLogin {
  readonly user: string;
  readonly password: string;
  /** The topology's CA certificate: TLS with the server's certificate verified (verify-full). */
  readonly ca?: string | undefined;
}

/**
 * A `pg` client for one of this machine's PostgreSQL servers (a node, or an endpoint in front of
 * them) as `login` (the application role over TLS, as an application logs in), with short
 * timeouts; a server that goes away mid-session becomes a failed query, never an unhandled
 * 'error' event.
 */
export function loopbackClient(
  port: number,
  login: LoopbackLogin,
  timeouts: { connectMs?: number; queryMs?: number } = {},
): pg.Client {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: login.user,
    password: login.password,
    database: 'postgres',
    ...(login.ca ? { ssl: { ca: readFileSync(login.ca, 'utf8') } } : {}),
    connectionTimeoutMillis: timeouts.connectMs ?? 1000,
    query_timeout: timeouts.queryMs ?? 1000,
  });
  client.on('error', () => {});
  return client;
}

/** A superuser client over a node's local socket (the superuser has no network login). */
export function socketClient(
  socketDir: string,
  port: number,
  timeouts: { connectMs?: number; queryMs?: number } = {},
): pg.Client {
  const client = new pg.Client({
    host: socketDir,
    port,
    user: 'postgres',
    database: 'postgres',
    connectionTimeoutMillis: timeouts.connectMs ?? 1000,
    query_timeout: timeouts.queryMs ?? 1000,
  });
  client.on('error', () => {});
  return client;
}
