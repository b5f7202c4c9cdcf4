import { ConditionFailedError } from '../../core/errors.ts';
import { runCallback } from '../callbacks.ts';
import { ActionRefusedError, FailsafePromiseError } from '../errors.ts';
import { PENDING_SYNC_STANDBY, writePgConfig } from '../postgres/pg-conf.ts';
import { syncReplicationSlots } from '../postgres/replication-slots.ts';
import { announceRoute } from '../router/announce-route.ts';
import { writeLocalState } from '../state/local-state.ts';
import { type ActionHandler, requireLease } from './action-context.ts';

async function waitUntilPrimary(ctx: Parameters<ActionHandler>[0], timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Every write of a switchover waits on this: a light query every 20 ms, then the full look.
    const [row] = await ctx.rt.observer
      .query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')
      .catch(() => [{ r: true }]);
    if (row?.r === false) {
      const obs = await ctx.rt.observer.observe(Date.now());
      if (obs.reachable && obs.inRecovery === false) return obs;
    }
    if (Date.now() > deadline)
      throw new ActionRefusedError('promote', `PostgreSQL still in recovery after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Promotes this replica, only if the leader item names it at the given term (DESIGN §3).
 * In synchronous mode PostgreSQL first waits for the standbys the lease records, or for one
 * no one is, so nothing is acknowledged until a recorded standby has it.
 */
export const promote: ActionHandler = async (ctx) => {
  const { rt, args, cluster } = ctx;
  // A promise made in a failsafe round binds at any term, the lease's included (DESIGN §3).
  const promise = await rt.promises.inForce();
  if (promise)
    throw new FailsafePromiseError(
      promise.holder,
      promise.term,
      promise.remaining_ms,
      new Date(Date.now() + promise.remaining_ms),
    );
  const leader = await requireLease(ctx);
  let obs = await rt.observer.observe(Date.now());
  if (
    obs.reachable &&
    obs.inRecovery === false &&
    ctx.local?.want === 'primary' &&
    ctx.local.term === args.term
  ) {
    return {
      changed: false,
      message: 'already primary at this term',
      timeline: obs.timeline,
      lsn: obs.writeLsn ?? undefined,
    };
  }
  if (!obs.reachable)
    throw new ActionRefusedError('promote', `PostgreSQL is not running (${obs.error ?? 'unreachable'})`);
  // The standbys the lease records (a switchover's hand-over names them), else one no one is.
  const syncStandbys = !cluster.synchronous_mode
    ? []
    : leader.sync.length > 0
      ? [...leader.sync]
      : [PENDING_SYNC_STANDBY];
  if (obs.inRecovery) {
    // The members' slots exist from the first moment it is primary (a slot made in recovery
    // stays): a standby re-pointed to it at once streams through its slot at the first attempt
    // instead of retrying until the daemon's next cycle makes it.
    if (cluster.postgresql.use_slots)
      await syncReplicationSlots(
        rt.observer,
        rt.config.name,
        ctx.snapshot.members.map((m) => m.name),
      ).catch((error) =>
        rt.logger.warn('could not create the replication slots before promoting', {
          error: (error as Error).message,
        }),
      );
    await writePgConfig(rt.config, cluster, rt.paths, rt.user, { syncStandbys });
    await rt.postgres.reload();
    await writeLocalState(rt.paths.localState, {
      want: 'primary',
      term: args.term,
      sync_standbys: syncStandbys,
      updated_by: 'action:promote',
    });
    await rt.postgres.promote(cluster.command_timeout * 1000);
  }
  obs = await waitUntilPrimary(ctx, cluster.command_timeout * 1000);
  // The routers learn it from the promotion itself, while the checkpoint runs (issue #17).
  const announced = rt.config.router.enabled
    ? announceRoute(ctx, { kind: 'primary', member: rt.config.name, term: args.term }, 1000)
    : undefined;
  // The control file names the new timeline only after a checkpoint; pg_rewind reads it there.
  await rt.observer
    .query('CHECKPOINT')
    .catch((error) =>
      rt.logger.warn('checkpoint after promotion failed', { error: (error as Error).message }),
    );
  const routers = await announced;
  try {
    await rt.store.renewLease(rt.config.scope, {
      holder: rt.config.name,
      term: args.term,
      ttl: cluster.ttl,
      lsn: obs.writeLsn ?? leader.lsn,
      timeline: obs.timeline ?? leader.timeline ?? 1,
      timelineSwitchLsn: obs.timelineSwitchLsn ?? null,
      renewedAt: Date.now(),
    });
  } catch (error) {
    if (error instanceof ConditionFailedError) {
      await rt.postgres.beginFastShutdown();
      throw new ActionRefusedError(
        'promote',
        'the lease moved during the promotion; fenced PostgreSQL again',
      );
    }
    rt.logger.warn('first renewal after promotion failed; the daemon retries', {
      error: (error as Error).message,
    });
  }
  runCallback(rt, 'on_role_change', 'primary');
  return {
    changed: true,
    message: `promoted at term ${args.term}${routers ? `; routers told: ${routers.answered.length} of ${routers.answered.length + routers.missing.length}` : ''}`,
    timeline: obs.timeline,
    lsn: obs.writeLsn ?? undefined,
  };
};
