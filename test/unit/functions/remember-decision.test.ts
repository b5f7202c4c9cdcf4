import { describe, expect, it } from 'vitest';
import type { Decision } from '../../../core/decide/steps.ts';
import { observerSchema } from '../../../core/model/items.ts';
import { rememberDecision } from '../../../functions/controller/controller.ts';

const empty = observerSchema.parse({});
const refusedDecision: Decision = {
  rule: 170,
  reason: 'no candidate: node2: tagged nofailover',
  steps: [
    {
      kind: 'notify',
      event: { type: 'failover_refused', cluster: 'c', message: 'no candidate: node2: tagged nofailover' },
    },
  ],
  notice: 'refused:1',
};

describe('what the observer keeps of a decision', () => {
  it('records a refusal with its message and time, keeps it while the same refusal holds', () => {
    const first = rememberDecision(empty, refusedDecision, 1000);
    expect(first.refusal).toEqual({ message: 'no candidate: node2: tagged nofailover', since: 1000 });
    expect(first.notice).toBe('refused:1');
    const again = rememberDecision(first, { ...refusedDecision, steps: [] }, 5000);
    expect(again.refusal).toEqual({ message: 'no candidate: node2: tagged nofailover', since: 1000 });
  });

  it('forgets the refusal when the decision clears the notice or moves to another one', () => {
    const refused = rememberDecision(empty, refusedDecision, 1000);
    expect(
      rememberDecision(refused, { rule: 160, reason: 'failover', steps: [], notice: null }, 2000).refusal,
    ).toBe(undefined);
    expect(
      rememberDecision(refused, { rule: 200, reason: 'rogue', steps: [], notice: 'rogue:node3:2' }, 2000)
        .refusal,
    ).toBe(undefined);
    expect(rememberDecision(refused, { rule: 100, reason: 'idle', steps: [] }, 2000).refusal).toBeDefined();
  });
});
