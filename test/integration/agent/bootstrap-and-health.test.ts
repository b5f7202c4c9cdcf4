import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentCluster } from '../../helpers/agent-cluster.ts';

describe('three agents bootstrapping from empty data directories', () => {
  let cluster: AgentCluster;

  beforeAll(async () => {
    cluster = await AgentCluster.create({
      nodes: 3,
      tags: { node3: { noloadbalance: true, nofailover: true, failover_priority: 0 } },
    });
    cluster.startAgent('node1');
    await cluster.waitForRole('node1', '/primary');
    cluster.startAgent('node2');
    cluster.startAgent('node3');
    await cluster.waitForRole('node2', '/replica');
    await cluster.waitFor('node3 streaming', 60_000, async () => {
      const member = (await cluster.store.getSnapshot('test')).members.find((m) => m.name === 'node3');
      return member?.receiver_state === 'streaming';
    });
  });
  afterAll(async () => {
    await cluster?.destroy();
  });

  it('makes exactly one member initialize the cluster and hold the lease at term 1', async () => {
    const snapshot = await cluster.store.getSnapshot('test');
    expect(snapshot.initialize?.by).toBe('node1');
    expect(snapshot.initialize?.system_identifier).toMatch(/^\d+$/);
    expect(snapshot.leader).toMatchObject({ holder: 'node1', term: 1, released: false });
    expect(snapshot.history).toEqual([expect.objectContaining({ term: 1, kind: 'bootstrap', new: 'node1' })]);
    expect(await cluster.store.listClusters()).toEqual(['test']);
  });

  it('reports each member with its role, state and upstream', async () => {
    const members = (await cluster.store.getSnapshot('test')).members;
    expect(members.map((m) => [m.name, m.role, m.state, m.upstream])).toEqual([
      ['node1', 'primary', 'running', null],
      ['node2', 'replica', 'running', 'node1'],
      ['node3', 'replica', 'running', 'node1'],
    ]);
    expect(new Set(members.map((m) => m.system_identifier)).size).toBe(1);
  });

  it('streams writes on the primary to both replicas, through a slot per member', async () => {
    await cluster.sql('node1', 'CREATE TABLE IF NOT EXISTS t (id int primary key)');
    await cluster.sql('node1', 'INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING');
    for (const name of ['node2', 'node3']) {
      await cluster.waitFor(
        `row on ${name}`,
        10_000,
        async () => (await cluster.sql(name, 'SELECT id FROM t')).length === 1,
      );
    }
    const slots = await cluster.sql<{ slot_name: string; active: boolean }>(
      'node1',
      'SELECT slot_name, active FROM pg_replication_slots ORDER BY 1',
    );
    expect(slots).toEqual([
      { slot_name: 'pgwarden_node2', active: true },
      { slot_name: 'pgwarden_node3', active: true },
    ]);
  });

  it.each([
    ['node1', '/primary', 200],
    ['node1', '/master', 200],
    ['node1', '/leader', 200],
    ['node1', '/read-write', 200],
    ['node1', '/replica', 503],
    ['node1', '/read-only', 200],
    ['node1', '/synchronous', 503],
    ['node1', '/health', 200],
    ['node1', '/liveness', 200],
    ['node1', '/readiness', 200],
    ['node2', '/primary', 503],
    ['node2', '/read-write', 503],
    ['node2', '/replica', 200],
    ['node2', '/replica?replication_state=streaming', 200],
    ['node2', '/replica?lag=16MB', 200],
    // As Patroni: a boolean tag that is false is not published, so it matches no tag_ filter.
    ['node2', '/replica?tag_nofailover=false', 503],
    ['node2', '/replica?tag_nofailover=true', 503],
    ['node2', '/read-only', 200],
    ['node2', '/asynchronous', 200],
    ['node2', '/synchronous', 503],
    ['node2', '/readiness', 200],
    ['node3', '/replica', 503],
    ['node3', '/read-only', 503],
    ['node3', '/health', 200],
    // Patroni: every replica check (async included) honours noloadbalance.
    ['node3', '/asynchronous', 503],
    // Patroni: `/` is the primary check, and a path no check knows fails (503), not 404.
    ['node1', '/', 200],
    ['node2', '/', 503],
    ['node2', '/nope', 503],
    ['node1', '/standby-leader', 503],
    ['node2', '/read-only-sync', 503],
    ['node1', '/read-only-sync', 200],
    ['node2', '/readiness?lag=0&mode=write', 200],
  ])('answers %s %s with %i', async (name, path, status) => {
    // Answers come from the agent's last cycle (a second old at most): under load a replica's
    // observation may trail the lease's LSN for a cycle, so the answer is awaited, not sampled once.
    await cluster.waitFor(
      `${name} ${path} = ${status}`,
      10_000,
      async () => (await cluster.api(name, path)).status === status,
    );
    expect((await cluster.api(name, path)).status).toBe(status);
  });

  it("answers HEAD and OPTIONS (HAProxy's option httpchk) with the status alone", async () => {
    const url = (name: string, path: string) => `http://127.0.0.1:${cluster.node(name).apiPort}${path}`;
    for (const method of ['HEAD', 'OPTIONS']) {
      const primary = await fetch(url('node1', '/'), { method });
      expect(primary.status, method).toBe(200);
      expect(await primary.text()).toBe('');
      expect((await fetch(url('node2', '/'), { method })).status, method).toBe(503);
      expect((await fetch(url('node2', '/replica'), { method })).status, method).toBe(200);
    }
  });

  it('mutates nothing: other methods get 405', async () => {
    expect((await cluster.api('node1', '/primary', 'POST')).status).toBe(405);
    expect((await cluster.api('node1', '/restart', 'POST')).status).toBe(405);
  });

  it('takes a bad lag= as Patroni does (no bound), and says so in a header', async () => {
    const res = await fetch(`http://127.0.0.1:${cluster.node('node2').apiPort}/replica?lag=lots`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-pgwarden-warning')).toContain('lag="lots" is not a size');
  });

  it('serves Patroni-shaped /patroni and /cluster JSON', async () => {
    // The primary's last observation after both replicas stream (not one from their base backups).
    const patroni = await cluster.waitFor('node1 to report both replicas', 10_000, async () => {
      const body = (await cluster.api('node1', '/patroni')).body as Record<string, unknown>;
      const names = ((body.replication ?? []) as Array<{ application_name: string }>).map(
        (r) => r.application_name,
      );
      return names.includes('node2') && names.includes('node3') ? body : undefined;
    });
    expect(patroni).toMatchObject({
      state: 'running',
      role: 'primary',
      timeline: 1,
      patroni: { scope: 'test', name: 'node1' },
      decision: { rule: 340, reason: 'primary: the lease is renewed and PostgreSQL answers' },
    });
    expect(patroni).toMatchObject({
      server_version: expect.any(Number),
      postmaster_start_time: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00$/),
      xlog: { location: expect.any(Number) },
      database_system_identifier: expect.stringMatching(/^\d+$/),
      dcs_last_seen: expect.any(Number),
    });
    expect(patroni.server_version as number).toBeGreaterThanOrEqual(150000);
    expect(patroni.replication).toEqual(
      expect.arrayContaining([
        {
          usename: 'replicator',
          application_name: 'node2',
          client_addr: '127.0.0.1',
          state: 'streaming',
          sync_state: 'async',
          sync_priority: 0,
        },
      ]),
    );
    expect(patroni).not.toHaveProperty('cluster_unlocked');
    const replica = (await cluster.api('node2', '/patroni')).body as Record<string, unknown>;
    expect(replica).toMatchObject({
      role: 'replica',
      replication_state: 'streaming',
      xlog: {
        received_location: expect.any(Number),
        replayed_location: expect.any(Number),
        paused: false,
      },
      decision: { rule: 420 },
    });
    expect(replica.xlog).toHaveProperty('replayed_timestamp');
    const node3 = (await cluster.api('node3', '/patroni')).body as Record<string, unknown>;
    expect(node3.tags).toEqual({ noloadbalance: true, nofailover: true, failover_priority: 0 });
    // The snapshot node2 answers from is its last cycle's: wait until it has seen itself stream.
    const clusterJson = await cluster.waitFor('node2 to see itself streaming', 10_000, async () => {
      const body = (await cluster.api('node2', '/cluster')).body as {
        members: Array<{ name: string; role: string; state: string }>;
      };
      return body.members[1]?.state === 'streaming' ? body : undefined;
    });
    expect(clusterJson.members.map((m) => m.name)).toEqual(['node1', 'node2', 'node3']);
    expect(clusterJson.members[0]!.role).toBe('leader');
    expect(clusterJson.members[1]).toMatchObject({
      role: 'replica',
      state: 'streaming',
      host: '127.0.0.1',
      lsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/),
      receive_lsn: expect.any(String),
      replay_lsn: expect.any(String),
      lag: expect.any(Number),
      receive_lag: expect.any(Number),
      replay_lag: expect.any(Number),
    });
    expect(clusterJson.members[0]).not.toHaveProperty('lsn');
    expect((await cluster.api('node1', '/history')).body).toEqual([]);
    expect((await cluster.api('node1', '/config')).body).toMatchObject({ ttl: expect.any(Number) });
  });

  it('exposes Prometheus metrics', async () => {
    const text = String((await cluster.api('node1', '/metrics')).body);
    expect(text).toMatch(/patroni_primary\{scope="test",name="node1"\} 1/);
    expect(text).toMatch(/pgwarden_lease_remaining_seconds\{[^}]*\} [1-9]/);
    expect(text).toContain('pgwarden_agent_process_resident_memory_bytes');
    const replica = String((await cluster.api('node2', '/metrics')).body);
    expect(replica).toMatch(/patroni_replica\{scope="test",name="node2"\} 1/);
  });

  it('resumes its role safely when an agent restarts with data in place', async () => {
    cluster.stopAgent('node2', 'SIGKILL');
    cluster.startAgent('node2');
    await cluster.waitForRole('node2', '/replica');
    const member = (await cluster.store.getSnapshot('test')).members.find((m) => m.name === 'node2');
    expect(member).toMatchObject({ role: 'replica', upstream: 'node1' });
  });
});
