import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentCluster } from '../../helpers/agent-cluster.ts';
import { type RunningController, startController } from '../../helpers/controller-harness.ts';
import { runCli } from '../../helpers/run-cli.ts';

/** synchronous_mode on real agents: Patroni's ordering, and a failover that loses no acknowledged write. */
describe('the controller in synchronous mode', () => {
  let c: AgentCluster;
  let ctl: RunningController;

  beforeAll(async () => {
    c = await AgentCluster.create({ nodes: 3, dcs: { synchronous_mode: true } });
    await c.startAll();
    ctl = startController(c);
  });
  afterAll(async () => {
    await ctl?.stop();
    await c?.destroy();
  });

  it('records a synchronous standby, then makes PostgreSQL wait for exactly it', async () => {
    const standby = await c.waitFor('a recorded standby applied in PostgreSQL', 30_000, async () => {
      const snapshot = await c.store.getSnapshot('test');
      const primary = snapshot.members.find((m) => m.name === 'node1');
      const recorded = snapshot.leader?.sync ?? [];
      return recorded.length === 1 && primary?.sync_standbys.join() === recorded.join()
        ? recorded[0]
        : undefined;
    });
    const [row] = await c.sql<{ v: string }>(
      'node1',
      "SELECT current_setting('synchronous_standby_names') AS v",
    );
    expect(row!.v).toBe(`FIRST 1 ("${standby}")`);
    await c.waitFor('pg_stat_replication shows it sync', 10_000, async () => {
      const rows = await c.sql<{ sync_state: string }>(
        'node1',
        'SELECT sync_state FROM pg_stat_replication WHERE application_name = $1',
        [standby],
      );
      return rows[0]?.sync_state === 'sync';
    });
    // The agent answers from the snapshot it read last: within a loop_wait it sees the record.
    await c.waitFor(`${standby} answers /synchronous`, 10_000, async () => {
      return (await c.api(standby!, '/synchronous')).status === 200;
    });
    expect((await c.api(standby!, '/asynchronous')).status).toBe(503);
  });

  it('fails over only to the synchronous standby and keeps every acknowledged write', async () => {
    await c.sql('node1', 'CREATE TABLE acked (id int primary key)');
    const acked: number[] = [];
    for (let i = 1; i <= 50; i += 1) {
      await c.sql('node1', 'INSERT INTO acked VALUES ($1)', [i]);
      acked.push(i);
    }
    const standby = (await c.store.getLeader('test'))!.sync[0]!;
    c.killHost('node1');
    await c.waitFor(
      `${standby} promoted`,
      60_000,
      async () => (await c.api(standby, '/primary').catch(() => ({ status: 0 }))).status === 200,
    );
    const snapshot = await c.store.getSnapshot('test');
    expect(snapshot.leader?.holder).toBe(standby);
    const rows = await c.sql<{ id: number }>(standby, 'SELECT id FROM acked ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual(acked);
  });

  it('makes the new primary wait for a recorded standby before acknowledging anything new', async () => {
    const leader = (await c.store.getLeader('test'))!;
    await c.waitFor('a new synchronous standby for the new primary', 30_000, async () => {
      const snapshot = await c.store.getSnapshot('test');
      const primary = snapshot.members.find((m) => m.name === leader.holder);
      return (
        (snapshot.leader?.sync.length ?? 0) === 1 &&
        primary?.sync_standbys.join() === snapshot.leader?.sync.join()
      );
    });
    await c.sql(leader.holder, 'INSERT INTO acked VALUES (1000)');
  });

  it('a switchover records at hand-over the standby the new primary waits for from its first commit', async () => {
    const before = (await c.store.getLeader('test'))!;
    const candidate = before.sync[0]!;
    const third = [...c.nodes.keys()].find((n) => n !== before.holder && n !== candidate)!;
    c.startAgent('node1'); // the host killed above comes back and rejoins as a replica
    await c.waitFor(`${third} streams from ${before.holder}`, 60_000, async () => {
      const m = (await c.store.getSnapshot('test')).members.find((x) => x.name === third);
      return m?.upstream === before.holder && m.receiver_state === 'streaming';
    });
    // Watch the leader item closely: the first version at the new term must already name it.
    const seen: string[][] = [];
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const leader = await c.store.getLeader('test');
        if (leader && leader.term > before.term) seen.push([...leader.sync]);
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    const env = {
      PGWARDEN_DYNAMODB_ENDPOINT: c.dynamoEndpoint,
      PGWARDEN_TABLE: c.table,
      PGWARDEN_SCOPE: 'test',
    };
    const run = await runCli(['switchover', '--candidate', candidate, '--force'], env);
    watching = false;
    await watch;
    expect(run.code).toBe(0);
    expect(await c.store.getLeader('test')).toMatchObject({ holder: candidate, term: before.term + 1 });
    expect(seen[0]).toEqual([third]);
    const [row] = await c.sql<{ v: string }>(
      candidate,
      "SELECT current_setting('synchronous_standby_names') AS v",
    );
    const standby = /^FIRST 1 \("(.+)"\)$/.exec(row!.v)?.[1];
    expect([third, before.holder]).toContain(standby);
    await c.sql(candidate, 'INSERT INTO acked VALUES (2000)');
    await c.waitFor(`row 2000 on ${standby}`, 10_000, async () => {
      return (await c.sql(standby!, 'SELECT 1 FROM acked WHERE id = 2000')).length === 1;
    });
  });
});
