import { existsSync } from 'node:fs';
import type { ClusterConfig } from '../../core/config/cluster-config.ts';
import type { ClusterSnapshot } from '../../core/model/snapshot.ts';
import { type ManagedSettings, writePgConfig, writePgpass } from '../postgres/pg-conf.ts';
import { replicaSettings } from '../postgres/start-as.ts';
import type { AgentRuntime } from '../runtime.ts';
import { type LocalState, writeLocalState } from '../state/local-state.ts';
import { type BootstrapHooks, initializeCluster, prepareDirectories } from './bootstrap.ts';
import { memberEndpoint } from './build-member.ts';

/** The data directory holds another cluster than the one this scope is: never touched. */
export class AdoptionRefusedError extends Error {}

/**
 * A PostgreSQL that runs outside the agent (started by Patroni, by hand, or by a unit of its own)
 * is given the agent's settings and pg_hba.conf with a reload (a signal: no login needed, and the
 * new pg_hba lets the agent in on the local socket). Reached then on its socket (the directory
 * its postmaster.pid names, or one the config names), it is taken over without a restart
 * (settings that need one wait, shown as pending restart). Still out of reach (its hba_file lies
 * outside the data directory: a restart-only setting), it is stopped cleanly for the agent to
 * start with its settings: the one restart an adoption then costs.
 */
async function takeOverRunningPostgres(
  rt: AgentRuntime,
  cluster: ClusterConfig,
  settings: ManagedSettings,
): Promise<void> {
  if ((await rt.postgres.postmasterPid()) === undefined) return;
  await writePgConfig(rt.config, cluster, rt.paths, rt.user, settings);
  await rt.postgres.reload();
  // The postmaster reloads asynchronously; give it a moment before the first login.
  let seen = await rt.observer.observe(Date.now());
  for (let i = 0; i < 10 && !seen.reachable; i += 1) {
    await new Promise((r) => setTimeout(r, 200));
    seen = await rt.observer.observe(Date.now());
  }
  if (seen.reachable) {
    rt.logger.info('took over the running PostgreSQL without a restart (its settings reloaded)', {
      pendingRestart: Object.keys(seen.pendingRestartReason ?? {}),
    });
    return;
  }
  rt.logger.warn(
    'PostgreSQL runs outside the agent and does not let it in on its socket after a reload (an hba_file of its own?): stopping it cleanly to start it with the agent (one restart)',
  );
  await rt.postgres.stop(60_000);
}

/**
 * Data but no state file. A data directory of another system than the cluster's is refused and
 * left untouched. For a scope nobody initialized yet (a running cluster being adopted, DESIGN §5
 * and docs/operations.md): a primary's data claims `initialize` with its own system identifier
 * and takes the lease at term 1 without initdb; a standby's waits for that, then follows the
 * leader without a base backup. Otherwise (a lost state directory): primary only if the lease
 * already names this member, a standby follows the leader, anything else stays stopped for the
 * controller's rejoin. Returns undefined while there is nothing to do yet.
 */
export async function adoptExistingData(
  rt: AgentRuntime,
  snapshot: ClusterSnapshot | undefined,
  cluster: ClusterConfig,
  hooks: BootstrapHooks,
): Promise<LocalState | undefined> {
  const control = await rt.postgres.controlData();
  const standby = existsSync(rt.paths.standbySignal) || /recovery/.test(control.state);
  const init = snapshot?.initialize;
  if (init?.system_identifier && init.system_identifier !== control.systemIdentifier) {
    throw new AdoptionRefusedError(
      `${rt.paths.dataDir} holds database system ${control.systemIdentifier}, but cluster ${rt.config.scope} is system ${init.system_identifier}: not adopting it (nothing was changed; point postgresql.data_dir elsewhere or empty it to clone)`,
    );
  }
  if (!init) {
    if (standby) {
      rt.logger.info('a standby data directory: waiting for the primary to adopt the cluster');
      return undefined;
    }
    await prepareDirectories(rt);
    await writePgpass(rt.config, rt.paths, rt.user);
    await takeOverRunningPostgres(rt, cluster, { syncStandbys: [] });
    const won = await rt.store.claimInitialize(rt.config.scope, {
      by: rt.config.name,
      at: hooks.wallClock(),
      adopted: true,
    });
    if (!won) return undefined;
    rt.logger.info('adopting the existing cluster as its primary', {
      systemIdentifier: control.systemIdentifier,
      timeline: control.timeline,
    });
    return initializeCluster(rt, cluster, hooks, undefined, { timeline: control.timeline });
  }
  const leader = snapshot?.leader;
  const holds = leader?.holder === rt.config.name && !leader.released;
  if (!init.system_identifier || !leader) {
    rt.logger.info('the cluster is being initialized by another member: waiting', { by: init.by });
    return undefined;
  }
  if (standby && !holds) {
    await prepareDirectories(rt);
    await writePgpass(rt.config, rt.paths, rt.user);
    const leaderMember = snapshot.members.find((m) => m.name === leader.holder);
    await takeOverRunningPostgres(rt, cluster, {
      ...replicaSettings(
        rt,
        cluster,
        leaderMember && { name: leaderMember.name, ...memberEndpoint(leaderMember) },
      ),
      hotStandbyFloor: control.hotStandbyFloor,
    });
    rt.logger.info('adopting a standby data directory: it follows the leader, no base backup', {
      leader: leader.holder,
    });
    return writeLocalState(rt.paths.localState, {
      want: 'replica',
      term: leader.term,
      upstream: leader.holder,
      sync_standbys: [],
      updated_by: 'agent:adopt',
    });
  }
  rt.logger.warn('no local state file: adopting the existing data directory', { primary: holds });
  return writeLocalState(rt.paths.localState, {
    want: holds ? 'primary' : 'stopped',
    ...(holds ? {} : { stopped_reason: 'fenced' as const }),
    term: leader.term,
    sync_standbys: [],
    updated_by: 'agent:adopt',
  });
}
