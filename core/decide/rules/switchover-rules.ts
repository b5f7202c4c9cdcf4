import type { Op } from '../../model/items.ts';
import { leaseTimelinePosition } from '../candidates.ts';
import type { Rule, RuleContext, RuleOutcome } from '../context.ts';
import { advanceOp, endOpSteps, retriesExhausted, stepExpired } from '../op-builders.ts';
import { handoverSyncStandbys, standbysBehindFinalLsn } from '../sync-standbys.ts';
import { leaderIsNew, promoteRules, repointRule } from './op-rules.ts';

/** A switchover's final LSN: the old primary's, as its clean stop reported it. */
function finalLsnOf(op: Op): number | undefined {
  return op.lsn ?? (op.last_result?.action === 'demote' ? op.last_result.lsn : undefined);
}

/** A switchover that cannot finish: the old primary still holds the lease, so it restarts as primary. */
function rollBack(ctx: RuleContext, op: Op, why: string): RuleOutcome {
  const message = `switchover aborted: ${why}; restarting ${op.from} as primary`;
  return {
    reason: message,
    steps: [
      { kind: 'command', action: 'restart', member: op.from, term: op.term },
      ...endOpSteps(op, ctx, { changed: false, message }),
    ],
  };
}

export const switchoverRules: readonly Rule[] = [
  {
    id: 400,
    state: 'switchover:demote',
    when: 'the clean stop failed step_retries times: roll back',
    next: ['idle'],
    decide: (ctx) =>
      retriesExhausted(ctx.op!, ctx)
        ? rollBack(ctx, ctx.op!, `${ctx.op!.from} did not stop cleanly`)
        : undefined,
  },
  {
    id: 410,
    state: 'switchover:demote',
    when: 'otherwise: stop the old primary cleanly and learn its final LSN',
    next: ['switchover:catchup'],
    decide: (ctx) => {
      const op = ctx.op!;
      return {
        reason: `stopping ${op.from} cleanly for the switchover to ${op.to}`,
        steps: [
          {
            kind: 'command',
            action: 'demote',
            member: op.from,
            term: op.term,
            onSuccess: advanceOp(op, 'catchup', ctx.now),
            countsFor: op,
          },
        ],
      };
    },
  },
  {
    id: 420,
    state: 'switchover:catchup',
    when: 'the lease was already handed over',
    next: ['switchover:promote'],
    decide: (ctx) =>
      leaderIsNew(ctx, ctx.op!)
        ? {
            reason: 'lease already handed over',
            steps: [{ kind: 'update_op', op: advanceOp(ctx.op!, 'promote', ctx.now) }],
          }
        : undefined,
  },
  {
    id: 425,
    state: 'switchover:catchup',
    when: 'synchronous_mode: a standby of the old primary has not reported its final LSN yet: wait up to loop_wait',
    decide: (ctx) => {
      const op = ctx.op!;
      const finalLsn = finalLsnOf(op);
      if (!ctx.config.synchronous_mode || finalLsn === undefined) return undefined;
      if (ctx.now - op.step_started_at >= ctx.config.loop_wait * 1000) return undefined;
      const handover = { from: op.from, to: op.to, finalLsn };
      if (handoverSyncStandbys(ctx.snapshot.members, handover, ctx.config, ctx.observations).length > 0)
        return undefined;
      const behind = standbysBehindFinalLsn(ctx.snapshot.members, handover, ctx.observations);
      if (behind.length === 0) return undefined;
      return {
        reason: `waiting for ${behind.join(', ')} to report the final LSN of ${op.from}, so that ${op.to} can wait for it from its first commit`,
        steps: [],
      };
    },
  },
  {
    id: 430,
    state: 'switchover:catchup',
    when: 'the candidate received the final LSN: hand the lease over (term + 1)',
    next: ['switchover:promote'],
    decide: (ctx) => {
      const op = ctx.op!;
      const finalLsn = finalLsnOf(op);
      const cand = ctx.member(op.to);
      // What it holds of the old primary's timeline: a diverged position does not count.
      const held = cand
        ? leaseTimelinePosition(cand, {
            members: ctx.snapshot.members,
            ...(ctx.leader ? { leader: ctx.leader } : {}),
          })
        : null;
      const received = typeof held === 'number' ? held : null;
      if (finalLsn === undefined || received === null || received < finalLsn || !ctx.isFresh(op.to))
        return undefined;
      const sync = handoverSyncStandbys(
        ctx.snapshot.members,
        { from: op.from, to: op.to, finalLsn },
        ctx.config,
        ctx.observations,
      );
      const waits = sync.length > 0 ? `; ${op.to} will wait for ${sync.join(', ')}` : '';
      return {
        reason: `${op.to} received the final LSN of ${op.from}; handing the lease over${waits}`,
        steps: [
          {
            kind: 'hand_over',
            from: op.from,
            to: op.to,
            term: op.term,
            ...(sync.length > 0 ? { sync } : {}),
            onSuccess: advanceOp(op, 'promote', ctx.now, { lsn: finalLsn }),
          },
        ],
      };
    },
  },
  {
    id: 440,
    state: 'switchover:catchup',
    when: 'the candidate did not catch up within switchover_timeout, or the lease moved: roll back',
    next: ['idle'],
    decide: (ctx) => {
      const op = ctx.op!;
      if (ctx.leader && (ctx.leader.holder !== op.from || ctx.leader.term !== op.term)) {
        return {
          reason: 'the lease moved during the switchover; ending it',
          steps: endOpSteps(op, ctx, { changed: false, message: 'switchover aborted: the lease moved' }),
        };
      }
      if (!stepExpired(op, ctx) && ctx.isFresh(op.to)) return undefined;
      return rollBack(
        ctx,
        op,
        `${op.to} did not receive the final LSN within ${ctx.config.switchover_timeout} s`,
      );
    },
  },
  {
    id: 450,
    state: 'switchover:catchup',
    when: 'otherwise: wait for the candidate to receive the final LSN',
    decide: (ctx) => ({
      reason: `waiting for ${ctx.op!.to} to receive the final LSN of ${ctx.op!.from}`,
      steps: [],
    }),
  },
  ...promoteRules('switchover', 460),
  repointRule('switchover', 480),
];
