import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { Credentials } from '../../core/config/agent-config.ts';

const LIBPQ_KEYS = [
  'sslmode',
  'sslrootcert',
  'sslcert',
  'sslkey',
  'sslpassword',
  'sslcrl',
  'sslcrldir',
  'gssencmode',
  'channel_binding',
] as const;

/** A libpq key/value connection string, values quoted as libpq reads them. */
export function conninfo(params: Readonly<Record<string, string | number | undefined>>): string {
  return Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => {
      const text = String(v);
      return `${k}=${/^[^\s'\\]+$/.test(text) ? text : `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`}`;
    })
    .join(' ');
}

/** How to reach `host:port` as `credentials` (user, TLS settings; the password is in the passfile). */
export function serverConninfo(
  endpoint: { host: string; port: number },
  credentials: Credentials,
  extra: Readonly<Record<string, string | number | undefined>> = {},
): string {
  const tls = Object.fromEntries(
    LIBPQ_KEYS.flatMap((k) => (credentials[k] === undefined ? [] : [[k, credentials[k]]])),
  );
  return conninfo({
    host: endpoint.host,
    port: endpoint.port,
    user: credentials.username,
    sslmode: 'prefer',
    ...tls,
    ...extra,
  });
}

/**
 * The `ssl` option of a node-postgres client for these credentials, with libpq's meaning of
 * sslmode: verify-full checks the chain and the host name, verify-ca the chain only, require
 * encrypts without checking; prefer/allow/disable connect in plain text (node-postgres cannot
 * fall back from TLS, and these modes accept plain text).
 */
export function clientSsl(credentials: Credentials): false | ConnectionOptions {
  const mode = credentials.sslmode ?? 'prefer';
  if (mode === 'disable' || mode === 'allow' || mode === 'prefer') return false;
  const read = (path: string | undefined) => (path ? readFileSync(path, 'utf8') : undefined);
  return {
    rejectUnauthorized: mode !== 'require',
    ...(credentials.sslrootcert && mode !== 'require' ? { ca: read(credentials.sslrootcert) } : {}),
    ...(credentials.sslcert ? { cert: read(credentials.sslcert) } : {}),
    ...(credentials.sslkey ? { key: read(credentials.sslkey) } : {}),
    ...(credentials.sslpassword ? { passphrase: credentials.sslpassword } : {}),
    ...(mode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
  };
}

/** The role the agent reaches other members as (pg_rewind, the checkpoint request): rewind, else the superuser. */
export function rewindCredentials(authentication: {
  superuser: Credentials;
  rewind?: Credentials | undefined;
}): Credentials {
  return authentication.rewind ?? authentication.superuser;
}
