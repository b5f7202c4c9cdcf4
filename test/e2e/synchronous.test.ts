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

/**
 * Found by the fault campaign (issue #18, seed 220, synchronous): a primary cut from DynamoDB
 * fenced itself while no replica could take over — in synchronous mode none was recorded — and
 * the cluster stayed without a primary for good. The lease holder is restarted at its term.
 */
describe('synchronous mode, no standby recorded: a primary that fenced itself comes back as primary', () => {
  let s: Scenario;
  beforeAll(async () => {
    // failsafe_mode off, as when the primary is cut from its replicas too: it fences itself.
    s = await Scenario.start({
      sync: true,
      dcs: { failsafe_mode: false },
      tags: { node2: { nosync: true }, node3: { nosync: true } },
    });
  });
  afterAll(async () => {
    await s?.destroy();
  });

  it('cut from DynamoDB until it fences itself, then healed: restarted at its term (rule 165), no failover, nothing lost', async () => {
    const scope = s.cluster.scope;
    const before = (await s.store.getLeader(scope))!;
    expect(before.sync).toEqual([]);
    const history = (await s.store.getSnapshot(scope)).history.length;
    const acks = s.writer.acks.length;
    await s.cluster.waitFor('writes acknowledged', 30_000, async () => s.writer.acks.length > acks + 10);
    s.cluster.isolate(before.holder);
    await s.cluster.waitFor(
      `${before.holder} fenced`,
      30_000,
      async () => (await s.cluster.api(before.holder, '/primary')).status === 503,
    );
    const fenced = s.writer.acks.length;
    s.cluster.heal(before.holder);
    await s.writerServes(before.holder);
    await s.cluster.waitFor('writes again', 30_000, async () => s.writer.acks.length > fenced + 10);
    const after = (await s.store.getSnapshot(scope))!;
    expect(after.leader).toMatchObject({ holder: before.holder, term: before.term });
    expect(after.history).toHaveLength(history);
    const result = await s.verify();
    expect(result).toMatchObject({ lost: 0, primary: before.holder });
  });
});
