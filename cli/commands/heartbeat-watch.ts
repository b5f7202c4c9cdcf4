import { performance } from 'node:perf_hooks';
import { storedClusterConfig } from '../../core/config/cluster-config.ts';
import type { ClusterSnapshot } from '../../core/model/snapshot.ts';

/** How long a member's heartbeat has not changed, and whether that is longer than a ttl. */
export interface HeartbeatAge {
  readonly stale: boolean;
  /** Milliseconds the same heartbeat has been seen, when known. */
  readonly unchangedMs?: number;
}

/**
 * The CLI's own repeated reads (`list -W`): when it first saw each member's heartbeat version,
 * on this machine's monotonic clock. Host clocks never matter (DESIGN §3).
 */
export class HeartbeatWatch {
  private readonly seen = new Map<string, { rvn: string; since: number }>();

  constructor(private readonly monotonic: () => number = () => performance.now()) {}

  /** Records this read; returns how long each member's heartbeat has been seen unchanged. */
  look(snapshot: ClusterSnapshot): Map<string, number> {
    const now = this.monotonic();
    const ages = new Map<string, number>();
    for (const m of snapshot.members) {
      const known = this.seen.get(m.name);
      if (known?.rvn !== m.rvn) this.seen.set(m.name, { rvn: m.rvn, since: now });
      ages.set(m.name, now - (this.seen.get(m.name)?.since ?? now));
    }
    return ages;
  }
}

/**
 * Each member's heartbeat age from the controller's observations (the `observer` item: when it
 * first saw that version, and when it last looked, both on its own clock) and, when the CLI has
 * read repeatedly, from its own reads: the longer wins. Without either, nothing is called stale.
 */
export function heartbeatAges(
  snapshot: ClusterSnapshot,
  watched?: ReadonlyMap<string, number>,
): Map<string, HeartbeatAge> {
  const ttlMs = storedClusterConfig(snapshot.config?.data).config.ttl * 1000;
  const observer = snapshot.observer;
  const ages = new Map<string, HeartbeatAge>();
  for (const m of snapshot.members) {
    const obs = observer?.members[m.name];
    // A version the controller has not seen yet was written since its last look: not stale.
    const byController =
      observer?.observed_at === undefined
        ? undefined
        : obs?.rvn === m.rvn
          ? Math.max(0, observer.observed_at - obs.first_seen)
          : 0;
    const candidates = [byController, watched?.get(m.name)].filter((v): v is number => v !== undefined);
    if (candidates.length === 0) {
      ages.set(m.name, { stale: false });
      continue;
    }
    const unchangedMs = Math.max(...candidates);
    ages.set(m.name, { stale: unchangedMs >= ttlMs, unchangedMs });
  }
  return ages;
}
