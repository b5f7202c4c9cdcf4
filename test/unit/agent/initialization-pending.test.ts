import { describe, expect, it } from 'vitest';
import { initializationPending } from '../../../agent/daemon/bootstrap.ts';
import type { Leader } from '../../../core/model/items.ts';
import type { ClusterSnapshot } from '../../../core/model/snapshot.ts';

const leader = (overrides: Partial<Leader> = {}): Leader => ({
  holder: 'n1',
  term: 1,
  rvn: 'r',
  ttl: 10,
  sync: [],
  lsn: 0,
  released: false,
  ...overrides,
});
const snapshot = (parts: Partial<ClusterSnapshot>): ClusterSnapshot => ({
  cluster: 'c',
  members: [],
  history: [],
  malformed: [],
  ...parts,
});
const claimed = { by: 'n1', at: 1 };

describe('whether a member resumes an initialization it claimed', () => {
  it('resumes its own unfinished claim while no leader item exists or it names this member at term 1', () => {
    expect(initializationPending(snapshot({ initialize: claimed }), 'n1')).toBe(true);
    expect(initializationPending(snapshot({ initialize: claimed, leader: leader() }), 'n1')).toBe(true);
  });

  it('never once the lease moved on: a take-over (term 2), another holder or a released lease', () => {
    for (const moved of [leader({ term: 2 }), leader({ holder: 'n2' }), leader({ released: true })]) {
      expect(initializationPending(snapshot({ initialize: claimed, leader: moved }), 'n1')).toBe(false);
    }
  });

  it("never for another member's claim, a finished one or no claim", () => {
    expect(initializationPending(snapshot({ initialize: claimed }), 'n2')).toBe(false);
    const done = { ...claimed, system_identifier: '7300000000000000001' };
    expect(initializationPending(snapshot({ initialize: done, leader: leader() }), 'n1')).toBe(false);
    expect(initializationPending(snapshot({}), 'n1')).toBe(false);
    expect(initializationPending(undefined, 'n1')).toBe(false);
  });
});
