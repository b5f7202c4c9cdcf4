import type { ClusterConfig } from '../../core/config/cluster-config.ts';
import { replicaMethodsToTry } from '../../core/config/create-methods.ts';
import { splitHostPort } from '../../core/config/units.ts';
import { parseLsn } from '../../core/format.ts';
import type { ClusterSnapshot } from '../../core/model/snapshot.ts';
import { runCallback } from '../callbacks.ts';
import { runUserCommand } from '../command-line.ts';
import { ensureOwnedDir } from '../os-user.ts';
import { cloneMember, createReplica } from '../postgres/create-replica.ts';
import { writePgpass } from '../postgres/pg-conf.ts';
import { startAsPrimary, startAsReplica } from '../postgres/start-as.ts';
import type { AgentRuntime } from '../runtime.ts';
import { type LocalState, writeLocalState } from '../state/local-state.ts';
import { bootstrapMethodInterrupted, runBootstrapMethod, startRestoredPrimary } from './bootstrap-method.ts';
import { memberEndpoint } from './build-member.ts';

export interface BootstrapHooks {
  renewInitialLease(
    term: number,
    position: { lsn: number; timeline: number },
  ): Promise<'renewed' | 'lost' | 'error'>;
  wallClock(): number;
}

/** Prepares the data and state directories for the PostgreSQL user. */
export async function prepareDirectories(rt: AgentRuntime): Promise<void> {
  await ensureOwnedDir(rt.paths.stateDir, rt.user, 'state_dir');
  await ensureOwnedDir(rt.paths.dataDir, rt.user, 'postgresql.data_dir');
}

/** Sets the superuser's password and creates (or updates) the replication role: safe to repeat. */
async function createRoles(rt: AgentRuntime): Promise<void> {
  const { superuser, replication, rewind } = rt.config.postgresql.authentication;
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
  const upsert = (attributes: string) =>
    `format(CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1::text)
       THEN 'ALTER ROLE %I WITH ${attributes} PASSWORD %L'
       ELSE 'CREATE ROLE %I WITH ${attributes} PASSWORD %L' END, $1::text, $2::text)`;
  await run(upsert('REPLICATION LOGIN'), [replication.username, replication.password ?? '']);
  if (rewind) {
    // What pg_rewind reads on its source (as Patroni grants it), and CHECKPOINT (pg_checkpoint,
    // PostgreSQL 15+) that a starting replica asks its upstream for.
    await run(upsert('LOGIN'), [rewind.username, rewind.password ?? '']);
    for (const fn of [
      'pg_ls_dir(text, boolean, boolean)',
      'pg_stat_file(text, boolean)',
      'pg_read_binary_file(text)',
      'pg_read_binary_file(text, bigint, bigint, boolean)',
    ]) {
      await run(`format('GRANT EXECUTE ON FUNCTION pg_catalog.${fn} TO %I', $1::text)`, [rewind.username]);
    }
    await run("format('GRANT pg_checkpoint TO %I', $1::text)", [rewind.username]);
  }
}

/**
 * Patroni's `post_bootstrap` (or `post_init`): the user's command with a connection URL for the
 * superuser over the local socket, PGPASSFILE set, as the PostgreSQL user. A failure stops the
 * initialization (it is resumed, and the command run again, on the agent's next attempt).
 */
async function runPostBootstrap(rt: AgentRuntime): Promise<void> {
  const key = rt.config.bootstrap.post_bootstrap ? 'bootstrap.post_bootstrap' : 'bootstrap.post_init';
  const command = rt.config.bootstrap.post_bootstrap ?? rt.config.bootstrap.post_init;
  if (!command) return;
  const { superuser } = rt.config.postgresql.authentication;
  const port = splitHostPort(rt.config.postgresql.listen).port;
  const url = `postgresql://${encodeURIComponent(superuser.username)}@${encodeURIComponent(rt.paths.socketDir)}:${port}/postgres`;
  rt.logger.info('running post_bootstrap', { command });
  await runUserCommand(rt.user, {
    key,
    command,
    args: [url],
    env: { PGPASSFILE: rt.paths.pgpass },
    timeoutMs: 600_000,
  });
}

/**
 * This member claimed `initialize` and has not finished it (its first start failed, or the agent
 * died part-way): it must resume, or the cluster stays without a primary. Resuming is safe while
 * no one can have been promoted: there is no leader item yet (the controller waits for one), or
 * it still names this member at term 1 (a take-over would have raised the term).
 */
export function initializationPending(snapshot: ClusterSnapshot | undefined, name: string): boolean {
  const init = snapshot?.initialize;
  if (init?.by !== name || init.system_identifier) return false;
  const leader = snapshot?.leader;
  return !leader || (leader.holder === name && leader.term === 1 && !leader.released);
}

/**
 * The first member: initdb, start, roles, then the lease at term 1 and the cluster's records.
 * Every step can be repeated, so a member whose initialization stopped part-way resumes it
 * (`initializationPending`): initdb only into an empty directory (or over an interrupted initdb
 * while no leader item exists), PostgreSQL started only when not running and, once a leader item
 * exists, only after renewing it at term 1.
 */
export async function initializeCluster(
  rt: AgentRuntime,
  cluster: ClusterConfig,
  hooks: BootstrapHooks,
  snapshot: ClusterSnapshot | undefined,
  /** An existing cluster adopted in place: no initdb, no post_bootstrap, its own timeline. */
  adopted?: { timeline: number },
): Promise<LocalState> {
  const { config, store, postgres } = rt;
  const leader = snapshot?.leader;
  const restore = !adopted && config.bootstrap.method_section !== undefined;
  if (await needsNewData(rt, leader !== undefined)) {
    if (restore) await runBootstrapMethod(rt);
    else {
      rt.logger.info('running initdb');
      const initdbArgs = config.bootstrap.initdb.flatMap((o) =>
        typeof o === 'string' ? [`--${o}`] : Object.entries(o).map(([k, v]) => `--${k}=${v}`),
      );
      await postgres.wipeDataDir();
      await postgres.initdb(config.postgresql.authentication.superuser.username, initdbArgs);
    }
  }
  if (leader) {
    const renewed = await hooks.renewInitialLease(1, { lsn: leader.lsn, timeline: leader.timeline ?? 1 });
    if (renewed !== 'renewed') {
      throw new Error(`cannot resume the initialization: renewing the lease at term 1 gave '${renewed}'`);
    }
  }
  if (restore) {
    // Also when resuming: a restored server may still be in recovery.
    const started = (await postgres.postmasterPid()) === undefined;
    await startRestoredPrimary(rt, cluster);
    if (started) runCallback(rt, 'on_start', 'primary');
  } else if ((await postgres.postmasterPid()) === undefined) {
    await startAsPrimary(rt, cluster, []);
    runCallback(rt, 'on_start', 'primary');
  }
  await createRoles(rt);
  if (!adopted) await runPostBootstrap(rt);
  const seen = await rt.observer.observe(Date.now());
  const [row] = await rt.observer.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
  // A restore promoted itself onto a new timeline; initdb starts on 1; an adopted cluster has its own.
  const position = { lsn: parseLsn(row!.lsn), timeline: adopted?.timeline ?? seen.timeline ?? 1 };
  const control = await postgres.controlData();
  const now = hooks.wallClock();
  if (!leader) await store.createLeader(config.scope, { holder: config.name, ttl: cluster.ttl, ...position });
  const local = await writeLocalState(rt.paths.localState, {
    want: 'primary',
    term: 1,
    sync_standbys: [],
    updated_by: 'agent:bootstrap',
  });
  await hooks.renewInitialLease(1, position);
  // Best effort: on AWS the stack names the clusters to the controller and hosts may not write the
  // shared registry partition; elsewhere (local, a hand-made setup) this is how it learns of it.
  await store.registerCluster(config.scope, config.name, now).catch((error: Error) =>
    rt.logger.info('cluster not added to the registry (the stack may name it to the controller)', {
      error: error.message,
    }),
  );
  if (config.bootstrap.dcs && !snapshot?.config) {
    await store.putConfig(config.scope, config.bootstrap.dcs, 0, config.name, now).catch(() => undefined);
  }
  if (!snapshot?.history.some((h) => h.kind === 'bootstrap')) {
    await store.appendHistory(config.scope, {
      term: 1,
      kind: 'bootstrap',
      new: config.name,
      reason: adopted
        ? `${config.name} adopted the running cluster (timeline ${adopted.timeline})`
        : restore
          ? `${config.name} initialized the cluster with bootstrap.method ${config.bootstrap.method} (timeline ${position.timeline})`
          : `${config.name} initialized the cluster`,
      rule: 0,
      at: now,
      timings: {},
    });
  }
  await store.completeInitialize(config.scope, config.name, control.systemIdentifier);
  return local;
}

/**
 * initdb (or the bootstrap method) is needed for an empty data directory, and for one an
 * interrupted initdb or restore left (no control file, or the restore's marker), which may be
 * wiped only while no leader item exists (nothing was ever served).
 */
async function needsNewData(rt: AgentRuntime, leaderExists: boolean): Promise<boolean> {
  if (!leaderExists && bootstrapMethodInterrupted(rt)) {
    rt.logger.warn('the data directory holds an interrupted bootstrap.method: running it again');
    return true;
  }
  const empty = await rt.postgres.isDataDirEmpty();
  if (leaderExists) {
    if (empty) {
      throw new Error(
        `cannot resume the initialization: ${rt.paths.dataDir} is empty but the leader item exists (a new initdb would start a different cluster)`,
      );
    }
    return false;
  }
  if (empty) return true;
  const readable = await rt.postgres.controlData().then(
    () => true,
    () => false,
  );
  if (!readable) rt.logger.warn('the data directory holds an interrupted initdb: starting it again');
  return !readable;
}

/**
 * An empty data directory (DESIGN §5): the member that wins the `initialize` conditional put
 * runs initdb (or bootstrap.method) and takes the lease at term 1; the others make their data
 * with create_replica_methods (pg_basebackup from the primary or a `clonefrom` replica by
 * default) and stream from the primary. Returns undefined while there is nothing to clone yet
 * (call again next cycle).
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
  if (initializationPending(snapshot, config.name)) {
    rt.logger.warn('resuming the initialization this member claimed and did not finish');
    const adopted = snapshot?.initialize?.adopted
      ? { timeline: (await rt.postgres.controlData()).timeline }
      : undefined;
    return initializeCluster(rt, cluster, hooks, snapshot, adopted);
  }
  if (!snapshot?.initialize) {
    const won = await store.claimInitialize(config.scope, { by: config.name, at: hooks.wallClock() });
    if (won) {
      rt.logger.info('won the initialize race');
      return initializeCluster(rt, cluster, hooks, undefined);
    }
  }
  const leader = snapshot?.leader;
  const primary = snapshot?.members.find(
    (m) => m.name === leader?.holder && m.role === 'primary' && m.state === 'running',
  );
  const sections = config.postgresql.replica_method_sections;
  const withoutServer = replicaMethodsToTry(config.postgresql.create_replica_methods, sections, {
    hasSource: false,
  });
  // Patroni: with no running primary, a member may still be made by a method that needs no server
  // (a restore from a backup), once the cluster is initialized.
  if (!leader || (!primary && (withoutServer.length === 0 || !snapshot.initialize?.system_identifier))) {
    rt.logger.info('waiting for a running primary to clone from', { leader: leader?.holder });
    return undefined;
  }
  const leaderMember = snapshot.members.find((m) => m.name === leader.holder);
  const source = primary ? cloneMember(snapshot.members, config.name, primary) : undefined;
  await createReplica(rt, source && { name: source.name, ...memberEndpoint(source) });
  const upstreamName = config.tags.replicatefrom ?? leader.holder;
  const upstream = snapshot.members.find((m) => m.name === upstreamName) ?? leaderMember;
  await startAsReplica(rt, cluster, upstream && { name: upstream.name, ...memberEndpoint(upstream) });
  runCallback(rt, 'on_start', 'replica');
  return writeLocalState(rt.paths.localState, {
    want: 'replica',
    term: leader.term,
    upstream: upstream?.name ?? leader.holder,
    sync_standbys: [],
    updated_by: 'agent:bootstrap',
  });
}
