import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostNetworkUnavailable } from '../../../local/host-network.ts';
import { AgentCluster } from '../../helpers/agent-cluster.ts';
import { startController } from '../../helpers/controller-harness.ts';

const unavailable = hostNetworkUnavailable();

/**
 * Hosts with networks of their own (issue #18): each node in a network namespace with its own
 * address on a bridge, so that a fault cuts replication itself, or a whole host, as networks fail.
 */
describe.skipIf(unavailable !== undefined)('hosts in network namespaces', () => {
  let c: AgentCluster;
  const ipOf = (name: string) => c.node(name).network!.ip;

  beforeAll(async () => {
    c = await AgentCluster.create({ nodes: 3, hostNetwork: true });
    await c.startAll();
    startController(c);
  }, 120_000);
  afterAll(async () => {
    await c?.destroy();
  });

  async function streaming(primary: string): Promise<string[]> {
    const rows = await c.sql(
      primary,
      "SELECT application_name AS name, host(client_addr) AS addr FROM pg_stat_replication WHERE state = 'streaming' ORDER BY 1",
    );
    return rows.map((r) => `${r.name}@${r.addr}`);
  }

  it('each host listens at its own address; replication runs between those addresses', async () => {
    await c.waitFor('both replicas streaming', 30_000, async () => (await streaming('node1')).length === 2);
    expect(await streaming('node1')).toEqual([`node2@${ipOf('node2')}`, `node3@${ipOf('node3')}`]);
    const [row] = await c.sql('node1', "SELECT current_setting('listen_addresses') AS l");
    expect(row?.l).toBe(ipOf('node1'));
  });

  it('replication cut at the primary: nothing written reaches the replicas, the primary keeps its lease and its writes; healed, they catch up', async () => {
    const before = (await c.store.getLeader(c.scope))!;
    c.cutFromPeers('node1', ['node2', 'node3']);
    try {
      // The TCP connections stay (a cut network says nothing) until wal_sender_timeout: what is
      // written meanwhile simply does not arrive.
      await c.sql('node1', 'CREATE TABLE written_while_cut AS SELECT 1 AS x');
      await new Promise((r) => setTimeout(r, 3000));
      for (const replica of ['node2', 'node3'])
        expect(
          (await c.sql(replica, "SELECT to_regclass('written_while_cut') IS NULL AS absent"))[0]?.absent,
          replica,
        ).toBe(true);
      const leader = (await c.store.getLeader(c.scope))!;
      expect(leader).toMatchObject({ holder: 'node1', term: before.term });
      expect((await c.api('node1', '/primary')).status).toBe(200);
    } finally {
      c.cutFromPeers('node1', []);
    }
    for (const replica of ['node2', 'node3'])
      await c.waitFor(
        `the table on ${replica}`,
        90_000,
        async () =>
          (await c.sql(replica, "SELECT to_regclass('written_while_cut') IS NOT NULL AS here"))[0]?.here,
      );
  });

  it('a primary partitioned entirely is replaced: a replica promoted at the next term; healed, the old one follows it', async () => {
    const before = (await c.store.getLeader(c.scope))!;
    c.partition(before.holder);
    let leader = before;
    try {
      leader = await c.waitFor('a new primary', 60_000, async () => {
        const l = await c.store.getLeader(c.scope);
        return l && l.term > before.term && l.holder !== before.holder ? l : undefined;
      });
      await c.waitForRole(leader.holder, '/primary', 30_000);
    } finally {
      c.partition(before.holder, false);
    }
    // Fenced by the controller (an EC2 stop), the host comes back when an operator starts it.
    if (c.node(before.holder).down) c.startAgent(before.holder);
    await c.waitFor('the old primary streaming from the new one', 90_000, async () =>
      (await streaming(leader.holder)).some((s) => s.startsWith(`${before.holder}@`)),
    );
  });
});
