import pg from 'pg';
import type { ClusterConfig } from '../../core/config/cluster-config.ts';
import type { AgentRuntime } from '../runtime.ts';
import { clientSsl, rewindCredentials } from './conninfo.ts';
import { type ManagedSettings, setStandbySignal, slotName, writePgConfig, writePgpass } from './pg-conf.ts';

export interface UpstreamEndpoint {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

/** Writes the config for a replica of `upstream` (standby.signal on) and starts PostgreSQL. */
/** The managed settings of a replica streaming from `upstream` (through its slot when use_slots). */
export function replicaSettings(
  rt: AgentRuntime,
  cluster: ClusterConfig,
  upstream: UpstreamEndpoint | undefined,
): ManagedSettings {
  if (!upstream) return { syncStandbys: [] };
  const slot = cluster.postgresql.use_slots ? { slot: slotName(rt.config.name) } : {};
  return { upstream: { host: upstream.host, port: upstream.port, ...slot }, syncStandbys: [] };
}

export async function startAsReplica(
  rt: AgentRuntime,
  cluster: ClusterConfig,
  upstream: UpstreamEndpoint | undefined,
): Promise<void> {
  await writePgpass(rt.config, rt.paths, rt.user);
  const hotStandbyFloor = (await rt.postgres.controlData().catch(() => undefined))?.hotStandbyFloor;
  await writePgConfig(rt.config, cluster, rt.paths, rt.user, {
    ...replicaSettings(rt, cluster, upstream),
    ...(hotStandbyFloor ? { hotStandbyFloor } : {}),
  });
  await setStandbySignal(rt.paths, rt.user, true);
  await rt.postgres.start(rt.config.postgresql.start_timeout * 1000, { wait: false });
  if (upstream) void checkpointUpstream(rt, upstream);
}

/**
 * Asks the upstream, when it is a primary, for a CHECKPOINT: a starting standby opens for reads
 * only after it replays a running-transactions record (an idle primary writes one every 15 s, or
 * at a checkpoint), and pg_rewind reads the source's timeline from its last checkpoint. Says
 * whether the upstream answered, an error of its own included (undefined: not known, the TLS
 * files could not be read).
 */
export async function checkpointUpstream(
  rt: AgentRuntime,
  upstream: UpstreamEndpoint,
): Promise<boolean | undefined> {
  return onUpstream(rt, upstream, 'ask the upstream for a checkpoint', async (client) => {
    const [row] = (await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows;
    if (row && !row.r) await client.query('CHECKPOINT');
  });
}

/**
 * Waits, up to `timeoutMs`, until the upstream has this member's replication slot: a standby
 * re-pointed to a member that is still a replica (a switchover's candidate, which makes the
 * members' slots just before its promotion) would otherwise fail its first attempt and retry
 * only after wal_retrieve_retry_interval. True when the slot is there.
 */
export async function waitForUpstreamSlot(
  rt: AgentRuntime,
  upstream: UpstreamEndpoint,
  timeoutMs: number,
): Promise<boolean> {
  let found = false;
  await onUpstream(rt, upstream, 'look for the slot on the upstream', async (client) => {
    const deadline = Date.now() + timeoutMs;
    const slot = slotName(rt.config.name);
    do {
      const { rows } = await client.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]);
      found = rows.length > 0;
      if (!found) await new Promise((r) => setTimeout(r, 50));
    } while (!found && Date.now() < deadline);
  });
  return found;
}

/**
 * Runs `work` in a session on the upstream as the rewind role (over TLS when configured).
 * Returns whether the upstream answered, an error of its own included (undefined: not known,
 * the TLS files could not be read).
 */
async function onUpstream(
  rt: AgentRuntime,
  upstream: UpstreamEndpoint,
  what: string,
  work: (client: pg.Client) => Promise<void>,
): Promise<boolean | undefined> {
  const role = rewindCredentials(rt.config.postgresql.authentication);
  let ssl: ReturnType<typeof clientSsl>;
  try {
    ssl = clientSsl(role);
  } catch (error) {
    rt.logger.warn(`cannot read the TLS files to ${what}`, { error: (error as Error).message });
    return undefined;
  }
  const client = new pg.Client({
    host: upstream.host,
    port: upstream.port,
    user: role.username,
    ...(role.password ? { password: role.password } : {}),
    ssl,
    database: 'postgres',
    connectionTimeoutMillis: 2000,
    query_timeout: 10_000,
  });
  // A server going away mid-session is reported as an 'error' event: expected here, not fatal.
  client.on('error', () => {});
  try {
    await client.connect();
    await work(client);
    return true;
  } catch (error) {
    rt.logger.debug(`could not ${what}`, { error: (error as Error).message });
    // An error of the server's own (a login refused, a role without the right) is an answer.
    return error instanceof pg.DatabaseError;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Starts PostgreSQL as a primary. The caller must hold the lease at the expected term
 * (checked just before calling): this function does not look.
 */
export async function startAsPrimary(
  rt: AgentRuntime,
  cluster: ClusterConfig,
  syncStandbys: readonly string[],
): Promise<void> {
  await writePgpass(rt.config, rt.paths, rt.user);
  await writePgConfig(rt.config, cluster, rt.paths, rt.user, { syncStandbys });
  await setStandbySignal(rt.paths, rt.user, false);
  await rt.postgres.start(rt.config.postgresql.start_timeout * 1000);
}
