import pg from 'pg';

/**
 * A `pg` client for one of this machine's PostgreSQL servers (a node, or an endpoint in front of
 * them), as the superuser, with short timeouts; a server that goes away mid-session becomes a
 * failed query, never an unhandled 'error' event.
 */
export function loopbackClient(
  port: number,
  password: string,
  timeouts: { connectMs?: number; queryMs?: number } = {},
): pg.Client {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password,
    database: 'postgres',
    connectionTimeoutMillis: timeouts.connectMs ?? 1000,
    query_timeout: timeouts.queryMs ?? 1000,
  });
  client.on('error', () => {});
  return client;
}
