import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LeaseKeeper } from '../../../agent/lease/lease-keeper.ts';
import { ConditionFailedError, StoreUnavailableError } from '../../../core/errors.ts';
import type { CoordinationStore } from '../../../core/store/coordination-store.ts';

const config = { ttl: 10, safety_margin: 2 };
const position = { lsn: 1, timeline: 1 };

function keeper(renew: () => Promise<unknown>, clock: { now: number }) {
  const lost: string[] = [];
  const renewLease = vi.fn(renew);
  const store = { renewLease } as unknown as CoordinationStore;
  const k = new LeaseKeeper({
    store,
    cluster: 'c',
    member: 'n1',
    monotonic: () => clock.now,
    wallClock: () => 0,
    onLost: (reason) => lost.push(reason),
  });
  return { k, lost, renewLease };
}

describe('the lease keeper', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('is valid from a renewal until ttl - safety_margin after the renewal began', async () => {
    const clock = { now: 1000 };
    const { k } = keeper(async () => {
      clock.now += 500; // the write takes 500 ms: the deadline still counts from its start
    }, clock);
    expect(await k.renew(1, config, position)).toBe('renewed');
    expect(k.remainingMs()).toBe(8000 - 500);
    clock.now = 1000 + 7999;
    expect(k.isValid()).toBe(true);
    clock.now = 1000 + 8000;
    expect(k.isValid()).toBe(false);
  });

  it('reports a lost lease at once on ConditionalCheckFailed', async () => {
    const clock = { now: 0 };
    let fail = false;
    const { k, lost } = keeper(async () => {
      if (fail) throw new ConditionFailedError('renewLease', 'taken');
    }, clock);
    await k.renew(1, config, position);
    fail = true;
    expect(await k.renew(1, config, position)).toBe('lost');
    expect(lost).toEqual(['taken']);
    expect(k.isValid()).toBe(false);
  });

  it('keeps the old deadline on a transient error, and fences when it passes', async () => {
    const clock = { now: 0 };
    let fail = false;
    const { k, lost } = keeper(async () => {
      if (fail) throw new StoreUnavailableError('renewLease');
    }, clock);
    await k.renew(1, config, position);
    fail = true;
    clock.now = 4000;
    expect(await k.renew(1, config, position)).toBe('error');
    expect(k.remainingMs()).toBe(4000);
    clock.now = 8000;
    await vi.advanceTimersByTimeAsync(8000);
    expect(lost).toEqual(['deadline']);
  });

  it('still fences when the timer fires before the monotonic clock reaches the deadline', async () => {
    const clock = { now: 0 };
    const { k, lost } = keeper(async () => {}, clock);
    await k.renew(1, config, position);
    clock.now = 7999.5; // timer due, clock half a millisecond short
    await vi.advanceTimersByTimeAsync(8000);
    expect(lost).toEqual([]);
    clock.now = 8000;
    await vi.advanceTimersByTimeAsync(10);
    expect(lost).toEqual(['deadline']);
  });

  it('forgets the lease without fencing when cleared (demoted or shutting down)', async () => {
    const clock = { now: 0 };
    const { k, lost } = keeper(async () => {}, clock);
    await k.renew(1, config, position);
    k.clear();
    clock.now = 9000;
    await vi.advanceTimersByTimeAsync(9000);
    expect(lost).toEqual([]);
  });

  it('runs one renewal at a time: a second caller for the same term shares the one in flight', async () => {
    const clock = { now: 0 };
    let finish: () => void = () => {};
    const { k, renewLease } = keeper(() => new Promise<void>((resolve) => (finish = resolve)), clock);
    const first = k.renew(1, config, position);
    clock.now = 300;
    const second = k.renew(1, config, position);
    expect(renewLease).toHaveBeenCalledTimes(1);
    expect(k.sinceRenewalBegan()).toBe(300);
    finish();
    expect(await first).toBe('renewed');
    expect(await second).toBe('renewed');
    // Another term is another renewal (a promotion), and once settled the next one is new too.
    const promoted = k.renew(2, config, position);
    expect(renewLease).toHaveBeenCalledTimes(2);
    finish();
    expect(await promoted).toBe('renewed');
    void k.renew(2, config, position);
    expect(renewLease).toHaveBeenCalledTimes(3);
  });
});
