import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import type { LoopbackLogin } from './loopback-client.ts';
import { processAlive } from './wait-for.ts';

/** Where `pgwarden local` keeps a topology when no --dir is given. */
export function defaultLocalDir(): string {
  return resolve(process.env.PGWARDEN_LOCAL_DIR ?? '.pgwarden/local');
}

export const STATE_FILE = 'state.json';
export const SETTINGS_FILE = 'settings.json';
export const SOCKET_FILE = 'supervisor.sock';
export const SUPERVISOR_LOG = 'supervisor.log';

const hostPort = z.string().regex(/^[\w.-]+:\d+$/, { error: 'host:port' });

/** What `local up` asked for; the supervisor reads it from the state dir. */
export const localSettingsSchema = z.strictObject({
  nodes: z.number().int().min(1).max(9),
  sync: z.boolean(),
  /** A router on every node, HAProxy in front of the routers (issue #17). */
  routers: z.boolean().default(true),
  profile: z.enum(['default', 'fast']),
  scope: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { error: 'a cluster name: a-z, 0-9 and -' }),
  table: z.string().min(3),
  awsEndpoint: z.url().optional(),
  writerPort: z.number().int().min(0).max(65535),
  readerPort: z.number().int().min(0).max(65535),
  /** Existing data directories adopted as the nodes (`--adopt`), the primary's first. */
  adopt: z.array(z.string().startsWith('/')).min(1).max(9).optional(),
});
export type LocalSettings = z.output<typeof localSettingsSchema>;

export const nodeStateSchema = z.object({
  name: z.string(),
  pgPort: z.number(),
  apiPort: z.number(),
  dataDir: z.string(),
  logPath: z.string(),
  agentPid: z.number().optional(),
  down: z.boolean(),
  isolated: z.boolean(),
});
export type NodeState = z.output<typeof nodeStateSchema>;

/** The supervisor's view of the topology, rewritten (atomically) on every change. */
export const localStateSchema = z.object({
  version: z.literal(1),
  dir: z.string(),
  supervisorPid: z.number(),
  phase: z.enum(['starting', 'healthy', 'failed', 'stopping', 'stopped']),
  error: z.string().optional(),
  progress: z.array(z.string()),
  settings: localSettingsSchema,
  dynamodb: z.object({ endpoint: z.string(), embedded: z.boolean() }),
  writer: hostPort.optional(),
  reader: hostPort.optional(),
  haproxyPid: z.number().optional(),
  password: z.string(),
  /** The role clients log in as, and the CA that verifies the servers (the topology's). */
  user: z.string().default('postgres'),
  ca: z.string().optional(),
  nodes: z.array(nodeStateSchema),
  updatedAt: z.string(),
});
export type LocalState = z.output<typeof localStateSchema>;

export function writeState(dir: string, state: LocalState): void {
  const path = join(dir, STATE_FILE);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

/** The state file of `dir`, or undefined when there is none; a malformed one is an error naming it. */
export function readState(dir: string): LocalState | undefined {
  const path = join(dir, STATE_FILE);
  if (!existsSync(path)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`${path}: not valid JSON (${(error as Error).message})`);
  }
  const parsed = localStateSchema.safeParse(raw);
  if (!parsed.success)
    throw new Error(
      `${path}: not a pgwarden local state file (${parsed.error.issues
        .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; ')})`,
    );
  return parsed.data;
}

/** The state of a running supervisor in `dir`, or undefined (no state, or its supervisor is gone). */
export function runningState(dir: string): LocalState | undefined {
  try {
    const state = readState(dir);
    return state && processAlive(state.supervisorPid) && state.phase !== 'stopped' ? state : undefined;
  } catch {
    return undefined;
  }
}

/** A libpq URI for the application role; with a CA, TLS that verifies the server (verify-full). */
export function libpqUri(
  hostPortPair: string,
  login: { user: string; password: string; ca?: string | undefined },
  dbname = 'postgres',
): string {
  const tls = login.ca ? `?sslmode=verify-full&sslrootcert=${encodeURIComponent(login.ca)}` : '';
  return `postgresql://${encodeURIComponent(login.user)}:${encodeURIComponent(login.password)}@${hostPortPair}/${dbname}${tls}`;
}

/** How clients of the topology that `state` describes log in. */
export function stateLogin(state: Pick<LocalState, 'user' | 'password' | 'ca'>): LoopbackLogin {
  return { user: state.user, password: state.password, ca: state.ca };
}
