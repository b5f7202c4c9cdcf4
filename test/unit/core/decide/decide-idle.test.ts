import { describe, expect, it } from 'vitest';
import { decide } from '../../../../core/decide/decide.ts';
import type { Step } from '../../../../core/decide/steps.ts';
import {
  buildLeader,
  buildMember,
  buildPrimary,
  clusterWithExpiredLease,
  MB,
  type Scenario,
  scenario,
  T0,
} from '../../../helpers/builders.ts';

function run(s: Scenario, configValid = true) {
  return decide(s.snapshot, s.observations, s.config, s.now, { configValid });
}

const kinds = (steps: readonly Step[]) =>
  steps.map((s) => (s.kind === 'command' ? `command:${s.action}` : s.kind));

describe('decide() with no operation in flight', () => {
  it.each<[string, number, Scenario, RegExp]>([
    [
      'a cluster that was never bootstrapped',
      100,
      {
        ...scenario({ leader: null }),
        snapshot: { ...scenario({ leader: null }).snapshot, initialize: undefined },
      },
      /not bootstrapped/,
    ],
    [
      'a paused cluster whose lease expired',
      140,
      clusterWithExpiredLease({ config: { pause: true } }),
      /paused/,
    ],
    ['a first primary still bootstrapping', 150, scenario({ leader: null }), /still bootstrapping/],
    ['a healthy cluster', 290, scenario(), /n1 holds the lease at term 3; 2 replica/],
  ])('waits for %s (rule %i)', (_name, rule, s, reason) => {
    const decision = run(s);
    expect(decision.rule).toBe(rule);
    expect(decision.reason).toMatch(reason);
    expect(decision.steps.filter((x) => x.kind !== 'notify')).toEqual([]);
  });

  it('decides nothing while the config item is malformed, and says so once (rule 110)', () => {
    const s = clusterWithExpiredLease();
    const first = run(s, false);
    expect(first.rule).toBe(110);
    expect(kinds(first.steps)).toEqual(['notify']);
    const again = run(clusterWithExpiredLease({ notice: first.notice! }), false);
    expect(again.steps).toEqual([]);
  });

  it('fails over to the most advanced replica when the lease expired (rule 160)', () => {
    const s = clusterWithExpiredLease({
      members: [
        buildPrimary('n1'),
        buildMember('n2', { receive_lsn: 9 * MB, replay_lsn: 9 * MB }),
        buildMember('n3', { receive_lsn: 10 * MB }),
      ],
    });
    const decision = run(s);
    expect(decision.rule).toBe(160);
    expect(kinds(decision.steps)).toEqual(['begin_op', 'take_over']);
    expect(decision.steps[1]).toMatchObject({
      kind: 'take_over',
      from: 'n1',
      to: 'n3',
      term: 3,
      rvn: 'leader-rvn',
    });
    expect(decision.reason).toMatch(/lease of n1 unchanged for 11.0 s \(ttl 10 s\); promoting n3/);
  });

  it('a member behind the lease timeline: its lag counts from where that timeline branched off (diverged WAL looks ahead)', () => {
    // n1 (the lease holder, crashed) promoted onto timeline 2 at 11 MB and wrote on to 20 MB; n2
    // is a demoted old primary not rewound yet, whose timeline-1 WAL went on to 12 MB.
    const leader = buildLeader({ timeline: 2, lsn: 20 * MB });
    const holder = buildPrimary('n1', { timeline: 2, timeline_switch_lsn: 11 * MB });
    const diverged = buildMember('n2', { timeline: 1, receive_lsn: 12 * MB, replay_lsn: 12 * MB });
    const current = buildMember('n3', { timeline: 2, receive_lsn: 19.5 * MB, replay_lsn: 19.5 * MB });
    expect(
      run(clusterWithExpiredLease({ leader, members: [holder, diverged, current] })).steps[1],
    ).toMatchObject({ kind: 'take_over', to: 'n3' });
    // It lacks 9 MB of timeline 2, not 0: beyond maximum_lag_on_failover.
    const alone = run(clusterWithExpiredLease({ leader, members: [holder, diverged] }));
    expect(alone.rule).toBe(170);
    expect(alone.reason).toMatch(
      /n2: lag 9 MB \(it left timeline 2 at 0\/B00000\) > maximum_lag_on_failover/,
    );
    // Close to the branch point, it is a candidate (what it lacks is within the bound), ranked by
    // what it holds of timeline 2, not by its diverged position.
    const near = buildLeader({ timeline: 2, lsn: 11.5 * MB });
    expect(
      run(clusterWithExpiredLease({ leader: near, members: [holder, diverged] })).steps[1],
    ).toMatchObject({
      kind: 'take_over',
      to: 'n2',
    });
    const ahead = buildMember('n3', { timeline: 2, receive_lsn: 11.2 * MB, replay_lsn: 11.2 * MB });
    expect(
      run(clusterWithExpiredLease({ leader: near, members: [holder, diverged, ahead] })).steps[1],
    ).toMatchObject({ kind: 'take_over', to: 'n3' });
    // The lease keeps the branch point while its holder is down (its heartbeat says nothing).
    const down = buildPrimary('n1', { state: 'fenced', role: 'unknown', timeline: null });
    const kept = { ...near, timeline_switch_lsn: 11 * MB };
    expect(run(clusterWithExpiredLease({ leader: kept, members: [down, diverged] })).steps[1]).toMatchObject({
      kind: 'take_over',
      to: 'n2',
    });
    // The branch point unknown, or two timelines behind: not a candidate.
    const unknown = run(clusterWithExpiredLease({ leader: near, members: [down, diverged] }));
    expect(unknown.rule).toBe(170);
    expect(unknown.reason).toContain(
      "n2: timeline 1 behind the lease's 2 (where it branched off is unknown)",
    );
    const far = clusterWithExpiredLease({
      leader: buildLeader({ timeline: 3, lsn: 11.5 * MB, timeline_switch_lsn: 11 * MB }),
      members: [down, diverged],
    });
    expect(run(far).reason).toContain('more than one timeline behind');
  });

  it('fails over without waiting when the holder released the lease (rule 160)', () => {
    const s = scenario({ leader: buildLeader({ released: true }) });
    const decision = run(s);
    expect(decision.rule).toBe(160);
    expect(decision.reason).toMatch(/n1 released the lease/);
  });

  it('does not fail over while the lease is renewed, even if the primary heartbeat is stale', () => {
    expect(run(scenario({ stale: ['n1'] })).steps.some((s) => s.kind === 'take_over')).toBe(false);
  });

  it.each<[string, Scenario, string]>([
    [
      'lag',
      clusterWithExpiredLease({
        members: [buildPrimary('n1'), buildMember('n2', { receive_lsn: 6 * MB, replay_lsn: 6 * MB })],
      }),
      'n2: lag 4 MB > maximum_lag_on_failover 1 MB',
    ],
    [
      'nofailover',
      clusterWithExpiredLease({
        members: [
          buildPrimary('n1'),
          buildMember('n2', { tags: { ...buildMember('n2').tags, nofailover: true } }),
        ],
      }),
      'n2: tagged nofailover',
    ],
    [
      'failover_priority 0',
      clusterWithExpiredLease({
        members: [
          buildPrimary('n1'),
          buildMember('n2', { tags: { ...buildMember('n2').tags, failover_priority: 0 } }),
        ],
      }),
      'n2: failover_priority is 0',
    ],
    [
      'stale heartbeat',
      clusterWithExpiredLease({ members: [buildPrimary('n1'), buildMember('n2')], stale: ['n1', 'n2'] }),
      'n2: heartbeat unchanged for 12.0 s',
    ],
    [
      'stopped PostgreSQL',
      clusterWithExpiredLease({ members: [buildPrimary('n1'), buildMember('n2', { state: 'stopped' })] }),
      'n2: PostgreSQL is stopped',
    ],
    [
      'timeline',
      clusterWithExpiredLease({
        config: { check_timeline: true },
        leader: buildLeader({ timeline: 2 }),
        members: [buildPrimary('n1'), buildMember('n2', { timeline: 1 })],
      }),
      'n2: timeline 1, expected 2',
    ],
    [
      'not a sync standby',
      clusterWithExpiredLease({
        config: { synchronous_mode: true },
        members: [buildPrimary('n1'), buildMember('n2')],
      }),
      'n2: not a recorded synchronous standby',
    ],
    [
      'no LSN',
      clusterWithExpiredLease({
        members: [buildPrimary('n1'), buildMember('n2', { receive_lsn: null, replay_lsn: null })],
      }),
      'n2: reports no received',
    ],
  ])('refuses to fail over for %s, saying why each member was excluded (rule 170)', (_n, s, reason) => {
    const decision = run(s);
    expect(decision.rule).toBe(170);
    expect(decision.reason).toContain(reason);
    expect(kinds(decision.steps)).toEqual(['notify']);
    expect(decision.steps[0]).toMatchObject({ kind: 'notify', event: { type: 'failover_refused' } });
  });

  describe('a lease holder that fenced itself while no replica could take over (rule 165)', () => {
    const fenced = buildPrimary('n1', { state: 'fenced', role: 'unknown', timeline: null });
    // Synchronous mode with no standby recorded: no replica may be promoted.
    const stuck = (options: Parameters<typeof clusterWithExpiredLease>[0] = {}) =>
      clusterWithExpiredLease({
        config: { synchronous_mode: true },
        members: [fenced, buildMember('n2'), buildMember('n3')],
        stale: [],
        ...options,
      });

    it('is restarted as primary at its term, and the operators told once', () => {
      const decision = run(stuck());
      expect(decision.rule).toBe(165);
      expect(kinds(decision.steps)).toEqual(['notify', 'command:restart']);
      expect(decision.steps[1]).toMatchObject({ member: 'n1', term: 3 });
      expect(decision.reason).toMatch(
        /n2: not a recorded synchronous standby.*restarting n1, the lease holder, as primary at term 3/,
      );
      expect(decision.rejoinRequested).toEqual([{ member: 'n1', target: 'restart:n1@3' }]);
      const again = run(stuck({ notice: decision.notice! }));
      expect(kinds(again.steps)).toEqual(['command:restart']);
    });

    it('is not asked twice within command_timeout', () => {
      const s = stuck();
      const asked = {
        ...s.observations,
        rejoinRequested: { n1: { at: s.now - 1000, target: 'restart:n1@3' } },
      };
      const decision = decide(s.snapshot, asked, s.config, s.now, { configValid: true });
      expect(decision.rule).toBe(165);
      expect(decision.steps).toEqual([]);
      const later = {
        ...asked,
        rejoinRequested: { n1: { at: s.now - s.config.command_timeout * 1000, target: 'restart:n1@3' } },
      };
      expect(kinds(decide(s.snapshot, later, s.config, s.now, { configValid: true }).steps)).toContain(
        'command:restart',
      );
    });

    it.each<[string, Scenario, number]>([
      ['its heartbeat is stale (the host may be down)', stuck({ stale: ['n1'] }), 170],
      [
        'it released the lease (it stopped on purpose)',
        stuck({ leader: buildLeader({ released: true }) }),
        170,
      ],
      [
        'it still runs (it is renewing, or cannot)',
        stuck({ members: [buildPrimary('n1'), buildMember('n2')] }),
        170,
      ],
      [
        'a replica is eligible (the failover comes first)',
        clusterWithExpiredLease({ members: [fenced, buildMember('n2')], stale: [] }),
        160,
      ],
    ])('is left alone when %s', (_why, s, rule) => {
      expect(run(s).rule).toBe(rule);
    });
  });

  it('notifies a refusal once, not every tick', () => {
    const s = clusterWithExpiredLease({
      members: [buildPrimary('n1'), buildMember('n2', { state: 'stopped' })],
    });
    const first = run(s);
    const second = run(clusterWithExpiredLease({ members: s.snapshot.members, notice: first.notice! }));
    expect(second.rule).toBe(170);
    expect(second.steps).toEqual([]);
  });

  it('prefers failover_priority, then name, between replicas at the same LSN', () => {
    const s = clusterWithExpiredLease({
      members: [
        buildPrimary('n1'),
        buildMember('n2'),
        buildMember('n3', { tags: { ...buildMember('n3').tags, failover_priority: 5 } }),
        buildMember('n4'),
      ],
    });
    expect(run(s).steps[1]).toMatchObject({ to: 'n3' });
  });

  it('fences a member that reports a primary without holding the lease (rule 180)', () => {
    const s = scenario({ members: [buildPrimary('n1'), buildPrimary('n2'), buildMember('n3')] });
    const decision = run(s);
    expect(decision.rule).toBe(180);
    expect(decision.steps[0]).toMatchObject({ kind: 'fence', member: 'n2', mode: 'safe' });
    expect(kinds(decision.steps)).toEqual(['fence', 'notify']);
  });

  it('asks a fenced or mis-pointed member to rejoin the leader, at most once per command_timeout (rule 230)', () => {
    const s = scenario({
      members: [
        buildPrimary('n1'),
        buildMember('n2', { state: 'fenced', role: 'unknown' }),
        buildMember('n3', { upstream: 'n9' }),
      ],
    });
    const decision = run(s);
    expect(decision.rule).toBe(230);
    expect(decision.steps).toEqual([
      { kind: 'command', action: 'rejoin', member: 'n2', term: 3, leader: 'n1', wait: false },
      { kind: 'command', action: 'rejoin', member: 'n3', term: 3, leader: 'n1', wait: false },
    ]);
    expect(decision.rejoinRequested).toEqual([
      { member: 'n2', target: 'n1@3' },
      { member: 'n3', target: 'n1@3' },
    ]);
    const asked = { at: s.now - 1000, target: 'n1@3' };
    const later = { ...s, observations: { ...s.observations, rejoinRequested: { n2: asked, n3: asked } } };
    expect(run(later).rule).toBe(290);
  });

  it('asks at once a member that was last asked to follow another primary or term', () => {
    const s = scenario({
      members: [buildPrimary('n1'), buildMember('n2', { state: 'fenced', role: 'unknown' })],
    });
    // n2 was repointed a moment ago after an earlier failover (to n3 at term 2), then crashed.
    const earlier = { at: s.now - 1000, target: 'n3@2' };
    const decision = run({ ...s, observations: { ...s.observations, rejoinRequested: { n2: earlier } } });
    expect(decision.rule).toBe(230);
    expect(decision.steps).toEqual([
      { kind: 'command', action: 'rejoin', member: 'n2', term: 3, leader: 'n1', wait: false },
    ]);
  });

  it('asks again a member asked to follow the same primary once command_timeout has passed', () => {
    const s = scenario({
      members: [buildPrimary('n1'), buildMember('n2', { state: 'fenced', role: 'unknown' })],
    });
    const asked = { at: s.now - s.config.command_timeout * 1000, target: 'n1@3' };
    expect(run({ ...s, observations: { ...s.observations, rejoinRequested: { n2: asked } } }).rule).toBe(230);
  });

  it('asks again, 5 s after it was asked, a member whose heartbeat reports that rejoin failed since (rule 230)', () => {
    // Found by the fault campaign (issue #18): a rejoin sent while its host could not reach
    // DynamoDB failed at once, and the member was asked again only a command_timeout later.
    const failed = {
      action: 'rejoin',
      term: 3,
      leader: 'n1',
      ok: false,
      message: 'STORE_UNAVAILABLE: getSnapshot failed',
      at: 777,
    };
    const n2 = (last?: typeof failed) =>
      buildMember('n2', { state: 'stopped', role: 'unknown', ...(last ? { last_action: last } : {}) });
    const at = (s: Scenario, ago: number, seen?: number) => ({
      ...s,
      observations: {
        ...s.observations,
        rejoinRequested: { n2: { at: s.now - ago, target: 'n1@3', ...(seen !== undefined ? { seen } : {}) } },
      },
    });
    const s = scenario({ members: [buildPrimary('n1'), n2(failed)] });
    const again = run(at(s, 6000, 100));
    expect(again.rule).toBe(230);
    expect(again.reason).toContain('its rejoin failed: STORE_UNAVAILABLE: getSnapshot failed');
    expect(again.rejoinRequested).toEqual([{ member: 'n2', target: 'n1@3', seen: 777 }]);
    // Not within 5 s; not for the failure it had already reported when asked; not for another
    // target's, nor a success, nor while it reports nothing: command_timeout then.
    expect(run(at(s, 4000, 100)).rule).toBe(290);
    expect(run(at(s, 6000, 777)).rule).toBe(290);
    const other = scenario({ members: [buildPrimary('n1'), n2({ ...failed, leader: 'n3', term: 2 })] });
    expect(run(at(other, 6000)).rule).toBe(290);
    const ok = scenario({ members: [buildPrimary('n1'), n2({ ...failed, ok: true })] });
    expect(run(at(ok, 6000)).rule).toBe(290);
    expect(run(at(scenario({ members: [buildPrimary('n1'), n2()] }), 6000)).rule).toBe(290);
  });

  it('points a replicatefrom member at its cascade source', () => {
    const n3 = buildMember('n3', {
      upstream: 'n1',
      tags: { ...buildMember('n3').tags, replicatefrom: 'n2' },
    });
    const decision = run(scenario({ members: [buildPrimary('n1'), buildMember('n2'), n3] }));
    expect(decision.steps).toEqual([
      { kind: 'command', action: 'rejoin', member: 'n3', term: 3, leader: 'n2', wait: false },
    ]);
  });

  it('ignores host clocks: snapshots differing only in heartbeat_at and renewed_at decide alike', () => {
    const a = clusterWithExpiredLease();
    const skewed = {
      ...a,
      snapshot: {
        ...a.snapshot,
        leader: { ...a.snapshot.leader!, renewed_at: T0 + 3_600_000 },
        members: a.snapshot.members.map((m) => ({ ...m, heartbeat_at: m.heartbeat_at - 86_400_000 })),
      },
    };
    expect(run(skewed)).toEqual(run(a));
  });
});
