import type { ClusterConfig } from '../../core/config/cluster-config.ts';
import { runCallback } from '../callbacks.ts';
import { setStandbySignal } from '../postgres/pg-conf.ts';
import type { AgentRuntime } from '../runtime.ts';
import { type LocalState, writeLocalState } from '../state/local-state.ts';

/**
 * Self-fencing (DESIGN §3): the caller has already stopped relying on the lease (/primary
 * answers 503 from the decision); PostgreSQL stops and stays a standby until told otherwise.
 * Returns the local state written.
 */
export async function fenceMyself(
  rt: AgentRuntime,
  cluster: ClusterConfig,
  why: string,
  local: LocalState | undefined,
): Promise<LocalState> {
  rt.logger.error('fencing myself', { reason: why, term: local?.term });
  await rt.postgres.beginFastShutdown();
  const fenced = await writeLocalState(rt.paths.localState, {
    want: 'stopped',
    stopped_reason: 'fenced',
    term: local?.term ?? 0,
    sync_standbys: [],
    updated_by: 'agent:self-fence',
  });
  await setStandbySignal(rt.paths, rt.user, true);
  // Patroni: a stop says on_stop, the demotion on_role_change.
  if (await rt.postgres.stop(cluster.primary_stop_timeout * 1000)) runCallback(rt, 'on_stop', 'primary');
  runCallback(rt, 'on_role_change', 'demoted');
  return fenced;
}

/** Gives the lease up after fencing, so that failover need not wait a ttl; best effort. */
export async function releaseLease(rt: AgentRuntime, term: number): Promise<void> {
  try {
    await rt.store.releaseLease(rt.config.scope, { holder: rt.config.name, term });
    rt.logger.warn('released the lease', { term });
  } catch (error) {
    rt.logger.warn('could not release the lease (it will expire)', { error: (error as Error).message });
  }
}
