import type { ClusterConfig } from '../../core/config/cluster-config.ts';
import { parseLsn } from '../../core/format.ts';
import type { ClusterSnapshot } from '../../core/model/snapshot.ts';
import { ensureOwnedDir } from '../os-user.ts';
import { writePgpass } from '../postgres/pg-conf.ts';
import { startAsPrimary, startAsReplica } from '../postgres/start-as.ts';
import type { AgentRuntime } from '../runtime.ts';
import { type LocalState, writeLocalState } from '../state/local-state.ts';
import { memberEndpoint } from './build-member.ts';

export interface BootstrapHooks {
  renewInitialLease(term: number, position: { lsn: number; timeline: number }): Promise<unknown>;
  wallClock(): number;
}

/** Prepares the data and state directories for the PostgreSQL user. */
export async function prepareDirectories(rt: AgentRuntime): Promise<void> {
  await ensureOwnedDir(rt.paths.stateDir, rt.user);
  await ensureOwnedDir(rt.paths.dataDir, rt.user);
}

async function createRoles(rt: AgentRuntime): Promise<void> {
  const { superuser, replication } = rt.config.postgresql.authentication;
  const run = async (sql: string, params: string[]) => {
    const [row] = await rt.observer.query<{ stmt: string }>(`SELECT ${sql} AS stmt`, params);
    await rt.observer.query(row!.stmt);
  };
  if (superuser.password) {
    await run("format('ALTER ROLE %I WITH PASSWORD %L', $1::text, $2::text)", [
      superuser.username,
      superuser.password,
    ]);
  }
  await run("format('CREATE ROLE %I WITH REPLICATION LOGIN PASSWORD %L', $1::text, $2::text)", [
    replication.username,
    replication.password ?? '',
  ]);
}

/** The first member: initdb, start, roles, then the lease at term 1 and the cluster's records. */
async function initializeCluster(
  rt: AgentRuntime,
  cluster: ClusterConfig,
  hooks: BootstrapHooks,
): Promise<LocalState> {
  const { config, store, postgres } = rt;
  rt.logger.info('won the initialize race: running initdb');
  const initdbArgs = config.bootstrap.initdb.flatMap((o) =>
    typeof o === 'string' ? [`--${o}`] : Object.entries(o).map(([k, v]) => `--${k}=${v}`),
  );
  await postgres.initdb(config.postgresql.authentication.superuser.username, initdbArgs);
  await startAsPrimary(rt, cluster, []);
  await createRoles(rt);
  const [row] = await rt.observer.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
  const control = await postgres.controlData();
  const now = hooks.wallClock();
  await store.createLeader(config.scope, {
    holder: config.name,
    ttl: cluster.ttl,
    lsn: parseLsn(row!.lsn),
    timeline: 1,
  });
  const local = await writeLocalState(rt.paths.localState, {
    want: 'primary',
    term: 1,
    sync_standbys: [],
    updated_by: 'agent:bootstrap',
  });
  await hooks.renewInitialLease(1, { lsn: parseLsn(row!.lsn), timeline: 1 });
  await store.registerCluster(config.scope, config.name, now);
  if (config.bootstrap.dcs) {
    await store.putConfig(config.scope, config.bootstrap.dcs, 0, config.name, now).catch(() => undefined);
  }
  await store.completeInitialize(config.scope, config.name, control.systemIdentifier);
  await store.appendHistory(config.scope, {
    term: 1,
    kind: 'bootstrap',
    new: config.name,
    reason: `${config.name} initialized the cluster`,
    rule: 0,
    at: now,
    timings: {},
  });
  return local;
}

/**
 * An empty data directory (DESIGN §5): the member that wins the `initialize` conditional put
 * runs initdb and takes the lease at term 1; the others clone the primary (or a `clonefrom`
 * replica) with pg_basebackup and stream from the primary. Returns undefined while there is
 * nothing to clone yet (call again next cycle).
 */
export async function bootstrapMember(
  rt: AgentRuntime,
  snapshot: ClusterSnapshot | undefined,
  cluster: ClusterConfig,
  hooks: BootstrapHooks,
): Promise<LocalState | undefined> {
  const { config, store } = rt;
  await prepareDirectories(rt);
  await writePgpass(config, rt.paths, rt.user);
  if (!snapshot?.initialize) {
    const won = await store.claimInitialize(config.scope, { by: config.name, at: hooks.wallClock() });
    if (won) return initializeCluster(rt, cluster, hooks);
  }
  const leader = snapshot?.leader;
  const primary = snapshot?.members.find(
    (m) => m.name === leader?.holder && m.role === 'primary' && m.state === 'running',
  );
  if (!leader || !primary) {
    rt.logger.info('waiting for a running primary to clone from', { leader: leader?.holder });
    return undefined;
  }
  const source =
    snapshot.members.find(
      (m) => m.tags.clonefrom && m.role === 'replica' && m.state === 'running' && m.name !== config.name,
    ) ?? primary;
  rt.logger.info('cloning with pg_basebackup', { source: source.name });
  await rt.postgres.baseBackup(
    memberEndpoint(source),
    config.postgresql.authentication.replication.username,
    3_600_000,
  );
  const upstreamName = config.tags.replicatefrom ?? primary.name;
  const upstream = snapshot.members.find((m) => m.name === upstreamName) ?? primary;
  await startAsReplica(rt, cluster, { name: upstream.name, ...memberEndpoint(upstream) });
  return writeLocalState(rt.paths.localState, {
    want: 'replica',
    term: leader.term,
    upstream: upstream.name,
    sync_standbys: [],
    updated_by: 'agent:bootstrap',
  });
}
