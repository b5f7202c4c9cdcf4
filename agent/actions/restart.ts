import { ConditionFailedError } from '../../core/errors.ts';
import { runCallback } from '../callbacks.ts';
import { ActionRefusedError } from '../errors.ts';
import { type ActionHandler, requireLease, upstreamOf } from './action-context.ts';
import { startByDaemon } from './start-by-daemon.ts';

/**
 * Restarts PostgreSQL in its role. As primary only while holding the lease at the term (this is
 * also how an aborted switchover brings the old primary back); otherwise as a replica.
 */
export const restart: ActionHandler = async (ctx) => {
  const { rt, args, cluster, local, snapshot } = ctx;
  const asPrimary = snapshot.leader?.holder === rt.config.name && snapshot.leader.term === args.term;
  if (asPrimary) {
    const leader = await requireLease(ctx);
    await rt.postgres.stop(cluster.primary_stop_timeout * 1000);
    // The lease may have expired meanwhile (a fenced holder, a rolled-back switchover): renewed
    // first, on its condition (holder and term), so PostgreSQL never accepts a write under a
    // lease that someone could take over; a lease taken meanwhile refuses the restart.
    await rt.store
      .renewLease(rt.config.scope, {
        holder: rt.config.name,
        term: args.term,
        ttl: cluster.ttl,
        lsn: leader.lsn,
        timeline: leader.timeline ?? 1,
        renewedAt: Date.now(),
      })
      .catch((error) => {
        if (error instanceof ConditionFailedError)
          throw new ActionRefusedError(
            'restart',
            `the lease moved from ${rt.config.name} at term ${args.term}`,
          );
        throw error;
      });
    const sync = local?.want === 'primary' ? local.sync_standbys : [];
    await startByDaemon(
      ctx,
      { want: 'primary', term: args.term, sync_standbys: sync, updated_by: 'action:restart' },
      rt.config.postgresql.start_timeout * 1000,
    );
    runCallback(rt, 'on_restart', 'primary');
    return { changed: true, message: `restarted as primary at term ${args.term}` };
  }
  if (local?.want === 'primary') {
    throw new ActionRefusedError(
      'restart',
      `the lease is not held by ${rt.config.name} at term ${args.term}`,
    );
  }
  const upstreamName = local?.upstream ?? snapshot.leader?.holder;
  if (!upstreamName) throw new ActionRefusedError('restart', 'no upstream known to follow');
  const upstream = upstreamOf(ctx, upstreamName);
  await rt.postgres.stop(cluster.primary_stop_timeout * 1000);
  await startByDaemon(
    ctx,
    {
      want: 'replica',
      term: Math.max(args.term, local?.term ?? 0),
      upstream: upstream.name,
      sync_standbys: [],
      updated_by: 'action:restart',
    },
    rt.config.postgresql.start_timeout * 1000,
  );
  runCallback(rt, 'on_restart', 'replica');
  return { changed: true, message: `restarted as replica of ${upstream.name}` };
};
