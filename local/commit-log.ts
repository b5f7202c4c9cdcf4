/** One acknowledged commit as the commit-log proof reads it. */
export interface LoggedCommit {
  readonly id: number;
  /** When the client sent the transaction (epoch ms, this machine's clock). */
  readonly sentAt: number;
  /** When its COMMIT returned. */
  readonly at: number;
  /** The timeline the server wrote it on. */
  readonly timeline: number;
}

export interface TimelineOverlap {
  /** A commit on an earlier timeline that began after `later` had been acknowledged. */
  readonly earlier: LoggedCommit;
  readonly later: LoggedCommit;
}

/**
 * The commit-log proof that no two timelines accepted commits over an overlapping interval
 * (issue #18): every commit on timeline t must have begun before the first commit on any later
 * timeline returned. A commit sent after a later timeline had already committed one was accepted
 * by an old primary while a new one served: two writable nodes, whatever the samples saw. Using
 * the client's send and acknowledgement times (one clock, this machine's) it has no false
 * positive: the earlier commit certainly happened after the later one. Returns the overlaps, the
 * first per pair of timelines.
 */
export function timelineOverlaps(commits: readonly LoggedCommit[]): TimelineOverlap[] {
  const firstAck = new Map<number, LoggedCommit>();
  for (const c of commits) {
    const seen = firstAck.get(c.timeline);
    if (!seen || c.at < seen.at) firstAck.set(c.timeline, c);
  }
  const timelines = [...firstAck.keys()].sort((a, b) => a - b);
  const found = new Map<string, TimelineOverlap>();
  for (const c of commits) {
    for (const later of timelines) {
      if (later <= c.timeline) continue;
      const first = firstAck.get(later)!;
      const key = `${c.timeline}>${later}`;
      if (c.sentAt > first.at && !found.has(key)) found.set(key, { earlier: c, later: first });
    }
  }
  return [...found.values()];
}
