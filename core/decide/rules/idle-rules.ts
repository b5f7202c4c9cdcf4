import { formatLsn } from '../../format.ts';
import { rejoinTarget } from '../../lease/observe.ts';
import { describeExclusions, selectCandidates } from '../candidates.ts';
import type { Rule, RuleContext, RuleOutcome } from '../context.ts';
import { advanceOp, newOp } from '../op-builders.ts';
import { planIntent } from './intent-plans.ts';
import { rejoinStragglersRule } from './rejoin-rules.ts';

/** True when the lease cannot be relied on: expired as observed, released, or missing. */
function leaseGone(ctx: RuleContext): boolean {
  return !ctx.leader || ctx.observations.leader?.expired === true;
}

function refusal(ctx: RuleContext, key: string, message: string): RuleOutcome {
  const first = ctx.observations.notice !== key;
  return {
    reason: message,
    steps: first
      ? [{ kind: 'notify', event: { type: 'failover_refused', cluster: ctx.snapshot.cluster, message } }]
      : [],
    notice: key,
  };
}

export const idleRules: readonly Rule[] = [
  {
    id: 100,
    state: 'any',
    when: 'the cluster has no initialize item and no leader: not bootstrapped',
    decide: (ctx) =>
      !ctx.snapshot.initialize && !ctx.leader
        ? { reason: 'cluster not bootstrapped yet; waiting', steps: [] }
        : undefined,
  },
  {
    id: 110,
    state: 'idle',
    when: 'the config item is malformed',
    decide: (ctx) =>
      ctx.configValid
        ? undefined
        : refusal(
            ctx,
            'config_malformed',
            'config item is malformed; deciding nothing until it is fixed (edit-config)',
          ),
  },
  {
    id: 120,
    state: 'idle',
    when: 'an intent is scheduled in the future',
    decide: (ctx) => {
      const intent = ctx.pendingIntent;
      if (!intent?.scheduled_at || intent.scheduled_at <= ctx.now) return undefined;
      return {
        reason: `${intent.kind} to ${intent.to ?? 'the best candidate'} scheduled at ${new Date(intent.scheduled_at).toISOString()}; waiting`,
        steps: [],
      };
    },
  },
  {
    id: 130,
    state: 'idle',
    when: 'an operator intent is due: start it, or refuse it with the reason',
    next: ['switchover:demote', 'failover:takeover'],
    decide: (ctx) => (ctx.pendingIntent ? planIntent(ctx, ctx.pendingIntent) : undefined),
  },
  {
    id: 140,
    state: 'idle',
    when: 'the cluster is paused',
    decide: (ctx) =>
      ctx.config.pause
        ? { reason: 'paused: nothing automatic (manual switchover still works)', steps: [] }
        : undefined,
  },
  {
    id: 150,
    state: 'idle',
    when: 'no leader item and no history: the first primary is still bootstrapping',
    decide: (ctx) =>
      !ctx.leader && ctx.snapshot.history.length === 0
        ? { reason: 'no leader yet: the initializing member is still bootstrapping', steps: [] }
        : undefined,
  },
  {
    id: 155,
    state: 'idle',
    when: 'the lease expired, but every fresh member reports an unexpired failsafe promise to its holder at its term',
    decide: (ctx) => {
      const leader = ctx.leader;
      if (!ctx.config.failsafe_mode || !leader || leader.released || !leaseGone(ctx)) return undefined;
      const others = ctx.snapshot.members.filter((m) => m.name !== leader.holder && ctx.isFresh(m.name));
      const left = others.map((m) => {
        const p = m.failsafe_promise;
        const heardAgo = ctx.observations.members[m.name]?.unchangedMs ?? Number.POSITIVE_INFINITY;
        return p && p.holder === leader.holder && p.term === leader.term ? p.remaining_ms - heardAgo : 0;
      });
      if (others.length === 0 || left.every((ms) => ms <= 0)) return undefined;
      if (left.some((ms) => ms <= 0)) {
        // Some members promised the holder, others have not reported it yet (a loaded host's
        // heartbeat can lag): wait up to a ttl past the expiry before failing over. Only a
        // failover is delayed; no promotion happens meanwhile.
        const overdueMs = (ctx.observations.leader?.unchangedMs ?? 0) - ctx.config.ttl * 1000;
        if (overdueMs > ctx.config.ttl * 1000) return undefined;
        const waiting = others.filter((_, i) => left[i]! <= 0).map((m) => m.name);
        return {
          reason: `${leader.holder} may be in failsafe: ${others.length - waiting.length} member(s) promised it; waiting up to a ttl for ${waiting.join(', ')} to report before failing over`,
          steps: [],
        };
      }
      const message = `${leader.holder} is in failsafe: its lease (term ${leader.term}) is not renewed in DynamoDB, but every fresh member (${others.map((m) => m.name).join(', ')}) answers its pings and promised not to be promoted (the soonest promise ends in ${(Math.min(...left) / 1000).toFixed(1)} s); failing over nobody`;
      const key = `failsafe:${leader.holder}:${leader.term}`;
      return {
        reason: message,
        steps:
          ctx.observations.notice === key
            ? []
            : [
                {
                  kind: 'notify',
                  event: {
                    type: 'failsafe_active',
                    cluster: ctx.snapshot.cluster,
                    message,
                    term: leader.term,
                  },
                },
              ],
        notice: key,
      };
    },
  },
  {
    id: 160,
    state: 'idle',
    when: 'the lease expired (same rvn seen >= ttl), was released or is missing, and a candidate is eligible',
    next: ['failover:takeover'],
    decide: (ctx) => {
      if (!leaseGone(ctx)) return undefined;
      const leader = ctx.leader;
      const selection = selectCandidates(
        {
          members: ctx.snapshot.members,
          observations: ctx.observations,
          config: ctx.config,
          ...(leader ? { leader } : {}),
        },
        leader ? { oldPrimary: leader.holder } : {},
      );
      const best = selection.eligible[0];
      if (!best) return undefined;
      const why = !leader
        ? 'no leader item'
        : leader.released
          ? `${leader.holder} released the lease`
          : `lease of ${leader.holder} unchanged for ${((ctx.observations.leader?.unchangedMs ?? 0) / 1000).toFixed(1)} s (ttl ${ctx.config.ttl} s)`;
      const lastTerm = leader?.term ?? Math.max(0, ...ctx.snapshot.history.map((h) => h.term));
      const op = newOp(
        {
          kind: 'failover',
          step: 'takeover',
          from: leader?.holder ?? ctx.snapshot.history.at(-1)?.new ?? best.name,
          to: best.name,
          term: lastTerm,
          reason: `${why}; promoting ${best.name} (received ${formatLsn(best.receive_lsn ?? best.replay_lsn ?? 0)})`,
          rule: 160,
          ...(leader ? { observed_rvn: leader.rvn, lsn: leader.lsn } : {}),
        },
        ctx,
      );
      return {
        reason: op.reason,
        steps: [
          { kind: 'begin_op', op },
          {
            kind: 'take_over',
            ...(leader ? { from: leader.holder, rvn: leader.rvn } : {}),
            to: best.name,
            term: lastTerm,
            onSuccess: advanceOp(op, 'fence', ctx.now),
          },
        ],
        notice: null,
      };
    },
  },
  {
    id: 165,
    state: 'idle',
    when: 'the lease expired, no replica is eligible, and its holder heartbeats with PostgreSQL fenced or stopped: restart the holder as primary at its term',
    decide: (ctx) => {
      // A primary that fenced itself when it could not renew (a partition, the store's outage)
      // while no replica could take over — in synchronous mode none is recorded, or every one
      // lags — leaves the cluster without a primary for good: nobody else may take the lease,
      // and its holder, the one member with every acknowledged write, waits to be told. Nobody
      // took the lease over (its term is unchanged), so the holder restarting at that term is
      // the one primary there can be; the restart renews the lease (conditional on holder and
      // term) before PostgreSQL starts. Found by the fault campaign (issue #18).
      const leader = ctx.leader;
      const holder = ctx.holder;
      if (!leader || leader.released || !leaseGone(ctx) || !holder || !ctx.isFresh(holder.name))
        return undefined;
      if (holder.state !== 'fenced' && holder.state !== 'stopped') return undefined;
      const asked = ctx.observations.rejoinRequested[holder.name];
      const target = rejoinTarget(`restart:${holder.name}`, leader.term);
      if (asked?.target === target && ctx.now - asked.at < ctx.config.command_timeout * 1000)
        return {
          reason: `waiting for ${holder.name} to restart as primary at term ${leader.term}`,
          steps: [],
        };
      const selection = selectCandidates(
        { members: ctx.snapshot.members, observations: ctx.observations, config: ctx.config, leader },
        { oldPrimary: leader.holder },
      );
      const message = `no replica can take over (${describeExclusions(selection.excluded) || 'no replica'}); restarting ${holder.name}, the lease holder, as primary at term ${leader.term}`;
      const first = ctx.observations.notice !== `restart_holder:${leader.term}`;
      return {
        reason: message,
        steps: [
          ...(first
            ? [
                {
                  kind: 'notify' as const,
                  event: { type: 'failover_refused' as const, cluster: ctx.snapshot.cluster, message },
                },
              ]
            : []),
          { kind: 'command', action: 'restart', member: holder.name, term: leader.term },
        ],
        notice: `restart_holder:${leader.term}`,
        rejoinRequested: [{ member: holder.name, target }],
      };
    },
  },
  {
    id: 170,
    state: 'idle',
    when: 'the lease is gone and no member is eligible',
    decide: (ctx) => {
      if (!leaseGone(ctx)) return undefined;
      const leader = ctx.leader;
      const selection = selectCandidates(
        {
          members: ctx.snapshot.members,
          observations: ctx.observations,
          config: ctx.config,
          ...(leader ? { leader } : {}),
        },
        leader ? { oldPrimary: leader.holder } : {},
      );
      const message = `no candidate: ${describeExclusions(selection.excluded)}`;
      return refusal(ctx, `no_candidate:${message}`, message);
    },
  },
  {
    id: 180,
    state: 'idle',
    when: 'a member that does not hold the lease reports a running primary',
    decide: (ctx) => {
      const leader = ctx.leader!;
      const rogue = ctx.snapshot.members.find(
        (m) =>
          m.name !== leader.holder && m.role === 'primary' && m.state === 'running' && ctx.isFresh(m.name),
      );
      if (!rogue) return undefined;
      const message = `${rogue.name} reports a running primary but ${leader.holder} holds the lease at term ${leader.term}; fencing ${rogue.name}`;
      const first = ctx.observations.notice !== `rogue:${rogue.name}:${leader.term}`;
      return {
        reason: message,
        steps: [
          {
            kind: 'fence',
            member: rogue.name,
            ...(rogue.instance_id ? { instanceId: rogue.instance_id } : {}),
            term: leader.term,
            mode: ctx.config.fencing,
            timeoutMs: ctx.config.fence_timeout * 1000,
          },
          ...(first
            ? [
                {
                  kind: 'notify' as const,
                  event: { type: 'split_brain_suspected' as const, cluster: ctx.snapshot.cluster, message },
                },
              ]
            : []),
        ],
        notice: `rogue:${rogue.name}:${leader.term}`,
      };
    },
  },
];

export const idleTailRules: readonly Rule[] = [
  rejoinStragglersRule,
  {
    id: 290,
    state: 'idle',
    when: 'otherwise: the lease is held and renewed',
    decide: (ctx) => {
      const leader = ctx.leader!;
      const replicas = ctx.snapshot.members.filter(
        (m) => m.role === 'replica' && m.state === 'running',
      ).length;
      return {
        reason: `${leader.holder} holds the lease at term ${leader.term}; ${replicas} replica(s) running`,
        steps: [],
        notice: null,
      };
    },
  },
];
