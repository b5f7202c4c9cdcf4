import { describe, expect, it } from 'vitest';
import { type LoggedCommit, timelineOverlaps } from '../../../local/commit-log.ts';

const commit = (id: number, timeline: number, sentAt: number, at: number): LoggedCommit => ({
  id,
  timeline,
  sentAt,
  at,
});

describe('the commit-log proof of non-overlapping timelines', () => {
  it('finds nothing when every commit of a timeline began before the next timeline committed', () => {
    expect(
      timelineOverlaps([
        commit(1, 1, 0, 10),
        commit(2, 1, 20, 30),
        // In flight on the old primary while the new one committed: not a proof of overlap.
        commit(3, 1, 95, 130),
        commit(4, 2, 100, 120),
        commit(5, 2, 140, 150),
        commit(6, 3, 300, 310),
      ]),
    ).toEqual([]);
  });

  it('names a commit on an old timeline sent after a later timeline had committed', () => {
    const overlaps = timelineOverlaps([
      commit(1, 1, 0, 10),
      commit(2, 2, 100, 110),
      commit(3, 1, 111, 115),
      commit(4, 1, 200, 205),
    ]);
    expect(overlaps).toEqual([{ earlier: commit(3, 1, 111, 115), later: commit(2, 2, 100, 110) }]);
  });
});
