import { describe, expect, it } from 'vitest';
import { CATCHUP_PERIOD_MS, cyclePeriodMs, RETRY_PERIOD_MS } from '../../../agent/daemon/cycle-period.ts';
import type { Intent } from '../../../core/model/items.ts';
import { buildOp, scenario, T0 } from '../../helpers/builders.ts';

const config = { loop_wait: 2, synchronous_mode: false };
const intent = (overrides: Partial<Intent> = {}): Intent => ({
  id: 'i1',
  kind: 'switchover',
  from: 'n1',
  requested_by: 'cli',
  requested_at: T0,
  ...overrides,
});
const period = (
  snapshot: ReturnType<typeof scenario>['snapshot'],
  me: string,
  retrySoon = false,
  synchronous_mode = false,
) => cyclePeriodMs(snapshot, me, { ...config, synchronous_mode }, { retrySoon, now: T0 });

describe('how often an agent runs its cycle', () => {
  it('every loop_wait when nothing waits for it, sooner after a failed cycle', () => {
    const { snapshot } = scenario();
    expect(period(snapshot, 'n2')).toBe(2000);
    expect(period(snapshot, 'n2', true)).toBe(RETRY_PERIOD_MS);
  });

  it('every 250 ms while a switchover to it (or to anyone) is requested and due', () => {
    expect(period(scenario({ intent: intent({ to: 'n2' }) }).snapshot, 'n2')).toBe(CATCHUP_PERIOD_MS);
    expect(period(scenario({ intent: intent() }).snapshot, 'n3')).toBe(CATCHUP_PERIOD_MS);
    // Not for another member, the old primary, a finished request, a failover or a later schedule.
    expect(period(scenario({ intent: intent({ to: 'n3' }) }).snapshot, 'n2')).toBe(2000);
    expect(period(scenario({ intent: intent() }).snapshot, 'n1')).toBe(2000);
    const done = intent({ outcome: { ok: true, message: 'ok', at: T0 } });
    expect(period(scenario({ intent: done }).snapshot, 'n2')).toBe(2000);
    expect(period(scenario({ intent: intent({ kind: 'restart' }) }).snapshot, 'n2')).toBe(2000);
    expect(period(scenario({ intent: intent({ scheduled_at: T0 + 60_000 }) }).snapshot, 'n2')).toBe(2000);
  });

  it('every 250 ms while a switchover operation waits for its catch-up, not after', () => {
    const op = (step: 'demote' | 'catchup' | 'promote') =>
      buildOp({ kind: 'switchover', from: 'n1', to: 'n2', step });
    expect(period(scenario({ op: op('demote') }).snapshot, 'n2')).toBe(CATCHUP_PERIOD_MS);
    expect(period(scenario({ op: op('catchup') }).snapshot, 'n2')).toBe(CATCHUP_PERIOD_MS);
    expect(period(scenario({ op: op('promote') }).snapshot, 'n2')).toBe(2000);
    expect(period(scenario({ op: op('catchup') }).snapshot, 'n3')).toBe(2000);
    expect(period(scenario({ op: buildOp({ step: 'takeover' }) }).snapshot, 'n2')).toBe(2000);
  });

  it('in synchronous mode, every standby but the old primary: the hand-over records those at the final LSN', () => {
    const op = (step: 'catchup' | 'promote') => buildOp({ kind: 'switchover', from: 'n1', to: 'n2', step });
    expect(period(scenario({ op: op('catchup') }).snapshot, 'n3', false, true)).toBe(CATCHUP_PERIOD_MS);
    expect(period(scenario({ op: op('catchup') }).snapshot, 'n1', false, true)).toBe(2000);
    expect(period(scenario({ op: op('promote') }).snapshot, 'n3', false, true)).toBe(2000);
    expect(period(scenario({ intent: intent({ to: 'n2' }) }).snapshot, 'n3', false, true)).toBe(
      CATCHUP_PERIOD_MS,
    );
    expect(period(scenario({ intent: intent({ to: 'n2' }) }).snapshot, 'n1', false, true)).toBe(2000);
  });
});
