import type { Op } from '../../model/items.ts';
import { selectCandidates } from '../candidates.ts';
import type { OpState, Rule, RuleContext, RuleOutcome } from '../context.ts';
import { advanceOp, endOpSteps, retriesExhausted } from '../op-builders.ts';
import type { Step } from '../steps.ts';
import { rejoinRequests, rejoinSteps, stragglers } from './rejoin-rules.ts';

const newTerm = (op: Op) => op.term + 1;

export function leaderIsNew(ctx: RuleContext, op: Op): boolean {
  return ctx.leader?.holder === op.to && ctx.leader.term === newTerm(op);
}

function fenceStep(ctx: RuleContext, op: Op, member: string, onSuccess: Op): Step {
  const instanceId = ctx.member(member)?.instance_id;
  return {
    kind: 'fence',
    member,
    ...(instanceId ? { instanceId } : {}),
    term: newTerm(op),
    mode: ctx.config.fencing,
    timeoutMs: ctx.config.fence_timeout * 1000,
    onSuccess,
    countsFor: op,
  };
}

/** Promotion keeps failing: hand the lease to the next candidate (fencing the failed one), or give up. */
function replaceCandidate(ctx: RuleContext, op: Op): RuleOutcome {
  const excluded = [...op.excluded, op.to];
  const leader = ctx.leader;
  const next = selectCandidates(
    {
      members: ctx.snapshot.members,
      observations: ctx.observations,
      config: ctx.config,
      ...(leader ? { leader } : {}),
    },
    // The next candidate has not caught up with any final LSN: its lag counts, as in a failover.
    { oldPrimary: op.from, exclude: excluded },
  ).eligible[0];
  const failed = `promotion of ${op.to} failed ${op.attempts} time(s)${op.last_result?.message ? ` (${op.last_result.message})` : ''}`;
  if (!next || !leader || !leaderIsNew(ctx, op)) {
    return {
      reason: `${failed}; no other candidate: ending the operation (the unrenewed lease will expire and be retried)`,
      steps: endOpSteps(op, ctx, { changed: false, message: `${op.kind} aborted: ${failed}` }),
    };
  }
  const retry: Op = {
    ...advanceOp(op, 'takeover', ctx.now),
    // A switchover whose candidate cannot be promoted after the hand-over goes on as a failover
    // from that candidate: take the lease over, fence it, promote the next (there is no
    // switchover takeover step; such an operation used to wait forever. Found by the fault
    // campaign, issue #18).
    kind: 'failover',
    from: op.to,
    to: next.name,
    term: leader.term,
    observed_rvn: leader.rvn,
    excluded,
    reason: `${op.reason}; ${failed}, trying ${next.name}`,
  };
  return { reason: retry.reason, steps: [{ kind: 'update_op', op: retry }] };
}

/**
 * A switchover's synchronous standbys, re-pointed to the candidate before its promotion: its
 * first commit waits for them, and a standby streaming from it while it is still a replica
 * (cascading) follows its promotion to the new timeline by itself, so the standby's reload and
 * reconnection leave the write gap (issue #17). Only in a switchover: after a clean stop no
 * standby holds WAL the candidate lacks, so following it needs no rewind. A failover's standbys
 * are re-pointed after the promotion, as before.
 */
function prePointSteps(ctx: RuleContext, op: Op) {
  const waitedFor = leaderIsNew(ctx, op) ? ctx.leader!.sync : [];
  const members = ctx.snapshot.members.filter(
    (m) =>
      waitedFor.includes(m.name) &&
      m.name !== op.to &&
      m.name !== op.from &&
      !m.tags.replicatefrom &&
      ctx.isFresh(m.name) &&
      m.role === 'replica' &&
      m.state === 'running' &&
      m.upstream !== op.to,
  );
  return rejoinSteps(ctx, op.to, newTerm(op), members);
}

export function promoteRules(kind: 'failover' | 'switchover', base: number): Rule[] {
  const state = `${kind}:promote` as OpState;
  return [
    {
      id: base,
      state,
      when: 'the candidate already reports a running primary at the new term: promotion done',
      next: [`${kind}:repoint` as OpState],
      decide: (ctx) => {
        const op = ctx.op!;
        const cand = ctx.member(op.to);
        if (!cand || cand.role !== 'primary' || cand.state !== 'running' || !leaderIsNew(ctx, op))
          return undefined;
        if (!ctx.isFresh(cand.name)) return undefined;
        return {
          reason: `${op.to} is primary at term ${newTerm(op)}`,
          steps: [{ kind: 'update_op', op: advanceOp(op, 'repoint', ctx.now) }],
        };
      },
    },
    {
      id: base + 2,
      state,
      when: 'the lease no longer names the candidate at the new term: never promote, end the operation',
      next: ['idle'],
      decide: (ctx) => {
        const op = ctx.op!;
        if (leaderIsNew(ctx, op)) return undefined;
        const now = ctx.leader ? `${ctx.leader.holder} at term ${ctx.leader.term}` : 'nobody';
        const message = `${op.kind} aborted: the lease names ${now}, not ${op.to} at term ${newTerm(op)}`;
        return { reason: message, steps: endOpSteps(op, ctx, { changed: false, message }) };
      },
    },
    {
      id: base + 5,
      state,
      when: 'promotion failed step_retries times or timed out: next candidate, or end',
      next: ['failover:takeover', 'idle'],
      decide: (ctx) => (retriesExhausted(ctx.op!, ctx) ? replaceCandidate(ctx, ctx.op!) : undefined),
    },
    {
      id: base + 10,
      state,
      when:
        kind === 'switchover'
          ? 'otherwise: re-point the standbys the lease records to the candidate (not waited for), promote it'
          : 'otherwise: promote the candidate (the agent checks holder and term itself)',
      next: [`${kind}:repoint` as OpState],
      decide: (ctx) => {
        const op = ctx.op!;
        const ahead = kind === 'switchover' ? prePointSteps(ctx, op) : [];
        const told = ahead.length > 0 ? `; ${ahead.map((s) => s.member).join(', ')} follow it already` : '';
        return {
          reason: `promoting ${op.to} at term ${newTerm(op)}${told}`,
          ...(ahead.length > 0 ? { rejoinRequested: rejoinRequests(ctx, ahead) } : {}),
          steps: [
            ...ahead,
            {
              kind: 'command',
              action: 'promote',
              member: op.to,
              term: newTerm(op),
              onSuccess: advanceOp(op, 'repoint', ctx.now),
              countsFor: op,
            },
          ],
        };
      },
    },
  ];
}

export function repointRule(kind: 'failover' | 'switchover', id: number): Rule {
  return {
    id,
    state: `${kind}:repoint` as OpState,
    when: 'new primary serving: end the operation (history, notify), ask the others to follow it',
    next: ['idle'],
    decide: (ctx) => {
      const op = ctx.op!;
      if (!leaderIsNew(ctx, op)) {
        const message = `${op.kind} ended: the lease moved on from ${op.to} at term ${newTerm(op)}`;
        return { reason: message, steps: endOpSteps(op, ctx, { changed: true, message }) };
      }
      // The standbys the new primary waits for first: its commits resume once they stream.
      const waitedFor = ctx.leader!.sync;
      const members = stragglers(ctx, op.to)
        .concat(
          ctx.snapshot.members.filter(
            (m) => m.name === op.from && ctx.isFresh(m.name) && m.state === 'running' && m.role === 'primary',
          ),
        )
        .sort((a, b) => Number(waitedFor.includes(b.name)) - Number(waitedFor.includes(a.name)));
      const message = `${op.kind}: ${op.from} -> ${op.to} at term ${newTerm(op)} (${op.reason})`;
      const rejoins = rejoinSteps(ctx, op.to, newTerm(op), members);
      return {
        reason: message,
        steps: [...endOpSteps(op, ctx, { changed: true, message }), ...rejoins],
        rejoinRequested: rejoinRequests(ctx, rejoins),
      };
    },
  };
}

export const failoverRules: readonly Rule[] = [
  {
    id: 300,
    state: 'failover:takeover',
    when: 'the lease already names the candidate at term + 1',
    next: ['failover:fence'],
    decide: (ctx) =>
      leaderIsNew(ctx, ctx.op!)
        ? {
            reason: 'lease already taken over',
            steps: [{ kind: 'update_op', op: advanceOp(ctx.op!, 'fence', ctx.now) }],
          }
        : undefined,
  },
  {
    id: 310,
    state: 'failover:takeover',
    when: 'the lease is still at the observed rvn and term: take it over (one conditional write)',
    next: ['failover:fence'],
    decide: (ctx) => {
      const op = ctx.op!;
      const unchanged = ctx.leader
        ? ctx.leader.rvn === op.observed_rvn && ctx.leader.term === op.term
        : op.observed_rvn === undefined;
      if (!unchanged) return undefined;
      return {
        reason: `taking over the lease for ${op.to} at term ${newTerm(op)}`,
        steps: [
          {
            kind: 'take_over',
            ...(ctx.leader ? { from: ctx.leader.holder, rvn: ctx.leader.rvn } : {}),
            to: op.to,
            term: op.term,
            onSuccess: advanceOp(op, 'fence', ctx.now),
          },
        ],
      };
    },
  },
  {
    id: 320,
    state: 'failover:takeover',
    when: 'the lease changed under us (renewed or taken by someone else): abandon',
    next: ['idle'],
    decide: (ctx) => {
      const op = ctx.op!;
      const now = ctx.leader ? `${ctx.leader.holder} at term ${ctx.leader.term}` : 'nobody';
      return {
        reason: `lease changed before the takeover (now ${now}); abandoning the failover`,
        steps: endOpSteps(op, ctx, {
          changed: false,
          message: `failover abandoned: the lease is now held by ${now}`,
        }),
      };
    },
  },
  {
    id: 330,
    state: 'failover:fence',
    when: 'fencing failed step_retries times: keep trying, never promote unfenced; notify once',
    decide: (ctx) => {
      const op = ctx.op!;
      if (!retriesExhausted(op, ctx)) return undefined;
      const message = `cannot confirm that ${op.from} is fenced after ${op.attempts} attempt(s); promotion of ${op.to} waits`;
      const key = `fence_stuck:${op.id}`;
      return {
        reason: message,
        steps: [
          fenceStep(ctx, op, op.from, advanceOp(op, 'promote', ctx.now)),
          ...(ctx.observations.notice === key
            ? []
            : [
                {
                  kind: 'notify' as const,
                  event: { type: 'failover_refused' as const, cluster: ctx.snapshot.cluster, message },
                },
              ]),
        ],
        notice: key,
      };
    },
  },
  {
    id: 340,
    state: 'failover:fence',
    when: 'otherwise: fence the old primary per the fencing setting',
    next: ['failover:promote'],
    decide: (ctx) => {
      const op = ctx.op!;
      return {
        reason: `fencing ${op.from} (${ctx.config.fencing}) before promoting ${op.to}`,
        steps: [fenceStep(ctx, op, op.from, advanceOp(op, 'promote', ctx.now))],
      };
    },
  },
  ...promoteRules('failover', 350),
  repointRule('failover', 370),
];
