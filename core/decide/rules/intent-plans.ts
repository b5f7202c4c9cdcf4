import type { Intent } from '../../model/items.ts';
import { describeExclusions, exclusionReason, selectCandidates } from '../candidates.ts';
import type { RuleContext, RuleOutcome } from '../context.ts';
import { advanceOp, newOp } from '../op-builders.ts';
import type { Step } from '../steps.ts';

function refuse(ctx: RuleContext, intent: Intent, why: string): RuleOutcome {
  const message = `${intent.kind} refused: ${why}`;
  return {
    reason: message,
    steps: [
      { kind: 'resolve_intent', id: intent.id, ok: false, message },
      { kind: 'notify', event: { type: 'failover_refused', cluster: ctx.snapshot.cluster, message } },
    ],
  };
}

/**
 * Turns a due operator intent into the first steps of an operation, or refuses it with the
 * reason. A healthy leader means a switchover (clean stop, catch-up, hand-over); a lost lease
 * means a failover to the named candidate, which must then be fully eligible.
 */
export function planIntent(ctx: RuleContext, intent: Intent): RuleOutcome {
  if (intent.kind === 'restart' || intent.kind === 'reinit' || intent.kind === 'reload')
    return planMemberRequest(ctx, intent);
  const leader = ctx.leader;
  const leaseExpired = !leader || ctx.observations.leader?.expired === true;
  const holderHealthy =
    !!ctx.holder &&
    ctx.holder.role === 'primary' &&
    ctx.holder.state === 'running' &&
    ctx.isFresh(ctx.holder.name);
  const input = { members: ctx.snapshot.members, observations: ctx.observations, config: ctx.config };

  if (intent.from && leader && intent.from !== leader.holder) {
    return refuse(ctx, intent, `${intent.from} is not the leader (${leader.holder} is)`);
  }
  if (intent.to && !ctx.member(intent.to))
    return refuse(ctx, intent, `${intent.to} is not a member of the cluster`);
  if (intent.to && leader && intent.to === leader.holder) {
    return refuse(ctx, intent, `${intent.to} is already the leader`);
  }

  if (leader && !leaseExpired && holderHealthy) {
    const selection = selectCandidates({ ...input, leader }, { oldPrimary: leader.holder, ignoreLag: true });
    const target = intent.to ? ctx.member(intent.to)! : selection.eligible[0];
    if (!target) return refuse(ctx, intent, `no candidate: ${describeExclusions(selection.excluded)}`);
    const why = exclusionReason(target, { ...input, leader }, { ignoreLag: true });
    if (why) return refuse(ctx, intent, `${target.name} is not eligible: ${why}`);
    const op = newOp(
      {
        kind: 'switchover',
        step: 'demote',
        from: leader.holder,
        to: target.name,
        term: leader.term,
        reason: `${intent.kind} requested by ${intent.requested_by}: ${leader.holder} -> ${target.name}`,
        rule: 130,
        intent_id: intent.id,
      },
      ctx,
    );
    const steps: Step[] = [
      { kind: 'begin_op', op },
      {
        kind: 'command',
        action: 'demote',
        member: leader.holder,
        term: leader.term,
        onSuccess: advanceOp(op, 'catchup', ctx.now),
        countsFor: op,
      },
    ];
    return { reason: op.reason, steps };
  }

  if (intent.kind === 'switchover') {
    return refuse(
      ctx,
      intent,
      `a switchover needs a healthy leader (${leader ? `${leader.holder} is not healthy` : 'there is none'}); use failover`,
    );
  }
  if (leader && !leaseExpired) {
    return refuse(
      ctx,
      intent,
      `${leader.holder}'s lease is still being renewed; wait for it to expire or fix its host`,
    );
  }
  const selection = selectCandidates(
    { ...input, ...(leader ? { leader } : {}) },
    leader ? { oldPrimary: leader.holder } : {},
  );
  const target = intent.to ? ctx.member(intent.to) : selection.eligible[0];
  if (!target) return refuse(ctx, intent, `no candidate: ${describeExclusions(selection.excluded)}`);
  const why = exclusionReason(target, { ...input, ...(leader ? { leader } : {}) }, {});
  if (why) return refuse(ctx, intent, `${target.name} is not eligible: ${why}`);
  const term = leader?.term ?? Math.max(0, ...ctx.snapshot.history.map((h) => h.term));
  const op = newOp(
    {
      kind: 'failover',
      step: 'takeover',
      from: leader?.holder ?? target.name,
      to: target.name,
      term,
      reason: `failover requested by ${intent.requested_by}: promoting ${target.name}`,
      rule: 130,
      intent_id: intent.id,
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
        to: target.name,
        term,
        onSuccess: advanceOp(op, 'fence', ctx.now),
      },
    ],
  };
}

/** How long a restart or reinit request is retried before the controller gives up on it. */
const MEMBER_REQUEST_PATIENCE = 3;

/** `restart MEMBER` / `reinit MEMBER` / `reload MEMBER`: one agent action, retried until done or stale. */
function planMemberRequest(ctx: RuleContext, intent: Intent): RuleOutcome {
  const target = ctx.member(intent.to);
  if (!target) return refuse(ctx, intent, `${intent.to ?? '(no member)'} is not a member of the cluster`);
  if (intent.kind === 'reinit' && ctx.leader?.holder === target.name) {
    return refuse(ctx, intent, `${target.name} is the leader; switch over first`);
  }
  if (ctx.now - intent.requested_at > MEMBER_REQUEST_PATIENCE * ctx.config.command_timeout * 1000) {
    return refuse(ctx, intent, `${target.name} did not complete the ${intent.kind} in time`);
  }
  const term = ctx.leader?.term ?? 0;
  const message = `${intent.kind} of ${target.name} requested by ${intent.requested_by}: done`;
  return {
    reason: `${intent.kind} of ${target.name} requested by ${intent.requested_by}`,
    steps: [
      {
        kind: 'command',
        action: intent.kind as 'restart' | 'reinit' | 'reload',
        member: target.name,
        term,
        ...(intent.kind === 'reinit' && ctx.leader ? { leader: ctx.leader.holder } : {}),
      },
      { kind: 'resolve_intent', id: intent.id, ok: true, message },
    ],
  };
}
