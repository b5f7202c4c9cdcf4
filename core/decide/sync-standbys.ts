import type { ClusterConfig } from '../config/cluster-config.ts';
import { compareNames } from '../format.ts';
import type { Observations } from '../lease/observe.ts';
import type { Leader, Member } from '../model/items.ts';
import { receivedLsn } from './candidates.ts';

/** `synchronous_standby_names` that blocks every commit (synchronous_mode_strict, no standby). */
export const BLOCK_ALL_COMMITS = '*';

/**
 * The standbys the primary should wait for: streaming, fresh, not `nosync`/`nofailover`.
 * Standbys already recorded stay first (no churn), then the most advanced; at most
 * `synchronous_node_count`. In strict mode with none, `['*']` so that commits block.
 */
export function desiredSyncStandbys(
  primary: Member,
  members: readonly Member[],
  leader: Leader,
  config: ClusterConfig,
  observations: Observations,
): string[] {
  const byName = new Map(members.map((m) => [m.name, m]));
  const usable = primary.replication
    .filter((row) => row.state === 'streaming')
    .filter((row) => {
      const member = byName.get(row.name);
      return member !== undefined && member.name !== primary.name && mayWaitFor(member, observations);
    })
    .sort(
      (a, b) =>
        Number(leader.sync.includes(b.name)) - Number(leader.sync.includes(a.name)) ||
        (b.flush_lsn ?? 0) - (a.flush_lsn ?? 0) ||
        compareNames(a.name, b.name),
    )
    .map((row) => row.name);
  const chosen = usable.slice(0, config.synchronous_node_count);
  if (chosen.length === 0 && config.synchronous_mode_strict) return [BLOCK_ALL_COMMITS];
  return chosen;
}

/** A member a primary may wait for: fresh heartbeat, not `nosync`, not `nofailover`. */
function mayWaitFor(m: Member, observations: Observations): boolean {
  return observations.members[m.name]?.fresh === true && !m.tags.nosync && !m.tags.nofailover;
}

/** A running replica other than `from` that streams straight from a primary (no cascading). */
function syncCapable(m: Member, from: string, observations: Observations): boolean {
  return (
    m.name !== from &&
    m.role === 'replica' &&
    m.state === 'running' &&
    m.tags.replicatefrom === undefined &&
    mayWaitFor(m, observations)
  );
}

/**
 * Standbys of the old primary whose last heartbeat predates its final LSN: a heartbeat within
 * `loop_wait` will likely show it, and the hand-over can then record them.
 */
export function standbysBehindFinalLsn(
  members: readonly Member[],
  handover: { from: string; to: string; finalLsn: number },
  observations: Observations,
): string[] {
  return members
    .filter(
      (m) =>
        m.name !== handover.to &&
        syncCapable(m, handover.from, observations) &&
        m.upstream === handover.from &&
        (receivedLsn(m) ?? -1) < handover.finalLsn,
    )
    .map((m) => m.name);
}

/**
 * The standbys a switchover's new primary can wait for from its first commit: those that have
 * received the old primary's final LSN, so each already holds every acknowledged write
 * (docs/safety.md §9). Recorded at hand-over, they spare the new primary a round of
 * record-then-apply before it can commit.
 */
export function handoverSyncStandbys(
  members: readonly Member[],
  handover: { from: string; to: string; finalLsn: number },
  config: ClusterConfig,
  observations: Observations,
): string[] {
  if (!config.synchronous_mode) return [];
  return members
    .filter(
      (m) =>
        m.name !== handover.to &&
        syncCapable(m, handover.from, observations) &&
        (receivedLsn(m) ?? -1) >= handover.finalLsn,
    )
    .sort((a, b) => (receivedLsn(b) ?? 0) - (receivedLsn(a) ?? 0) || compareNames(a.name, b.name))
    .slice(0, config.synchronous_node_count)
    .map((m) => m.name);
}

export function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

export function isSubset(a: readonly string[], of: readonly string[]): boolean {
  return a.every((x) => of.includes(x));
}
