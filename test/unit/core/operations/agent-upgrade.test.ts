import { describe, expect, it } from 'vitest';
import type { Member } from '../../../../core/model/items.ts';
import type { ClusterSnapshot } from '../../../../core/model/snapshot.ts';
import { nextUpgradeStep } from '../../../../core/operations/agent-upgrade.ts';
import { buildLeader, buildMember, buildOp, buildPrimary } from '../../../helpers/builders.ts';

const NEW = '0.2.0';
const at = (version: string) => ({ versions: { agent: version, postgres: '15' } });

function cluster(members: Member[], extra: Partial<ClusterSnapshot> = {}): ClusterSnapshot {
  return { cluster: 'c', leader: buildLeader(), members, history: [], malformed: [], ...extra };
}
const view = (silent: string[] = []) => ({
  fresh: (name: string) => !silent.includes(name),
  upgraded: (m: Member) => m.versions.agent === NEW,
});

describe('a rolling agent upgrade moves one host at a time', () => {
  it('upgrades the replicas first, one after the other', () => {
    const s = cluster([buildPrimary('n1'), buildMember('n2'), buildMember('n3')]);
    expect(nextUpgradeStep(s, view())).toMatchObject({ kind: 'upgrade', member: 'n2' });
    const after = cluster([buildPrimary('n1'), buildMember('n2', at(NEW)), buildMember('n3')]);
    expect(nextUpgradeStep(after, view())).toMatchObject({ kind: 'upgrade', member: 'n3' });
  });

  it('then switches over to an upgraded replica that may be promoted, then upgrades the old primary', () => {
    const tags = { ...buildMember('x').tags, nofailover: true, failover_priority: 0 };
    const s = cluster([
      buildPrimary('n1'),
      buildMember('n2', { ...at(NEW), tags }),
      buildMember('n3', at(NEW)),
    ]);
    expect(nextUpgradeStep(s, view())).toMatchObject({ kind: 'switchover', to: 'n3' });
    const switched = cluster([buildMember('n1'), buildMember('n2', at(NEW)), buildPrimary('n3', at(NEW))], {
      leader: buildLeader({ holder: 'n3', term: 4 }),
    });
    expect(nextUpgradeStep(switched, view())).toMatchObject({ kind: 'upgrade', member: 'n1' });
  });

  it('is done when every member runs the new agent', () => {
    const s = cluster([buildPrimary('n1', at(NEW)), buildMember('n2', at(NEW))]);
    expect(nextUpgradeStep(s, view()).kind).toBe('done');
  });

  it.each<[string, ClusterSnapshot, string[], RegExp]>([
    [
      'an operation in flight',
      cluster([buildPrimary('n1'), buildMember('n2')], { op: buildOp() }),
      [],
      /operation/,
    ],
    [
      'the cluster paused',
      cluster([buildPrimary('n1'), buildMember('n2')], { config: { version: 1, data: { pause: true } } }),
      [],
      /paused/,
    ],
    ['a silent member', cluster([buildPrimary('n1'), buildMember('n2')]), ['n2'], /n2 does not heartbeat/],
    [
      'a replica not streaming',
      cluster([buildPrimary('n1'), buildMember('n2', { receiver_state: null, state: 'starting' })]),
      [],
      /n2 is not streaming/,
    ],
    [
      'no leader',
      cluster([buildMember('n1'), buildMember('n2')], { leader: undefined }) as ClusterSnapshot,
      [],
      /lease/,
    ],
    [
      'the leader not serving',
      cluster([buildPrimary('n1', { state: 'crashed' }), buildMember('n2')]),
      [],
      /not running as primary/,
    ],
  ])('waits, saying why, with %s', (_name, s, silent, reason) => {
    const step = nextUpgradeStep(s, view(silent));
    expect(step.kind).toBe('wait');
    expect(step.reason).toMatch(reason);
  });
});
