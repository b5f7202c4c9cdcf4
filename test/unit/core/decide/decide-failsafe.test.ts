import { describe, expect, it } from 'vitest';
import { decide } from '../../../../core/decide/decide.ts';
import {
  buildMember,
  buildPrimary,
  clusterWithExpiredLease,
  type Scenario,
} from '../../../helpers/builders.ts';

function run(s: Scenario) {
  return decide(s.snapshot, s.observations, s.config, s.now, { configValid: true });
}

/** The primary n1 (lease term 3) cannot reach DynamoDB; its replicas may have promised it (DESIGN §3). */
function primaryInFailsafe(
  promises: Record<string, { holder?: string; term?: number; remaining_ms?: number } | undefined>,
  config = {},
) {
  return clusterWithExpiredLease({
    config,
    members: [
      buildPrimary('n1'),
      ...['n2', 'n3'].map((name) =>
        buildMember(name, {
          ...(promises[name]
            ? { failsafe_promise: { holder: 'n1', term: 3, remaining_ms: 3000, ...promises[name] } }
            : {}),
        }),
      ),
    ],
  });
}

describe('decide() while the primary is in failsafe (rule 155)', () => {
  it('fails over nobody when every fresh member promised the holder at its term, and notifies once', () => {
    const s = primaryInFailsafe({ n2: {}, n3: {} });
    const decision = run(s);
    expect(decision.rule).toBe(155);
    expect(decision.reason).toMatch(/n1 is in failsafe: .* every fresh member \(n2, n3\) answers its pings/);
    expect(decision.steps).toEqual([
      { kind: 'notify', event: expect.objectContaining({ type: 'failsafe_active', term: 3 }) },
    ]);
    const again = run({ ...s, observations: { ...s.observations, notice: decision.notice! } });
    expect(again.rule).toBe(155);
    expect(again.steps).toEqual([]);
  });

  it.each([
    ['no member reports a promise', { n2: undefined, n3: undefined }],
    ['the promises are to another holder', { n2: { holder: 'n2' }, n3: { holder: 'n2' } }],
    ['the promises are at an older term', { n2: { term: 2 }, n3: { term: 2 } }],
    [
      'the promises have run out since their heartbeats',
      { n2: { remaining_ms: 400 }, n3: { remaining_ms: 100 } },
    ],
  ])('proceeds with the usual failover when %s (rule 160)', (_why, promises) => {
    expect(run(primaryInFailsafe(promises)).rule).toBe(160);
  });

  it('waits up to a ttl past the expiry for members that have not reported a promise yet, then fails over', () => {
    const s = primaryInFailsafe({ n2: {}, n3: undefined });
    const waiting = run(s);
    expect(waiting.rule).toBe(155);
    expect(waiting.steps).toEqual([]);
    expect(waiting.reason).toMatch(/n1 may be in failsafe: 1 member\(s\) promised it; waiting .* for n3/);
    const leader = s.observations.leader!;
    const later = { ...s, observations: { ...s.observations, leader: { ...leader, unchangedMs: 20_001 } } };
    expect(run(later).rule).toBe(160);
  });

  it('ignores promises when failsafe_mode is off', () => {
    expect(run(primaryInFailsafe({ n2: {}, n3: {} }, { failsafe_mode: false })).rule).toBe(160);
  });
});
