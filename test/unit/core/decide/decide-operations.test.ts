import { describe, expect, it } from 'vitest';
import { decide } from '../../../../core/decide/decide.ts';
import type { Step } from '../../../../core/decide/steps.ts';
import type { Leader, Member, Op } from '../../../../core/model/items.ts';
import {
  buildLeader,
  buildMember,
  buildOp,
  buildPrimary,
  MB,
  type Scenario,
  scenario,
  T0,
} from '../../../helpers/builders.ts';

const run = (s: Scenario) => decide(s.snapshot, s.observations, s.config, s.now);
const kinds = (steps: readonly Step[]) =>
  steps.map((s) => (s.kind === 'command' ? `command:${s.action}` : s.kind));
const crashed = [buildPrimary('n1'), buildMember('n2'), buildMember('n3')];

describe('decide() during a failover', () => {
  it('takes over when the lease is still at the observed rvn (rule 310)', () => {
    const decision = run(scenario({ members: crashed, stale: ['n1'], op: buildOp() }));
    expect(decision.rule).toBe(310);
    expect(decision.steps[0]).toMatchObject({
      kind: 'take_over',
      to: 'n2',
      term: 3,
      rvn: 'leader-rvn',
      onSuccess: { step: 'fence', version: 2 },
    });
  });

  it('moves on when the takeover already happened (rule 300)', () => {
    const decision = run(
      scenario({ members: crashed, leader: buildLeader({ holder: 'n2', term: 4, rvn: 'x' }), op: buildOp() }),
    );
    expect(decision.rule).toBe(300);
    expect(decision.steps).toEqual([
      { kind: 'update_op', op: expect.objectContaining({ step: 'fence', version: 2 }) },
    ]);
  });

  it('abandons the failover when the old holder renewed before the takeover (rule 320)', () => {
    const decision = run(
      scenario({ members: crashed, leader: buildLeader({ rvn: 'renewed' }), op: buildOp() }),
    );
    expect(decision.rule).toBe(320);
    expect(kinds(decision.steps)).toEqual(['end_op', 'notify']);
    expect(decision.steps[0]).not.toHaveProperty('history');
  });

  it('fences the old primary before anything is promoted (rule 340)', () => {
    const op = buildOp({ step: 'fence', version: 2 });
    const decision = run(scenario({ members: crashed, leader: buildLeader({ holder: 'n2', term: 4 }), op }));
    expect(decision.rule).toBe(340);
    expect(decision.steps).toEqual([
      expect.objectContaining({
        kind: 'fence',
        member: 'n1',
        term: 4,
        mode: 'safe',
        onSuccess: expect.objectContaining({ step: 'promote' }),
      }),
    ]);
  });

  it('keeps fencing, and never promotes, when fencing keeps failing (rule 330)', () => {
    const op = buildOp({ step: 'fence', version: 2, attempts: 9 });
    const decision = run(scenario({ members: crashed, leader: buildLeader({ holder: 'n2', term: 4 }), op }));
    expect(decision.rule).toBe(330);
    expect(kinds(decision.steps)).toEqual(['fence', 'notify']);
  });

  it('promotes the candidate at the new term (rule 360)', () => {
    const op = buildOp({ step: 'promote', version: 3 });
    const decision = run(scenario({ members: crashed, leader: buildLeader({ holder: 'n2', term: 4 }), op }));
    expect(decision.rule).toBe(360);
    expect(decision.steps).toEqual([
      expect.objectContaining({
        kind: 'command',
        action: 'promote',
        member: 'n2',
        term: 4,
        onSuccess: expect.objectContaining({ step: 'repoint' }),
      }),
    ]);
  });

  it('never promotes when the lease no longer names the candidate at the new term (rule 352)', () => {
    const op = buildOp({ step: 'promote', version: 3 });
    const decision = run(scenario({ members: crashed, leader: buildLeader({ holder: 'n3', term: 5 }), op }));
    expect(decision.rule).toBe(352);
    expect(kinds(decision.steps)).toEqual(['end_op', 'notify']);
  });

  it('recognises a promotion that already happened (rule 350)', () => {
    const op = buildOp({ step: 'promote', version: 3 });
    const members = [buildPrimary('n1'), buildPrimary('n2', { timeline: 2 }), buildMember('n3')];
    expect(run(scenario({ members, leader: buildLeader({ holder: 'n2', term: 4 }), op })).rule).toBe(350);
  });

  it('tries the next candidate when promotion keeps failing, fencing the failed one (rule 355)', () => {
    const op = buildOp({ step: 'promote', version: 3, attempts: 4 });
    const decision = run(
      scenario({ members: crashed, leader: buildLeader({ holder: 'n2', term: 4, rvn: 'r4' }), op }),
    );
    expect(decision.rule).toBe(355);
    expect(decision.steps).toEqual([
      {
        kind: 'update_op',
        op: expect.objectContaining({
          step: 'takeover',
          from: 'n2',
          to: 'n3',
          term: 4,
          observed_rvn: 'r4',
          excluded: ['n2'],
        }),
      },
    ]);
  });

  it('ends the failover with a history row and asks the others to follow (rule 370)', () => {
    const op = buildOp({ step: 'repoint', version: 4, timings: { detected: T0, fence: T0 + 1 } });
    const members = [
      buildPrimary('n1'),
      buildPrimary('n2', { timeline: 2 }),
      buildMember('n3', { upstream: 'n1' }),
    ];
    const decision = run(
      scenario({ members, stale: ['n1'], leader: buildLeader({ holder: 'n2', term: 4 }), op }),
    );
    expect(decision.rule).toBe(370);
    expect(kinds(decision.steps)).toEqual(['end_op', 'notify', 'command:rejoin']);
    expect(decision.steps[0]).toMatchObject({
      history: { term: 4, kind: 'failover', old: 'n1', new: 'n2', rule: 160 },
    });
    expect(decision.steps[2]).toMatchObject({ member: 'n3', leader: 'n2', term: 4 });
  });
});

describe('decide() for operator intents', () => {
  const intent = { id: 'i1', kind: 'switchover' as const, requested_by: 'alice', requested_at: T0 };

  it('starts a switchover by stopping the leader cleanly (rule 130)', () => {
    const decision = run(scenario({ intent: { ...intent, to: 'n3' } }));
    expect(decision.rule).toBe(130);
    expect(kinds(decision.steps)).toEqual(['begin_op', 'command:demote']);
    expect(decision.steps[0]).toMatchObject({
      op: { kind: 'switchover', step: 'demote', from: 'n1', to: 'n3', intent_id: 'i1' },
    });
  });

  it('picks the best candidate when none is named', () => {
    const members = [
      buildPrimary('n1'),
      buildMember('n2', { receive_lsn: 1, replay_lsn: 1 }),
      buildMember('n3'),
    ];
    expect(run(scenario({ members, intent })).steps[0]).toMatchObject({ op: { to: 'n3' } });
  });

  it('works while paused', () => {
    expect(run(scenario({ config: { pause: true }, intent })).rule).toBe(130);
  });

  it('waits for a scheduled switchover (rule 120)', () => {
    const decision = run(scenario({ intent: { ...intent, scheduled_at: T0 + 3_600_000 } }));
    expect(decision.rule).toBe(120);
    expect(decision.reason).toMatch(/scheduled at/);
  });

  it.each<[string, Partial<typeof intent> & { from?: string; to?: string }, Scenario | undefined, RegExp]>([
    ['a wrong leader', { from: 'n2' }, undefined, /n2 is not the leader \(n1 is\)/],
    ['an unknown member', { to: 'n9' }, undefined, /n9 is not a member/],
    ['the leader itself', { to: 'n1' }, undefined, /n1 is already the leader/],
    [
      'a nofailover candidate',
      { to: 'n2' },
      scenario({
        members: [
          buildPrimary('n1'),
          buildMember('n2', { tags: { ...buildMember('n2').tags, nofailover: true } }),
        ],
      }),
      /n2 is not eligible: tagged nofailover/,
    ],
    ['an unhealthy leader', {}, scenario({ stale: ['n1'] }), /needs a healthy leader/],
  ])('refuses a switchover to %s, clearing the intent', (_n, patch, base, reason) => {
    const s = base ?? scenario();
    const decision = run({ ...s, snapshot: { ...s.snapshot, intent: { ...intent, ...patch } } });
    expect(decision.rule).toBe(130);
    expect(decision.reason).toMatch(reason);
    expect(kinds(decision.steps)).toEqual(['resolve_intent', 'notify']);
  });

  it('ignores an intent the controller already resolved', () => {
    const done = { ...intent, outcome: { ok: true, message: 'done', at: T0 } };
    expect(run(scenario({ intent: done })).rule).toBe(290);
  });

  it.each(['restart', 'reinit'] as const)('runs a %s request on the member, then resolves it', (kind) => {
    const decision = run(scenario({ intent: { ...intent, kind, to: 'n2' } }));
    expect(decision.steps).toEqual([
      {
        kind: 'command',
        action: kind,
        member: 'n2',
        term: 3,
        ...(kind === 'reinit' ? { leader: 'n1' } : {}),
      },
      { kind: 'resolve_intent', id: 'i1', ok: true, message: `${kind} of n2 requested by alice: done` },
    ]);
  });

  it('refuses to reinit the leader', () => {
    const decision = run(scenario({ intent: { ...intent, kind: 'reinit', to: 'n1' } }));
    expect(decision.reason).toMatch(/n1 is the leader/);
  });

  it('turns a failover intent into a takeover when the lease has expired', () => {
    const s = scenario({
      stale: ['n1'],
      leaderExpired: true,
      intent: { ...intent, kind: 'failover', to: 'n3' },
    });
    const decision = run(s);
    expect(kinds(decision.steps)).toEqual(['begin_op', 'take_over']);
    expect(decision.steps[1]).toMatchObject({ to: 'n3' });
  });
});

describe('decide() during a switchover', () => {
  const op = buildOp({
    kind: 'switchover',
    step: 'catchup',
    version: 2,
    step_started_at: T0 + 59_000,
    last_result: { action: 'demote', member: 'n1', ok: true, lsn: 10 * MB, at: T0 },
  });
  const stopped = [buildPrimary('n1', { state: 'stopped' }), buildMember('n2'), buildMember('n3')];

  it('hands the lease over once the candidate received the final LSN (rule 430)', () => {
    const decision = run(scenario({ members: stopped, op }));
    expect(decision.rule).toBe(430);
    expect(decision.steps[0]).toMatchObject({
      kind: 'hand_over',
      from: 'n1',
      to: 'n2',
      term: 3,
      onSuccess: { step: 'promote', lsn: 10 * MB },
    });
  });

  it('in synchronous mode records at hand-over the standbys that hold the final LSN (rule 430)', () => {
    const config = { synchronous_mode: true };
    const handOver = (members: Member[]) => run(scenario({ config, members, op })).steps[0];
    expect(handOver(stopped)).toMatchObject({ kind: 'hand_over', to: 'n2', sync: ['n3'] });
    // A standby whose heartbeat predates the final LSN is waited for, up to loop_wait (rule 425).
    const behind = [stopped[0]!, stopped[1]!, buildMember('n3', { receive_lsn: 9 * MB, replay_lsn: 9 * MB })];
    const waiting = run(scenario({ config, members: behind, op }));
    expect(waiting).toMatchObject({ rule: 425, steps: [] });
    expect(waiting.reason).toContain('waiting for n3 to report the final LSN of n1');
    const late = { ...op, step_started_at: T0 + 30_000 };
    const given = run(scenario({ config, members: behind, op: late }));
    expect(given.rule).toBe(430);
    expect(given.steps[0]).not.toHaveProperty('sync');
    const nosync = buildMember('n3', { tags: { ...stopped[2]!.tags, nosync: true } });
    expect(handOver([stopped[0]!, stopped[1]!, nosync])).not.toHaveProperty('sync');
    const cascading = buildMember('n3', { tags: { ...stopped[2]!.tags, replicatefrom: 'n2' } });
    expect(handOver([stopped[0]!, stopped[1]!, cascading])).not.toHaveProperty('sync');
    const four = [...stopped, buildMember('n4')];
    expect(handOver(four)).toMatchObject({ sync: ['n3'] });
    const two = { ...config, synchronous_node_count: 2 };
    expect(run(scenario({ config: two, members: four, op })).steps[0]).toMatchObject({ sync: ['n3', 'n4'] });
    expect(run(scenario({ members: stopped, op })).steps[0]).not.toHaveProperty('sync');
  });

  it('never hands the lease to a candidate whose position past the final LSN is diverged WAL of an older timeline (rule 450)', () => {
    // The lease's timeline 2 branched off at 8 MB; n2 is still on timeline 1, at 12 MB.
    const leader = buildLeader({ holder: 'n1', term: 3, timeline: 2, timeline_switch_lsn: 8 * MB });
    const members = [
      buildPrimary('n1', { state: 'stopped', timeline: 2 }),
      buildMember('n2', { timeline: 1, receive_lsn: 12 * MB, replay_lsn: 12 * MB }),
    ];
    expect(run(scenario({ members, leader, op: { ...op, step_started_at: T0 + 59_000 } })).rule).toBe(450);
  });

  it('waits while the candidate is behind the final LSN (rule 450)', () => {
    const members = [stopped[0]!, buildMember('n2', { receive_lsn: 5 * MB, replay_lsn: 5 * MB })];
    expect(run(scenario({ members, op: { ...op, step_started_at: T0 + 59_000 } })).rule).toBe(450);
  });

  it('rolls back when the candidate does not catch up in time (rule 440)', () => {
    const members = [stopped[0]!, buildMember('n2', { receive_lsn: 5 * MB, replay_lsn: 5 * MB })];
    const decision = run(scenario({ members, op: { ...op, step_started_at: T0 - 60_000 } }));
    expect(decision.rule).toBe(440);
    expect(kinds(decision.steps)).toEqual(['command:restart', 'end_op', 'notify']);
    expect(decision.steps[0]).toMatchObject({ action: 'restart', member: 'n1', term: 3 });
  });

  it('a candidate that cannot be promoted after the hand-over: the operation goes on as a failover to the next, within the lag bound (rule 465)', () => {
    // Found by the fault campaign: the switchover used to move to a takeover step no rule serves.
    const failing = buildOp({
      kind: 'switchover',
      step: 'promote',
      version: 4,
      attempts: 4,
      lsn: 10 * MB,
      last_result: { action: 'promote', member: 'n2', ok: false, message: 'unreachable', at: T0 },
    });
    const members = [
      buildPrimary('n1', { state: 'stopped' }),
      buildMember('n2'),
      buildMember('n3', { receive_lsn: 10 * MB }),
    ];
    const leader = buildLeader({ holder: 'n2', term: 4, rvn: 'r4' });
    const decision = run(scenario({ members, leader, op: failing }));
    expect(decision.rule).toBe(465);
    const next = (decision.steps[0] as Extract<Step, { kind: 'update_op' }>).op;
    expect(next).toMatchObject({ kind: 'failover', step: 'takeover', from: 'n2', to: 'n3', term: 4 });
    // ... which the failover rules carry on: take the lease over for n3 (then fence n2).
    const after = run(scenario({ members, leader, op: next }));
    expect(after.rule).toBe(310);
    expect(after.steps[0]).toMatchObject({ kind: 'take_over', from: 'n2', to: 'n3', term: 4 });
    // A next candidate beyond maximum_lag_on_failover is not taken: the operation ends instead.
    const far = [members[0]!, members[1]!, buildMember('n3', { receive_lsn: 1 * MB, replay_lsn: 1 * MB })];
    const ended = run(scenario({ members: far, leader: { ...leader, lsn: 10 * MB }, op: failing }));
    expect(kinds(ended.steps)).toContain('end_op');
  });

  it('in synchronous mode re-points the recorded standbys to the candidate before promoting it, not waited for (rule 470)', () => {
    const promoting = buildOp({ kind: 'switchover', step: 'promote', version: 4, lsn: 10 * MB });
    const leader = buildLeader({ holder: 'n2', term: 4, rvn: 'r4', sync: ['n3'] });
    const members = [buildPrimary('n1', { state: 'stopped' }), buildMember('n2'), buildMember('n3')];
    const decision = run(scenario({ config: { synchronous_mode: true }, members, leader, op: promoting }));
    expect(decision.rule).toBe(470);
    expect(kinds(decision.steps)).toEqual(['command:rejoin', 'command:promote']);
    expect(decision.steps[0]).toMatchObject({ member: 'n3', leader: 'n2', term: 4, wait: false });
    expect(decision.rejoinRequested).toEqual([{ member: 'n3', target: 'n2@4' }]);
    expect(decision.reason).toContain('n3 follow it already');
    // Already following it, not recorded, cascading by its own tag, or a failover: promote only.
    const following = [members[0]!, members[1]!, buildMember('n3', { upstream: 'n2' })];
    const cascading = [
      members[0]!,
      members[1]!,
      buildMember('n3', { tags: { ...members[2]!.tags, replicatefrom: 'n1' } }),
    ];
    const cases: [Member[], Leader, Op][] = [
      [following, leader, promoting],
      [cascading, leader, promoting],
      [members, { ...leader, sync: [] }, promoting],
      [members, leader, { ...promoting, kind: 'failover' }],
    ];
    for (const [m, l, o] of cases)
      expect(
        kinds(run(scenario({ config: { synchronous_mode: true }, members: m, leader: l, op: o })).steps),
      ).toEqual(['command:promote']);
  });

  it('rolls back when the clean stop keeps failing (rule 400)', () => {
    const demote = buildOp({ kind: 'switchover', step: 'demote', attempts: 4 });
    expect(run(scenario({ op: demote })).rule).toBe(400);
  });

  it('rejoins the old primary as a replica at the end (rule 480)', () => {
    const end = buildOp({ kind: 'switchover', step: 'repoint', version: 5 });
    const members = [
      buildMember('n1', { state: 'stopped', role: 'replica', upstream: null }),
      buildPrimary('n2', { timeline: 2 }),
      buildMember('n3', { upstream: 'n2' }),
    ];
    const decision = run(scenario({ members, leader: buildLeader({ holder: 'n2', term: 4 }), op: end }));
    expect(decision.rule).toBe(480);
    expect(decision.steps.filter((s) => s.kind === 'command')).toEqual([
      { kind: 'command', action: 'rejoin', member: 'n1', term: 4, leader: 'n2', wait: false },
    ]);
  });

  it('re-points first the standbys the new primary waits for (rule 480, synchronous_mode)', () => {
    const end = buildOp({ kind: 'switchover', step: 'repoint', version: 5 });
    const members = [
      buildMember('n1', { state: 'stopped', role: 'replica', upstream: null }),
      buildPrimary('n2', { timeline: 2 }),
      buildMember('n3', { upstream: 'n1' }),
    ];
    const leader = buildLeader({ holder: 'n2', term: 4, sync: ['n3'] });
    const decision = run(scenario({ config: { synchronous_mode: true }, members, leader, op: end }));
    expect(decision.rule).toBe(480);
    const rejoins = decision.steps.filter((s) => s.kind === 'command').map((s) => s.member);
    expect(rejoins).toEqual(['n3', 'n1']);
  });
});
