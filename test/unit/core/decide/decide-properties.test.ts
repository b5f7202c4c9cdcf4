import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exclusionReason } from '../../../../core/decide/candidates.ts';
import { decide } from '../../../../core/decide/decide.ts';
import type { Step } from '../../../../core/decide/steps.ts';
import { OP_STEPS } from '../../../../core/model/items.ts';
import {
  buildLeader,
  buildMember,
  buildOp,
  MB,
  type Scenario,
  scenario,
  T0,
} from '../../../helpers/builders.ts';

const NAMES = ['n1', 'n2', 'n3', 'n4', 'n5'];

const memberArb = (name: string) =>
  fc
    .record({
      role: fc.constantFrom('primary', 'replica', 'unknown'),
      state: fc.constantFrom('running', 'stopped', 'crashed', 'fenced', 'starting'),
      lsn: fc.integer({ min: 0, max: 20 * MB }),
      timeline: fc.integer({ min: 1, max: 3 }),
      nofailover: fc.boolean(),
      priority: fc.integer({ min: 0, max: 3 }),
      fresh: fc.boolean(),
      upstream: fc.constantFrom(...NAMES, null),
    })
    .map((m) => ({
      member: buildMember(name, {
        role: m.role as 'primary',
        state: m.state as 'running',
        receive_lsn: m.lsn,
        replay_lsn: m.lsn,
        timeline: m.timeline,
        upstream: m.upstream,
        tags: {
          nofailover: m.nofailover,
          failover_priority: m.priority,
          noloadbalance: false,
          nosync: false,
          clonefrom: false,
        },
      }),
      fresh: m.fresh,
    }));

const clusterArb = fc
  .record({
    count: fc.integer({ min: 1, max: 5 }),
    members: fc.tuple(...NAMES.map(memberArb)),
    hasLeader: fc.boolean(),
    holder: fc.constantFrom(...NAMES),
    term: fc.integer({ min: 1, max: 5 }),
    sync: fc.subarray(NAMES),
    released: fc.boolean(),
    expired: fc.boolean(),
    leaderLsn: fc.integer({ min: 0, max: 20 * MB }),
    leaderTimeline: fc.integer({ min: 1, max: 3 }),
    synchronous: fc.boolean(),
    checkTimeline: fc.boolean(),
    pause: fc.boolean(),
    op: fc.option(
      fc.record({
        kind: fc.constantFrom('failover', 'switchover'),
        step: fc.constantFrom(...OP_STEPS),
        to: fc.constantFrom(...NAMES),
        attempts: fc.integer({ min: 0, max: 5 }),
      }),
      { nil: undefined },
    ),
    intent: fc.option(
      fc.record({
        kind: fc.constantFrom('switchover', 'failover'),
        to: fc.option(fc.constantFrom(...NAMES), { nil: undefined }),
      }),
      { nil: undefined },
    ),
  })
  .map((c): Scenario => {
    const chosen = c.members.slice(0, c.count);
    const leader = c.hasLeader
      ? buildLeader({
          holder: c.holder,
          term: c.term,
          sync: c.sync,
          released: c.released,
          lsn: c.leaderLsn,
          timeline: c.leaderTimeline,
        })
      : null;
    return scenario({
      members: chosen.map((m) => m.member),
      stale: chosen.filter((m) => !m.fresh).map((m) => m.member.name),
      leader,
      leaderExpired: c.expired,
      config: { synchronous_mode: c.synchronous, check_timeline: c.checkTimeline, pause: c.pause },
      ...(c.op
        ? {
            op: buildOp({
              kind: c.op.kind as 'failover',
              step: c.op.step,
              to: c.op.to,
              from: c.holder,
              term: c.term,
              attempts: c.op.attempts,
            }),
          }
        : {}),
      ...(c.intent
        ? {
            intent: {
              id: 'i',
              kind: c.intent.kind as 'switchover',
              ...(c.intent.to ? { to: c.intent.to } : {}),
              requested_by: 'p',
              requested_at: T0,
            },
          }
        : {}),
    });
  });

const run = (s: Scenario) => decide(s.snapshot, s.observations, s.config, s.now);
const promotions = (steps: readonly Step[]) =>
  steps.filter((s) => s.kind === 'command' && s.action === 'promote');

describe('decide() invariants (property-based)', () => {
  it('never promotes a member unless the lease names it at the promotion term', () => {
    fc.assert(
      fc.property(clusterArb, (s) => {
        for (const step of promotions(run(s).steps)) {
          if (step.kind !== 'command') continue;
          expect(s.snapshot.leader?.holder).toBe(step.member);
          expect(s.snapshot.leader?.term).toBe(step.term);
          expect(s.snapshot.op?.step).toBe('promote');
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('never promotes during the takeover or fencing steps', () => {
    fc.assert(
      fc.property(clusterArb, (s) => {
        if (s.snapshot.op?.step === 'takeover' || s.snapshot.op?.step === 'fence') {
          expect(promotions(run(s).steps)).toEqual([]);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('only takes the lease over for an eligible member, and only when the lease is gone', () => {
    fc.assert(
      fc.property(clusterArb, (s) => {
        const decision = run(s);
        for (const step of decision.steps) {
          if (step.kind !== 'take_over' || s.snapshot.op) continue;
          expect(!s.snapshot.leader || s.observations.leader?.expired).toBe(true);
          const member = s.snapshot.members.find((m) => m.name === step.to)!;
          const input = {
            members: s.snapshot.members,
            observations: s.observations,
            config: s.config,
            ...(s.snapshot.leader ? { leader: s.snapshot.leader } : {}),
          };
          expect(exclusionReason(member, input, {})).toBeUndefined();
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('in synchronous mode, only ever picks a recorded synchronous standby', () => {
    fc.assert(
      fc.property(clusterArb, (s) => {
        if (!s.config.synchronous_mode || !s.snapshot.leader || s.snapshot.op) return;
        for (const step of run(s).steps) {
          if (step.kind === 'take_over') expect(s.snapshot.leader.sync).toContain(step.to);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('decides the same whatever the host clocks say', () => {
    fc.assert(
      fc.property(clusterArb, fc.integer({ min: -1e12, max: 1e12 }), (s, skew) => {
        const skewed: Scenario = {
          ...s,
          snapshot: {
            ...s.snapshot,
            ...(s.snapshot.leader
              ? { leader: { ...s.snapshot.leader, renewed_at: Math.abs(T0 + skew) } }
              : {}),
            members: s.snapshot.members.map((m) => ({ ...m, heartbeat_at: Math.abs(m.heartbeat_at + skew) })),
          },
        };
        expect(run(skewed)).toEqual(run(s));
      }),
      { numRuns: 1000 },
    );
  });

  it('does nothing automatic while paused and idle, unless an operator asked', () => {
    fc.assert(
      fc.property(clusterArb, (s) => {
        if (!s.config.pause || s.snapshot.op || s.snapshot.intent) return;
        const decision = run(s);
        expect(decision.steps.filter((x) => x.kind !== 'notify')).toEqual([]);
      }),
      { numRuns: 2000 },
    );
  });
});
