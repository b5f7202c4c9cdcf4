import { runCallback } from '../callbacks.ts';
import { memberEndpoint } from '../daemon/build-member.ts';
import { ActionRefusedError } from '../errors.ts';
import { rewindCredentials } from '../postgres/conninfo.ts';
import { cloneMember, createReplica } from '../postgres/create-replica.ts';
import { setStandbySignal, writePgConfig } from '../postgres/pg-conf.ts';
import {
  checkpointUpstream,
  replicaSettings,
  type UpstreamEndpoint,
  waitForUpstreamSlot,
} from '../postgres/start-as.ts';
import { type LocalState, writeLocalState } from '../state/local-state.ts';
import { type ActionContext, type ActionHandler, upstreamOf } from './action-context.ts';
import { startByDaemon } from './start-by-daemon.ts';

/** Streaming, and on the upstream's timeline (or a later one) when known: a diverged replica never is. */
async function waitForStreaming(
  ctx: ActionContext,
  timeoutMs: number,
  timeline: number | null,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const obs = await ctx.rt.observer.observe(Date.now());
    const onTimeline = timeline === null || (obs.timeline ?? 0) >= timeline;
    if (obs.reachable && obs.inRecovery && obs.receiverState === 'streaming' && onTimeline) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

/**
 * A full rebuild (the fallback of rejoin, and reinit) with create_replica_methods (pg_basebackup
 * from `upstream` by default), then the daemon starts it as a replica in `state`. Returns the
 * method that made the data.
 */
export async function rebuildFrom(
  ctx: ActionContext,
  upstream: UpstreamEndpoint,
  state: Omit<LocalState, 'updated_at'>,
): Promise<string> {
  const { rt, cluster } = ctx;
  if (await rt.postgres.stop(cluster.primary_stop_timeout * 1000)) runCallback(rt, 'on_stop', 'replica');
  // As Patroni's reinit: create_replica_methods, from a `clonefrom` replica when one runs.
  const upstreamMember = ctx.snapshot.members.find((m) => m.name === upstream.name);
  const clone = upstreamMember && cloneMember(ctx.snapshot.members, rt.config.name, upstreamMember);
  const method = await createReplica(
    rt,
    clone && clone !== upstreamMember ? { name: clone.name, ...memberEndpoint(clone) } : upstream,
  );
  await startByDaemon(ctx, state, rt.config.postgresql.start_timeout * 1000);
  return method;
}

/**
 * Follow `--leader`: a running replica is re-pointed with a reload (primary_conninfo reloads
 * since PostgreSQL 13); anything else is stopped, rewound with pg_rewind (when use_pg_rewind)
 * and started as a replica; when that fails, rebuilt with pg_basebackup.
 */
export const rejoin: ActionHandler = async (ctx) => {
  const { rt, args, cluster, local } = ctx;
  const upstream = upstreamOf(ctx, args.leader!);
  const leader = ctx.snapshot.leader;
  if (leader?.holder === rt.config.name && leader.term >= args.term && local?.want === 'primary') {
    throw new ActionRefusedError('rejoin', `this member holds the lease at term ${leader.term}`);
  }
  const obs = await rt.observer.observe(Date.now());
  const upstreamTimeline = ctx.snapshot.members.find((m) => m.name === upstream.name)?.timeline ?? null;
  const streamingFromIt =
    obs.reachable && obs.inRecovery && obs.receiverState === 'streaming' && local?.upstream === upstream.name;
  const state = {
    want: 'replica' as const,
    term: args.term,
    upstream: upstream.name,
    sync_standbys: [],
    updated_by: 'action:rejoin',
  };
  if (streamingFromIt) {
    await writeLocalState(rt.paths.localState, state);
    return { changed: false, message: `already streaming from ${upstream.name}` };
  }
  // A running replica is re-pointed with a reload (primary_conninfo reloads since PostgreSQL 13)
  // and follows a promoted upstream's new timeline by itself, unless it has received WAL past the
  // fork: PostgreSQL then refuses the timeline, and it is rewound instead.
  const timeline = obs.timeline;
  if (
    obs.reachable &&
    obs.inRecovery &&
    local?.want === 'replica' &&
    timeline !== undefined &&
    upstreamTimeline !== null &&
    timeline <= upstreamTimeline
  ) {
    // A switchover's candidate (the lease names it, it is still a replica) makes our slot just
    // before its promotion. A cascade's upstream (replicatefrom) keeps no slots: not waited for.
    const upstreamRole = ctx.snapshot.members.find((m) => m.name === upstream.name)?.role;
    const candidate = leader?.holder === upstream.name && upstreamRole !== 'primary';
    if (cluster.postgresql.use_slots && candidate)
      if (!(await waitForUpstreamSlot(rt, upstream, 3_000)))
        rt.logger.warn('the upstream has no slot for this member yet; re-pointing anyway', {
          upstream: upstream.name,
        });
    await writePgConfig(rt.config, cluster, rt.paths, rt.user, replicaSettings(rt, cluster, upstream));
    await rt.postgres.reload();
    await writeLocalState(rt.paths.localState, state);
    const crossing = timeline < upstreamTimeline;
    if (await waitForStreaming(ctx, crossing ? 5_000 : 10_000, upstreamTimeline)) {
      const follows = crossing ? ` (following it to timeline ${upstreamTimeline})` : '';
      return { changed: true, message: `re-pointed to ${upstream.name} with a reload${follows}` };
    }
    rt.logger.warn('replica does not stream after re-pointing; rewinding', { upstream: upstream.name });
  }
  if (await rt.postgres.stop(cluster.primary_stop_timeout * 1000)) runCallback(rt, 'on_stop', 'replica');
  let how = 'restarted';
  if (rt.config.postgresql.use_pg_rewind ?? cluster.postgresql.use_pg_rewind) {
    const { state } = await rt.postgres.controlData();
    if (state === 'shut down in recovery') {
      const recovery = await rt.postgres.finishRecoveryAlone(600_000);
      rt.logger.info('finished recovery in single-user mode before pg_rewind', {
        exitCode: recovery.code,
        output: recovery.stderr.slice(-800),
      });
    } else if (state !== 'shut down') {
      // A crashed primary that its agent fenced (standby.signal written): pg_rewind runs crash
      // recovery in single-user mode first, which refuses standby mode. The lock keeps the
      // daemon from starting it meanwhile; the start as a replica writes the signal again.
      await setStandbySignal(rt.paths, rt.user, false);
    }
    await checkpointUpstream(rt, upstream);
    const rewind = await rt.postgres.rewind(
      upstream,
      rewindCredentials(rt.config.postgresql.authentication),
      600_000,
    );
    rt.logger.info('pg_rewind finished', {
      exitCode: rewind.code,
      output: (rewind.stdout + rewind.stderr).slice(-800),
    });
    how =
      rewind.code === 0
        ? /no rewind required/i.test(rewind.stdout + rewind.stderr)
          ? 'no rewind needed'
          : 'rewound with pg_rewind'
        : '';
    if (rewind.code !== 0)
      rt.logger.warn('pg_rewind failed; rebuilding with pg_basebackup', {
        output: rewind.stderr.slice(-500),
      });
  }
  if (how) {
    await startByDaemon(ctx, state, rt.config.postgresql.start_timeout * 1000);
    if (await waitForStreaming(ctx, 15_000, upstreamTimeline)) {
      runCallback(rt, 'on_role_change', 'replica');
      return { changed: true, message: `${how}; streaming from ${upstream.name}` };
    }
    rt.logger.warn('replica does not stream after rewind; rebuilding with pg_basebackup');
  }
  // A rebuild empties the data directory first: never while the upstream does not answer (a
  // partition, its crash), where the rebuild would fail and leave nothing to start. Found by the
  // fault campaign (issue #18). The data stays; the controller asks for the rejoin again.
  if ((await checkpointUpstream(rt, upstream)) === false)
    throw new ActionRefusedError(
      'rejoin',
      `${upstream.name} does not answer at ${upstream.host}:${upstream.port}: not rebuilding (the data directory is kept until it does)`,
    );
  const method = await rebuildFrom(ctx, upstream, state);
  runCallback(rt, 'on_role_change', 'replica');
  return { changed: true, message: `rebuilt (${method}); streaming from ${upstream.name}` };
};
