import { runCallback } from '../callbacks.ts';
import { ActionRefusedError } from '../errors.ts';
import { setStandbySignal } from '../postgres/pg-conf.ts';
import { announceRoute } from '../router/announce-route.ts';
import { writeLocalState } from '../state/local-state.ts';
import { type ActionHandler, requireLease } from './action-context.ts';

/**
 * Switchover, first step: stop this primary cleanly (a fast shutdown ships the shutdown
 * checkpoint to the standbys) and report the final LSN. The lease stays until the hand-over.
 */
export const demote: ActionHandler = async (ctx) => {
  const { rt, args, cluster } = ctx;
  if (
    ctx.local?.want === 'stopped' &&
    ctx.local.stopped_reason === 'demoted' &&
    ctx.local.term === args.term
  ) {
    const control = await rt.postgres.controlData();
    if (!(await rt.postgres.postmasterPid()) && control.state === 'shut down') {
      return {
        changed: false,
        message: 'already stopped cleanly',
        lsn: control.checkpointLsn,
        timeline: control.timeline,
      };
    }
  }
  await requireLease(ctx);
  await writeLocalState(rt.paths.localState, {
    want: 'stopped',
    stopped_reason: 'demoted',
    term: args.term,
    sync_standbys: [],
    updated_by: 'action:demote',
  });
  // A checkpoint while writes still flow leaves the shutdown checkpoint (writes refused) little to do.
  await rt.observer
    .query('CHECKPOINT')
    .catch((error) =>
      rt.logger.warn('checkpoint before the switchover failed', { error: (error as Error).message }),
    );
  // The routers hold new transactions and let the running ones end before the clean stop (issue #17).
  const router = rt.config.router;
  const paused = router.enabled
    ? await announceRoute(
        ctx,
        {
          kind: 'pause',
          member: rt.config.name,
          term: args.term,
          hold_ms: router.hold_timeout * 1000,
          drain_ms: router.drain_timeout * 1000,
        },
        router.drain_timeout * 1000 + 1000,
      )
    : undefined;
  await setStandbySignal(rt.paths, rt.user, true);
  const pid = await rt.postgres.postmasterPid();
  if (pid) {
    const fast = await rt.postgres.stop(cluster.command_timeout * 1000);
    if (!fast) throw new ActionRefusedError('demote', 'PostgreSQL was not running');
  }
  const control = await rt.postgres.controlData();
  if (control.state !== 'shut down') {
    throw new ActionRefusedError('demote', `PostgreSQL did not shut down cleanly (state: ${control.state})`);
  }
  runCallback(rt, 'on_stop', 'primary');
  return {
    changed: true,
    message: `stopped cleanly for a switchover${paused ? `; routers paused: ${paused.answered.length} of ${paused.answered.length + paused.missing.length}` : ''}`,
    lsn: control.checkpointLsn,
    timeline: control.timeline,
  };
};
