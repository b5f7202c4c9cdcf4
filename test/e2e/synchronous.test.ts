import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scenario } from '../helpers/scenario.ts';

/**
 * Synchronous mode end to end: host crashes one after the other, with the application writing
 * through the writer endpoint and the invariant checker running; every acknowledged write must be
 * on the final primary.
 */
describe('synchronous mode end to end: repeated failovers lose no acknowledged write', () => {
  let s: Scenario;
  beforeAll(async () => {
    s = await Scenario.start({ sync: true });
  });
  afterAll(async () => {
    await s?.destroy();
  });

  it.each([1, 2, 3])(
    'failover %i: the synchronous standby is promoted, the old primary rejoins',
    async () => {
      const leader = (await s.store.getLeader(s.cluster.scope))!;
      // Wait for a recorded synchronous standby, so a failover can happen at all.
      const standby = await s.cluster.waitFor('a recorded synchronous standby', 60_000, async () => {
        const l = await s.store.getLeader(s.cluster.scope);
        return l?.sync[0];
      });
      const acksBefore = s.writer.acks.length;
      await s.cluster.waitFor(
        'writes acknowledged',
        30_000,
        async () => s.writer.acks.length > acksBefore + 20,
      );
      s.cluster.killHost(leader.holder);
      await s.cluster.waitFor(
        'a new term',
        60_000,
        async () => (await s.store.getLeader(s.cluster.scope))!.term > leader.term,
      );
      const primary = await s.primary();
      expect(primary).toBe(standby);
      await s.writerServes(primary);
      s.cluster.startAgent(leader.holder);
      await s.settled();
      await s.allStreaming(primary);
    },
  );

  it('every acknowledged write is on the final primary; never two writable nodes', async () => {
    const result = await s.verify();
    expect(result.lost).toBe(0);
    console.log(`synchronous: ${result.acked} writes acknowledged, none lost`);
  });
});
