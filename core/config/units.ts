import { z } from 'zod';

/** Seconds as Patroni writes them: a positive number. */
export const seconds = (def: number) =>
  z.number({ error: 'a number of seconds' }).positive({ error: 'a positive number of seconds' }).default(def);

/** `host:port`, as in Patroni's `listen` and `connect_address`. */
export const hostPort = z
  .string({ error: 'a "host:port" string' })
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, {
    error: 'a "host:port" string, like 127.0.0.1:8008',
  })
  .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, {
    error: 'a port number from 0 to 65535',
  });

/**
 * Patroni's `postgresql.listen`: one or several comma-separated hosts and one port
 * (`127.0.0.1,10.0.0.5:5432`, `*:5432`).
 */
export const listenAddresses = z
  .string({ error: 'a "host[,host...]:port" string' })
  .regex(/^(\*|\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(\s*,\s*(\*|\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+))*:\d{1,5}$/, {
    error: 'a "host[,host...]:port" string, like 127.0.0.1:5432 or 127.0.0.1,10.0.0.5:5432',
  })
  .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, {
    error: 'a port number from 0 to 65535',
  });

export function splitHostPort(value: string): { host: string; port: number } {
  const at = value.lastIndexOf(':');
  const host = value.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(value.slice(at + 1)) };
}

/** Cluster and member names: they appear in DynamoDB keys, SSM parameters and file names. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
export const memberName = z.string({ error: 'a name' }).regex(NAME_PATTERN, {
  error: 'a name of 1-63 letters, digits, "_", "." or "-", starting with a letter or digit',
});

/** Parses a byte size written as Patroni's `?lag=` accepts it: `1048576`, `16kB`, `10MB`, `1GB`. */
export function parseByteSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(B|kB|KB|MB|GB|TB)?\s*$/.exec(text);
  if (!match) return undefined;
  const unit = match[2] ?? 'B';
  const factor: Record<string, number> = {
    B: 1,
    kB: 1024,
    KB: 1024,
    MB: 1024 ** 2,
    GB: 1024 ** 3,
    TB: 1024 ** 4,
  };
  return Math.round(Number(match[1]) * factor[unit]!);
}
