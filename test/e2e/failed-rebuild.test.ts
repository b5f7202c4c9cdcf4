import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processAlive } from '../../local/wait-for.ts';
import { AgentCluster } from '../helpers/agent-cluster.ts';

/**
 * Found by the fault campaign (issue #18, the short campaign of npm test under the suite's load):
 * a rejoin's rebuild emptied a replica's data directory and failed (its primary cut off), and the
 * agent, whose local state still wanted a replica, ran `pg_ctl start` on the empty directory in a
 * loop, every few tens of milliseconds, for good. The directory is left here as such a rebuild
 * leaves it: empty, the local state file kept. And the cause: the rejoin rebuilt although its
 * upstream did not answer at all; it now keeps the data and fails, to be asked again.
 */
describe('a replica whose rebuild left its data directory empty, and the rebuild that must not begin', () => {
  let c: AgentCluster;

  beforeAll(async () => {
    c = await AgentCluster.create({ nodes: 2 });
    await c.startAll();
    await c.sql('node1', 'CREATE TABLE kept (id int); INSERT INTO kept VALUES (1), (2), (3)');
  }, 120_000);
  afterAll(async () => {
    await c?.destroy();
  });

  it('is created again from the primary and streams, without trying to start the empty directory', async () => {
    // The agent keeps running (a restarted agent bootstraps an empty directory anyway): held
    // still while its PostgreSQL goes and the directory is emptied, as during the rebuild.
    const agent = c.node('node2').pid!;
    const postmaster = c.postmasterPid('node2')!;
    const logBefore = c.agentLog('node2').length;
    process.kill(agent, 'SIGSTOP');
    try {
      process.kill(postmaster, 'SIGQUIT');
      await c.waitFor('node2 postmaster to exit', 10_000, async () => !processAlive(postmaster));
      const data = c.node('node2').dataDir;
      for (const entry of readdirSync(data)) rmSync(join(data, entry), { recursive: true, force: true });
    } finally {
      process.kill(agent, 'SIGCONT');
    }
    const since = () => c.agentLog('node2').slice(logBefore);
    await c.waitFor('node2 to create its replica again', 60_000, async () =>
      since().includes('the data directory is empty (a rebuild failed or was interrupted)'),
    );
    // Asked of node2 itself: its agent's answer and its own rows.
    const rows = await c.waitFor('node2 streaming from node1 with the rows', 90_000, async () => {
      const res = await c.api('node2', '/replica?replication_state=streaming').catch(() => ({ status: 0 }));
      if (res.status !== 200) return undefined;
      return (await c.sql<{ n: number }>('node2', 'SELECT count(*)::int AS n FROM kept'))[0]!.n;
    });
    expect(rows).toBe(3);
    expect(since()).not.toContain('PostgreSQL did not start');
  }, 180_000);

  it('is not rebuilt by a rejoin while its upstream does not answer: the data directory is kept', async () => {
    // The primary's host is gone (connections refused): the rejoin cannot stream, pg_rewind
    // cannot reach it, and a rebuild would empty node2's directory and fail.
    await c.stopHost('node1');
    const leader = (await c.store.getLeader(c.scope))!;
    const { result } = await c.runAction('node2', 'rejoin', leader.term, { leader: 'node1' });
    expect(result.ok).toBe(false);
    expect(result.message).toContain('node1 does not answer');
    expect(result.message).toContain('not rebuilding (the data directory is kept');
    expect(existsSync(join(c.node('node2').dataDir, 'PG_VERSION'))).toBe(true);
    // Its agent starts it again as it was (a replica of node1, waiting for it).
    await c.waitFor('node2 running again', 60_000, async () => c.postmasterPid('node2') !== undefined);
  }, 180_000);
});
