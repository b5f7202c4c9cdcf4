import type { Member } from '../model/items.ts';
import type { ClusterSnapshot } from '../model/snapshot.ts';

/** The next move of a rolling agent upgrade (docs/operations.md, "Upgrading pgwarden"). */
export type UpgradeStep =
  | { readonly kind: 'upgrade'; readonly member: string; readonly reason: string }
  | { readonly kind: 'switchover'; readonly to: string; readonly reason: string }
  | { readonly kind: 'wait'; readonly reason: string }
  | { readonly kind: 'done'; readonly reason: string };

export interface UpgradeView {
  /** The member's heartbeat is fresh (the controller's observation or the caller's own reads). */
  readonly fresh: (name: string) => boolean;
  /** The member already runs the new agent. */
  readonly upgraded: (member: Member) => boolean;
}

/**
 * One host at a time, never two: replicas first, then a switchover to an upgraded replica, then
 * the old primary. Nothing moves while the cluster is not healthy (an operation in flight, paused,
 * no serving leader, a member silent, a replica not streaming): the caller waits, and gives up
 * with the reason after its timeout.
 */
export function nextUpgradeStep(snapshot: ClusterSnapshot, view: UpgradeView): UpgradeStep {
  const leader = snapshot.leader;
  if (snapshot.op) return { kind: 'wait', reason: `an operation is in flight (${snapshot.op.kind})` };
  if ((snapshot.config?.data as { pause?: boolean } | undefined)?.pause)
    return { kind: 'wait', reason: 'the cluster is paused' };
  if (!leader || leader.released) return { kind: 'wait', reason: 'nobody holds the lease' };
  for (const m of snapshot.members) {
    if (!view.fresh(m.name)) return { kind: 'wait', reason: `${m.name} does not heartbeat` };
    if (m.name === leader.holder) {
      if (m.role !== 'primary' || m.state !== 'running')
        return { kind: 'wait', reason: `the leader ${m.name} is not running as primary (${m.state})` };
    } else if (m.role !== 'replica' || m.state !== 'running' || m.receiver_state !== 'streaming') {
      return { kind: 'wait', reason: `${m.name} is not streaming (${m.state})` };
    }
  }
  const replicas = snapshot.members.filter((m) => m.name !== leader.holder);
  const next = replicas.find((m) => !view.upgraded(m));
  if (next) return { kind: 'upgrade', member: next.name, reason: `replica ${next.name} first` };
  const holder = snapshot.members.find((m) => m.name === leader.holder);
  if (!holder || view.upgraded(holder)) return { kind: 'done', reason: 'every member runs the new agent' };
  const to = replicas.find((m) => !m.tags.nofailover && m.tags.failover_priority > 0);
  if (!to) return { kind: 'wait', reason: 'no upgraded replica may take over (nofailover)' };
  return {
    kind: 'switchover',
    to: to.name,
    reason: `the leader ${holder.name} last: switch over to ${to.name}`,
  };
}
