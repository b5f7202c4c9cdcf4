import type { ClusterConfig } from '../config/cluster-config.ts';
import { compareNames } from '../format.ts';
import type { Observations } from '../lease/observe.ts';
import type { Leader, Member } from '../model/items.ts';

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
      return (
        member !== undefined &&
        member.name !== primary.name &&
        observations.members[member.name]?.fresh === true &&
        !member.tags.nosync &&
        !member.tags.nofailover
      );
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

export function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

export function isSubset(a: readonly string[], of: readonly string[]): boolean {
  return a.every((x) => of.includes(x));
}
