import { runCallback } from '../callbacks.ts';
import { ActionRefusedError } from '../errors.ts';
import { setStandbySignal } from '../postgres/pg-conf.ts';
import { writeLocalState } from '../state/local-state.ts';
import type { ActionHandler } from './action-context.ts';

/**
 * Makes sure PostgreSQL here accepts no writes: fast shutdown at once, immediate after
 * primary_stop_timeout, standby.signal left behind. Works without the daemon. Refuses only a
 * stale request: this member became primary again at a higher term since.
 */
export const fence: ActionHandler = async (ctx) => {
  const { rt, args, cluster, local } = ctx;
  if (local?.want === 'primary' && local.term > args.term) {
    throw new ActionRefusedError(
      'fence',
      `stale request: this member is primary at term ${local.term} > ${args.term}`,
    );
  }
  const wasRunning = (await rt.postgres.postmasterPid()) !== undefined;
  await rt.postgres.beginFastShutdown();
  await writeLocalState(rt.paths.localState, {
    want: 'stopped',
    stopped_reason: 'fenced',
    term: Math.max(local?.term ?? 0, args.term),
    sync_standbys: [],
    updated_by: 'action:fence',
  });
  await setStandbySignal(rt.paths, rt.user, true);
  await rt.postgres.stop(cluster.primary_stop_timeout * 1000);
  if (await rt.postgres.postmasterPid())
    throw new ActionRefusedError('fence', 'PostgreSQL is still running after an immediate stop');
  if (wasRunning) runCallback(rt, 'on_stop', 'primary');
  return {
    changed: wasRunning,
    message: wasRunning ? 'PostgreSQL stopped; fenced' : 'PostgreSQL was not running; fenced',
  };
};
