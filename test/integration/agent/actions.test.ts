import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentCluster } from '../../helpers/agent-cluster.ts';

/**
 * The actions the controller sends, run the way SSM runs them: one `pgwarden-agent action`
 * command line, one JSON result line, exit code 0 or 1.
 */
describe('agent actions on a real three-member cluster', () => {
  let c: AgentCluster;

  beforeAll(async () => {
    c = await AgentCluster.create({ nodes: 3 });
    await c.startAll();
    await c.sql('node1', 'CREATE TABLE t (id int primary key, note text)');
    await c.sql('node1', "INSERT INTO t VALUES (1, 'before failover')");
    await c.waitFor(
      'row on node2',
      10_000,
      async () => (await c.sql('node2', 'SELECT 1 FROM t')).length === 1,
    );
  });
  afterAll(async () => {
    await c?.destroy();
  });

  it('refuses promote at a term the lease does not name, and changes nothing', async () => {
    const { exitCode, result } = await c.runAction('node2', 'promote', 7);
    expect(exitCode).toBe(1);
    expect(result).toMatchObject({
      ok: false,
      code: 'ACTION_REFUSED',
      action: 'promote',
      member: 'node2',
      term: 7,
    });
    expect(result.message).toContain('held by node1 at term 1, not by node2 at term 7');
    expect((await c.sql<{ r: boolean }>('node2', 'SELECT pg_is_in_recovery() AS r'))[0]!.r).toBe(true);
    expect((await c.store.getLeader('test'))?.holder).toBe('node1');
  });

  it('refuses an action meant for another cluster', async () => {
    const { exitCode, result } = await c.runAction('node2', 'fence', 1, { cluster: 'other' });
    expect(exitCode).toBe(1);
    expect(result.message).toContain('serves cluster test, not other');
  });

  it('fails over: a diverged old primary, node2 promoted on a new timeline, old primary rewound', async () => {
    // Make node1 diverge: node2 stops receiving, node1 commits a row node2 never gets, node1 dies.
    const [receiver] = await c.sql<{ pid: number }>('node2', 'SELECT pid FROM pg_stat_wal_receiver');
    const pid = receiver!.pid;
    process.kill(pid, 'SIGSTOP');
    await c.sql('node1', "INSERT INTO t VALUES (2, 'lost with the old primary')");
    c.killHost('node1');
    process.kill(pid, 'SIGKILL');

    // A renewal node1 sent just before it died may still land (dynalite runs in this process):
    // take over from the lease as it stands once it has stopped moving.
    const leader = await c.waitFor('node1 renewals to stop', 10_000, async () => {
      const first = (await c.store.getLeader('test'))!;
      await new Promise((r) => setTimeout(r, 300));
      const second = (await c.store.getLeader('test'))!;
      return first.rvn === second.rvn ? second : undefined;
    });
    await c.store.takeOverLease('test', { to: 'node2', term: leader.term, rvn: leader.rvn, ttl: 4 });
    const promoted = await c.runAction('node2', 'promote', leader.term + 1);
    expect(promoted.result).toMatchObject({ ok: true, changed: true, timeline: 2 });
    await c.waitForRole('node2', '/primary');
    await c.sql('node2', "INSERT INTO t VALUES (3, 'after failover')");

    const again = await c.runAction('node2', 'promote', leader.term + 1);
    expect(again.result).toMatchObject({ ok: true, changed: false, message: 'already primary at this term' });

    const repointed = await c.runAction('node3', 'rejoin', 2, { leader: 'node2' });
    expect(repointed.result.ok).toBe(true);
    await c.waitFor(
      'row 3 on node3',
      20_000,
      async () => (await c.sql('node3', 'SELECT 1 FROM t WHERE id = 3')).length === 1,
    );

    // The host comes back with its agent (systemd starts it), which fences the stale primary;
    // the rejoin then has that agent start PostgreSQL, as only the agent's unit may.
    c.startAgent('node1');
    await c.waitFor('node1 fenced itself', 20_000, async () =>
      c.agentLog('node1').includes('fencing myself'),
    );
    const rejoined = await c.runAction('node1', 'rejoin', 2, { leader: 'node2' });
    expect(rejoined.result, rejoined.result.message).toMatchObject({ ok: true, changed: true });
    expect(rejoined.result.message).toMatch(/rewound with pg_rewind; streaming from node2/);
    const rows = await c.sql<{ id: number }>('node1', 'SELECT id FROM t ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual([1, 3]);
    await c.waitForRole('node1', '/replica');
    const member = await c.waitFor('node1 heartbeat as replica of node2', 10_000, async () =>
      (await c.store.getSnapshot('test')).members.find(
        (m) => m.name === 'node1' && m.upstream === 'node2' && m.timeline === 2,
      ),
    );
    expect(member.role).toBe('replica');
  });

  it('reinit rebuilds a replica from the leader', async () => {
    const { result } = await c.runAction('node3', 'reinit', 2);
    expect(result).toMatchObject({ ok: true, message: 'rebuilt (basebackup); streaming from node2' });
    await c.waitFor('node3 streaming', 20_000, async () => {
      const rows = await c.sql<{ status: string }>('node3', 'SELECT status FROM pg_stat_wal_receiver');
      return rows[0]?.status === 'streaming';
    });
    expect((await c.sql('node3', 'SELECT id FROM t ORDER BY id')).length).toBe(2);
  });

  it('set-sync applies synchronous_standby_names on the primary only at its term', async () => {
    const refused = await c.runAction('node2', 'set-sync', 1, { standbys: ['node3'] });
    expect(refused.result.ok).toBe(false);
    const { result } = await c.runAction('node2', 'set-sync', 2, { standbys: ['node3'] });
    expect(result).toMatchObject({ ok: true, message: 'synchronous_standby_names = \'FIRST 1 ("node3")\'' });
    await c.waitFor('node3 is sync', 10_000, async () => {
      const rows = await c.sql<{ sync_state: string }>(
        'node2',
        "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'node3'",
      );
      return rows[0]?.sync_state === 'sync';
    });
    const cleared = await c.runAction('node2', 'set-sync', 2, { standbys: [] });
    expect(cleared.result).toMatchObject({ ok: true, message: "synchronous_standby_names = ''" });
  });

  it('set-sync releases the commits already waiting as soon as the named standby has them', async () => {
    // A new primary waits for a standby no one is; its writers block until set-sync names one.
    await c.runAction('node2', 'set-sync', 2, { standbys: ['pgwarden_pending_sync'] });
    let committedAt: number | undefined;
    const commit = c
      .sql('node2', "INSERT INTO t VALUES (4, 'waited for a standby')")
      .then(() => (committedAt = Date.now()));
    await new Promise((r) => setTimeout(r, 1000));
    expect(committedAt).toBeUndefined();
    const applied = await c.runAction('node2', 'set-sync', 2, { standbys: ['node3'] });
    expect(applied.result.ok).toBe(true);
    // Well before node3's next periodic report (wal_receiver_status_interval, 10 s).
    await c.waitFor('the waiting commit to return', 3000, async () => committedAt !== undefined);
    await commit;
    await c.runAction('node2', 'set-sync', 2, { standbys: [] });
  });

  it('demote stops the primary cleanly and reports its final LSN; restart brings it back as primary', async () => {
    const { result } = await c.runAction('node2', 'demote', 2);
    expect(result).toMatchObject({ ok: true, changed: true, message: 'stopped cleanly for a switchover' });
    expect(result.lsn).toBeGreaterThan(0);
    await c.waitFor('node1 received the final LSN', 10_000, async () => {
      const rows = await c.sql<{ lsn: string }>('node1', 'SELECT pg_last_wal_receive_lsn()::text AS lsn');
      const [hi, lo] = rows[0]!.lsn.split('/').map((x) => Number.parseInt(x, 16));
      return hi! * 2 ** 32 + lo! >= result.lsn!;
    });
    const restarted = await c.runAction('node2', 'restart', 2);
    expect(restarted.result).toMatchObject({ ok: true, message: 'restarted as primary at term 2' });
    await c.waitForRole('node2', '/primary');
  });

  it('fence stops PostgreSQL and is idempotent; a stale fence is refused', async () => {
    const stale = await c.runAction('node2', 'fence', 1);
    expect(stale.result.message).toContain('stale request');
    const first = await c.runAction('node3', 'fence', 2);
    expect(first.result).toMatchObject({ ok: true, changed: true });
    const second = await c.runAction('node3', 'fence', 2);
    expect(second.result).toMatchObject({ ok: true, changed: false });
    expect(c.postmasterPid('node3')).toBeUndefined();
  });

  it('reload applies new parameters and reports settings that need a restart', async () => {
    const { result } = await c.runAction('node1', 'reload', 2);
    expect(result).toMatchObject({ ok: true });
    expect(result.message).toMatch(/^reloaded/);
  });
});
