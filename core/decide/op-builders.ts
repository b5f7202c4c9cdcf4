import { DEFAULT_CLUSTER_CONFIG } from '../config/cluster-config.ts';
import type { HistoryRow, Op, OpStep } from '../model/items.ts';
import type { RuleContext } from './context.ts';
import type { Step } from './steps.ts';

/** The operation as it is once it has moved to `step` (version + 1, attempts reset). */
export function advanceOp(op: Op, step: OpStep, now: number, patch: Partial<Op> = {}): Op {
  // The command the previous step waited for is done with: the next step sends its own.
  const { command: _done, ...rest } = op;
  return {
    ...rest,
    ...patch,
    step,
    attempts: 0,
    step_started_at: now,
    timings: { ...op.timings, ...patch.timings, [step]: now },
    version: op.version + 1,
  };
}

export function newOp(
  fields: Pick<Op, 'kind' | 'step' | 'from' | 'to' | 'term' | 'reason' | 'rule'> &
    Partial<Pick<Op, 'observed_rvn' | 'intent_id' | 'lsn'>>,
  ctx: RuleContext,
): Op {
  return {
    id: `${ctx.snapshot.cluster}:${fields.term + 1}:${fields.kind}`,
    excluded: [],
    attempts: 0,
    started_at: ctx.now,
    step_started_at: ctx.now,
    timings: { detected: ctx.now },
    version: 1,
    ...fields,
  };
}

/** Seconds a step may take before its attempts count as exhausted. */
export function stepTimeoutMs(op: Op, config = DEFAULT_CLUSTER_CONFIG): number {
  if (op.step === 'catchup') return config.switchover_timeout * 1000;
  if (op.step === 'fence') return (config.fence_timeout + config.command_timeout) * 1000;
  return config.command_timeout * 1000;
}

export function stepExpired(op: Op, ctx: RuleContext): boolean {
  return ctx.now - op.step_started_at >= stepTimeoutMs(op, ctx.config);
}

export function retriesExhausted(op: Op, ctx: RuleContext): boolean {
  return op.attempts > ctx.config.step_retries || (op.attempts > 0 && stepExpired(op, ctx));
}

export function historyRow(op: Op, ctx: RuleContext, finishedReason?: string): HistoryRow {
  return {
    term: op.term + 1,
    kind: op.kind,
    old: op.from,
    new: op.to,
    reason: finishedReason ?? op.reason,
    rule: op.rule,
    ...(op.lsn !== undefined ? { lsn: op.lsn } : {}),
    at: ctx.now,
    timings: { ...op.timings, finished: ctx.now },
  };
}

/** Ends an operation: history (when the primary changed), intent cleared, people notified. */
export function endOpSteps(op: Op, ctx: RuleContext, outcome: { changed: boolean; message: string }): Step[] {
  const steps: Step[] = [
    { kind: 'end_op', op, ...(outcome.changed ? { history: historyRow(op, ctx, outcome.message) } : {}) },
  ];
  if (op.intent_id)
    steps.push({ kind: 'resolve_intent', id: op.intent_id, ok: outcome.changed, message: outcome.message });
  steps.push({
    kind: 'notify',
    event: {
      type: outcome.changed ? 'primary_changed' : 'operation_aborted',
      cluster: ctx.snapshot.cluster,
      message: outcome.message,
      term: outcome.changed ? op.term + 1 : op.term,
    },
  });
  return steps;
}
