import { describe, expect, it } from 'vitest';
import { DEFAULT_CLUSTER_CONFIG } from '../../../../core/config/cluster-config.ts';
import { isLeaseLocallyValid, localLeaseDeadline } from '../../../../core/lease/lease-deadline.ts';
import { observeCluster } from '../../../../core/lease/observe.ts';
import { type Observer, observerSchema } from '../../../../core/model/items.ts';
import type { ClusterSnapshot } from '../../../../core/model/snapshot.ts';
import { buildLeader, buildMember, T0 } from '../../../helpers/builders.ts';

function snapshotWith(rvn: string, observer?: Observer, released = false): ClusterSnapshot {
  return {
    cluster: 'c',
    leader: buildLeader({ rvn, released }),
    members: [buildMember('n2', { rvn: `m-${rvn}` })],
    history: [],
    malformed: [],
    ...(observer ? { observer } : {}),
  };
}

describe('the primary-side lease deadline', () => {
  it('runs from when the renewal began, minus the safety margin', () => {
    expect(localLeaseDeadline(1000, { ttl: 10, safety_margin: 2 })).toBe(9000);
  });

  it('is invalid at and after the deadline, and when there never was a renewal', () => {
    expect(isLeaseLocallyValid(9000, 8999)).toBe(true);
    expect(isLeaseLocallyValid(9000, 9000)).toBe(false);
    expect(isLeaseLocallyValid(undefined, 0)).toBe(false);
  });
});

describe('the controller observing the lease', () => {
  const config = DEFAULT_CLUSTER_CONFIG;

  it('never calls a lease expired the first time it sees it, whatever the host clocks say', () => {
    const { observations } = observeCluster(snapshotWith('r1'), config, T0);
    expect(observations.leader).toMatchObject({ firstSeen: T0, expired: false });
  });

  it('calls it expired once the same rvn has been seen for ttl on its own clock', () => {
    const first = observeCluster(snapshotWith('r1'), config, T0).observer;
    const almost = observeCluster(snapshotWith('r1', first), config, T0 + 9_999).observations;
    const expired = observeCluster(snapshotWith('r1', first), config, T0 + 10_000).observations;
    expect(almost.leader?.expired).toBe(false);
    expect(expired.leader?.expired).toBe(true);
  });

  it('restarts the clock when the rvn changes (a renewal)', () => {
    const first = observeCluster(snapshotWith('r1'), config, T0).observer;
    const renewed = observeCluster(snapshotWith('r2', first), config, T0 + 30_000);
    expect(renewed.observations.leader).toMatchObject({ firstSeen: T0 + 30_000, expired: false });
    expect(renewed.observer.leader).toEqual({ rvn: 'r2', first_seen: T0 + 30_000 });
  });

  it('treats a released lease as expired at once', () => {
    const { observations } = observeCluster(snapshotWith('r1', undefined, true), config, T0);
    expect(observations.leader?.expired).toBe(true);
  });

  it('observes member heartbeats the same way', () => {
    const first = observeCluster(snapshotWith('r1'), config, T0).observer;
    const later = observeCluster(snapshotWith('r1', first), config, T0 + 10_000).observations;
    expect(later.members.n2).toEqual({ unchangedMs: 10_000, fresh: false });
  });

  it('dates a heartbeat first seen after a blind spell from the last look: written then at the earliest, so not fresh', () => {
    const first = observeCluster(snapshotWith('r1'), config, T0).observer;
    // The controller could not read for 20 s; meanwhile (just after its last look) n2 wrote once.
    const back = observeCluster(snapshotWith('r2', first), config, T0 + 20_000).observations;
    expect(back.members.n2).toEqual({ unchangedMs: 20_000, fresh: false });
    // Watching continuously, a new heartbeat is fresh at once.
    const watching = observeCluster(snapshotWith('r1'), config, T0).observer;
    const next = observeCluster(snapshotWith('r2', watching), config, T0 + 1000).observations;
    expect(next.members.n2).toEqual({ unchangedMs: 1000, fresh: true });
  });

  it('forgets a rejoin request once its member went silent: a member back from a crash is asked again at once', () => {
    const asked = { at: T0, target: 'n1@3' };
    const first = observeCluster(snapshotWith('r1'), config, T0).observer;
    const withRequest = { ...first, rejoin_requested: { n2: asked } };
    const fresh = observeCluster(snapshotWith('r1', withRequest), config, T0 + 1000);
    expect(fresh.observations.rejoinRequested).toEqual({ n2: asked });
    const silent = observeCluster(snapshotWith('r1', withRequest), config, T0 + 10_000);
    expect(silent.observations.rejoinRequested).toEqual({});
    expect(silent.observer.rejoin_requested).toEqual({});
  });

  it('reads a rejoin request stored as a bare time (before targets) as one with no target', () => {
    const parsed = observerSchema.parse({ members: {}, rejoin_requested: { n2: 5 } });
    expect(parsed.rejoin_requested).toEqual({ n2: { at: 5, target: '' } });
  });

  it('uses the longer of the config ttl and the ttl the holder renewed with', () => {
    const snap = { ...snapshotWith('r1'), leader: buildLeader({ rvn: 'r1', ttl: 30 }) };
    const first = observeCluster(snap, config, T0).observer;
    expect(
      observeCluster({ ...snap, observer: first }, config, T0 + 20_000).observations.leader?.expired,
    ).toBe(false);
  });
});
