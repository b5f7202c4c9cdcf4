import { existsSync } from 'node:fs';
import { appendFile, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { AgentConfig } from '../../core/config/agent-config.ts';
import type { ClusterConfig } from '../../core/config/cluster-config.ts';
import { splitHostPort } from '../../core/config/units.ts';
import type { OsUser } from '../os-user.ts';
import type { AgentPaths } from '../paths.ts';
import { serverConninfo } from './conninfo.ts';

/** synchronous_standby_names of a new primary in synchronous mode: no standby has this name,
 * so it acknowledges nothing until the controller records and applies a real standby. */
export const PENDING_SYNC_STANDBY = 'pgwarden_pending_sync';

/** Settings that streaming replication and pg_rewind need; later settings override them. */
const REPLICATION_DEFAULTS: Record<string, string | number | boolean> = {
  wal_level: 'replica',
  hot_standby: 'on',
  wal_log_hints: 'on',
  max_wal_senders: 10,
  max_replication_slots: 10,
  wal_keep_size: '256MB',
  hot_standby_feedback: 'on',
  max_connections: 100,
  // A replica retries its upstream every second, not every 5 s: it follows a new primary sooner.
  wal_retrieve_retry_interval: '1s',
};

export interface ManagedSettings {
  readonly upstream?: { host: string; port: number; slot?: string };
  readonly syncStandbys: readonly string[];
  /**
   * A replica's lower bounds from its control file: what the primary ran with when the WAL it
   * replays was written (Patroni does the same). Below them PostgreSQL refuses to recover.
   */
  readonly hotStandbyFloor?: Readonly<Record<string, number>>;
}

function quote(value: string | number | boolean): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** `FIRST k ("a","b")` with k = all listed, so every acknowledged commit is on every one. */
export function syncStandbyNames(standbys: readonly string[]): string {
  if (standbys.length === 0) return '';
  if (standbys.includes('*')) return '*';
  return `FIRST ${standbys.length} (${standbys.map((s) => `"${s}"`).join(', ')})`;
}

export function parseSyncStandbyNames(value: string): string[] {
  const text = value.trim();
  if (text === '') return [];
  if (text === '*') return ['*'];
  const inner = /^(?:(?:FIRST|ANY)\s+\d+\s*)?\(?(.*?)\)?$/i.exec(text)?.[1] ?? text;
  return inner
    .split(',')
    .map((s) => s.trim().replace(/^"(.*)"$/, '$1'))
    .filter(Boolean);
}

export function slotName(member: string): string {
  return `pgwarden_${member.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
}

/** The file the agent owns: listen address, replication settings, upstream, sync standbys. */
export function renderManagedConf(
  config: AgentConfig,
  cluster: ClusterConfig,
  paths: AgentPaths,
  settings: ManagedSettings,
): string {
  const listen = splitHostPort(config.postgresql.listen);
  // The agent's socket first (it connects there); a socket directory the config names stays too.
  const sockets = [paths.socketDir, config.postgresql.parameters.unix_socket_directories]
    .filter((d): d is string => typeof d === 'string' && d !== '')
    .join(', ');
  const values: Record<string, string | number | boolean> = {
    ...REPLICATION_DEFAULTS,
    ...cluster.postgresql.parameters,
    ...config.postgresql.parameters,
    listen_addresses: listen.host.replace(/\s+/g, ''),
    port: listen.port,
    unix_socket_directories: sockets,
    cluster_name: config.name,
    hba_file: paths.hbaFile,
    recovery_target_timeline: 'latest',
    synchronous_standby_names: syncStandbyNames(settings.syncStandbys),
  };
  for (const [name, floor] of Object.entries(settings.hotStandbyFloor ?? {})) {
    const configured = Number(values[name]);
    if (!Number.isFinite(configured) || configured < floor) values[name] = floor;
  }
  if (settings.upstream) {
    values.primary_conninfo = serverConninfo(
      settings.upstream,
      config.postgresql.authentication.replication,
      {
        passfile: paths.pgpass,
        application_name: config.name,
        connect_timeout: 3,
      },
    );
    values.primary_slot_name = settings.upstream.slot ?? '';
  } else {
    values.primary_conninfo = '';
    values.primary_slot_name = '';
  }
  const lines = Object.entries(values).map(([k, v]) => `${k} = ${quote(v)}`);
  return `# Managed by pgwarden-agent: rewritten before every start and reload. Do not edit.\n${lines.join('\n')}\n`;
}

/** Whether the server takes TLS connections (`ssl` on in the parameters). */
function serverSsl(config: AgentConfig, cluster?: ClusterConfig): boolean {
  const value = config.postgresql.parameters.ssl ?? cluster?.postgresql.parameters.ssl;
  return value === true || value === 'on' || value === 'true' || value === 1;
}

/**
 * pg_hba.conf: the config's `pg_hba` lines first (first match wins), then pgwarden's: anyone on
 * the local socket; over the network only with a password, only over TLS when the server has it
 * (plain text then matches no line), and never as the superuser when a rewind role exists (the
 * superuser is then needed over the network by nothing pgwarden runs).
 */
export function renderHba(config: AgentConfig, cluster?: ClusterConfig): string {
  const { superuser, replication, rewind } = config.postgresql.authentication;
  const method = superuser.password ? 'scram-sha-256' : 'trust';
  const host = serverSsl(config, cluster) ? 'hostssl' : 'host   ';
  const both = (line: (net: string) => string) => [line('0.0.0.0/0'), line('::/0       ')];
  return [
    '# Managed by pgwarden-agent. Extra lines come from postgresql.pg_hba in the agent config.',
    'local   all          all                    trust',
    ...(config.postgresql.pg_hba.length > 0 ? config.postgresql.pg_hba : (cluster?.postgresql.pg_hba ?? [])),
    ...(rewind ? both((net) => `host    all          ${superuser.username}     ${net}   reject`) : []),
    ...both((net) => `${host} replication  ${replication.username}   ${net}   ${method}`),
    ...both((net) => `${host} all          all       ${net}   ${method}`),
    '',
  ].join('\n');
}

export async function writeOwned(
  path: string,
  text: string,
  user: OsUser | undefined,
  mode = 0o600,
): Promise<void> {
  await writeFile(path, text, { mode });
  if (user) await chown(path, user.uid, user.gid);
}

/** The socket directories `unix_socket_directories` names (relative ones under the data directory). */
function configuredSocketDirectories(config: AgentConfig, paths: AgentPaths): string[] {
  const value = config.postgresql.parameters.unix_socket_directories;
  if (typeof value !== 'string') return [];
  return value
    .split(',')
    .map((d) => d.trim())
    .filter(Boolean)
    .map((dir) => (isAbsolute(dir) ? dir : resolve(paths.dataDir, dir)));
}

/** Where the server's socket may be: the agent's own directory, then the configured ones. */
export function socketDirectories(config: AgentConfig, paths: AgentPaths): string[] {
  return [...new Set([paths.socketDir, ...configuredSocketDirectories(config, paths)])];
}

/**
 * Socket directories the config names besides the agent's own (Patroni users set
 * unix_socket_directories): made when missing, as PostgreSQL refuses to start without them.
 */
async function ensureSocketDirectories(
  config: AgentConfig,
  paths: AgentPaths,
  user: OsUser | undefined,
): Promise<void> {
  for (const path of configuredSocketDirectories(config, paths)) {
    if (existsSync(path)) continue;
    await mkdir(path, { recursive: true, mode: 0o755 });
    if (user) await chown(path, user.uid, user.gid);
  }
}

/** Settings pgwarden owns that postgresql.auto.conf would override (it is read last). */
const OWNED_IN_AUTO_CONF = ['primary_conninfo', 'primary_slot_name'];

/**
 * postgresql.auto.conf without the upstream settings pgwarden manages: `pg_basebackup -R` (a
 * replica made by hand, or by Patroni) and ALTER SYSTEM leave them there, and they would win
 * over pgwarden.conf. Returns the lines removed.
 */
async function releaseAutoConf(paths: AgentPaths, user: OsUser | undefined): Promise<string[]> {
  const path = join(paths.dataDir, 'postgresql.auto.conf');
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return [];
  const owned = (line: string) => OWNED_IN_AUTO_CONF.some((k) => new RegExp(`^\\s*${k}\\s*=`).test(line));
  const removed = text.split('\n').filter(owned);
  if (removed.length === 0) return [];
  await writeOwned(
    path,
    text
      .split('\n')
      .filter((l) => !owned(l))
      .join('\n'),
    user,
  );
  return removed;
}

/** Writes pgwarden.conf, pg_hba.conf and makes postgresql.conf include pgwarden.conf last. */
export async function writePgConfig(
  config: AgentConfig,
  cluster: ClusterConfig,
  paths: AgentPaths,
  user: OsUser | undefined,
  settings: ManagedSettings,
): Promise<void> {
  await ensureSocketDirectories(config, paths, user);
  await releaseAutoConf(paths, user);
  await writeOwned(paths.managedConf, renderManagedConf(config, cluster, paths, settings), user);
  await writeOwned(paths.hbaFile, renderHba(config, cluster), user);
  const main = await readFile(paths.postgresqlConf, 'utf8').catch(() => '');
  if (!/^include_if_exists = 'pgwarden.conf'/m.test(main)) {
    await appendFile(
      paths.postgresqlConf,
      "\n# pgwarden: keep this line last\ninclude_if_exists = 'pgwarden.conf'\n",
    );
    if (user) await chown(paths.postgresqlConf, user.uid, user.gid);
  }
}

/** The password file for replication and rewind connections (0600, owned by the PostgreSQL user). */
export async function writePgpass(
  config: AgentConfig,
  paths: AgentPaths,
  user: OsUser | undefined,
): Promise<void> {
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
  const { superuser, replication, rewind } = config.postgresql.authentication;
  const lines = [replication, superuser, ...(rewind ? [rewind] : [])]
    .filter((c) => c.password)
    .map((c) => `*:*:*:${esc(c.username)}:${esc(c.password!)}`);
  await writeOwned(paths.pgpass, `${lines.join('\n')}\n`, user);
}

export async function setStandbySignal(
  paths: AgentPaths,
  user: OsUser | undefined,
  present: boolean,
): Promise<void> {
  if (present) await writeOwned(paths.standbySignal, '', user);
  else await rm(paths.standbySignal, { force: true });
}
