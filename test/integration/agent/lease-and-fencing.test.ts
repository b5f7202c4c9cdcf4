import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FAST_PROFILE } from '../../../core/config/cluster-config.ts';
import { AgentCluster } from '../../helpers/agent-cluster.ts';

const TTL = FAST_PROFILE.ttl! * 1000;
const MARGIN = FAST_PROFILE.safety_margin! * 1000;
const LOOP = FAST_PROFILE.loop_wait! * 1000;

async function primaryCluster(dcs = {}): Promise<AgentCluster> {
  const cluster = await AgentCluster.create({ nodes: 1, dcs });
  cluster.startAgent('node1');
  await cluster.waitForRole('node1', '/primary');
  await cluster.sql('node1', 'CREATE TABLE w (id serial primary key, at timestamptz default now())');
  return cluster;
}

async function writable(cluster: AgentCluster): Promise<boolean> {
  try {
    await cluster.sql('node1', 'INSERT INTO w DEFAULT VALUES');
    return true;
  } catch {
    return false;
  }
}

/** Polls until PostgreSQL refuses a write; returns when that happened (ms since epoch). */
async function refusedAt(cluster: AgentCluster, timeoutMs: number): Promise<number> {
  return cluster.waitFor('PostgreSQL to refuse writes', timeoutMs, async () =>
    !(await writable(cluster)) ? Date.now() : false,
  );
}

describe('the primary agent and its lease (DESIGN §3)', () => {
  let cluster: AgentCluster | undefined;
  afterEach(async () => {
    await cluster?.destroy();
    cluster = undefined;
  });

  it('fences itself at once when someone else takes the lease over: /primary 503, writes refused, standby.signal left', async () => {
    cluster = await primaryCluster();
    const c = cluster;
    const leader = (await c.store.getLeader('test'))!;
    const takenAt = Date.now();
    await c.store.takeOverLease('test', { to: 'intruder', term: leader.term, rvn: leader.rvn, ttl: 4 });
    const refused = await refusedAt(c, LOOP + 5000);
    expect(refused - takenAt).toBeLessThan(LOOP + 3000);
    expect((await c.api('node1', '/primary')).status).toBe(503);
    await c.waitFor('postmaster gone', 10_000, async () => c.postmasterPid('node1') === undefined);
    expect(existsSync(join(c.node('node1').dataDir, 'standby.signal'))).toBe(true);
    const state = JSON.parse(readFileSync(join(c.node('node1').stateDir, 'state.json'), 'utf8'));
    expect(state).toMatchObject({ want: 'stopped', stopped_reason: 'fenced' });
    const member = (await c.store.getSnapshot('test')).members[0];
    await c.waitFor(
      'heartbeat says fenced',
      5000,
      async () => (await c.store.getSnapshot('test')).members[0]?.state === 'fenced',
    );
    expect(member?.name).toBe('node1');
  });

  it('cut off from DynamoDB with failsafe_mode off, fences itself no later than ttl - safety_margin after its last renewal began', async () => {
    cluster = await primaryCluster({ failsafe_mode: false });
    const c = cluster;
    const isolatedAt = Date.now();
    c.node('node1').dynamo.isolate();
    // The last renewal began before the isolation, so its local deadline is before this bound.
    const bound = TTL - MARGIN;
    const refused = await refusedAt(c, TTL + 5000);
    expect(refused - isolatedAt).toBeLessThan(bound + 1500);
    expect((await c.api('node1', '/primary')).status).toBe(503);
    expect(c.agentLog('node1')).toContain('fencing myself');
  });

  it('rides out a DynamoDB outage shorter than its deadline without fencing', async () => {
    cluster = await primaryCluster();
    const c = cluster;
    c.node('node1').dynamo.isolate();
    await new Promise((r) => setTimeout(r, 1000));
    c.node('node1').dynamo.heal();
    const until = Date.now() + TTL;
    while (Date.now() < until) {
      expect(await writable(c)).toBe(true);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect((await c.api('node1', '/primary')).status).toBe(200);
  });

  it('does not fence in pause mode when DynamoDB is unreachable', async () => {
    cluster = await primaryCluster({ pause: true });
    const c = cluster;
    await c.waitFor('pause seen', 5000, async () =>
      String((await c.api('node1', '/metrics')).body).includes(
        'patroni_is_paused{scope="test",name="node1"} 1',
      ),
    );
    c.node('node1').dynamo.isolate();
    await new Promise((r) => setTimeout(r, TTL + 1000));
    expect(await writable(c)).toBe(true);
    expect((await c.api('node1', '/primary')).status).toBe(200);
    expect(c.agentLog('node1')).toContain('cluster is paused: not fencing');
  });

  it('restarts a crashed PostgreSQL in place on the same timeline while it keeps the lease', async () => {
    cluster = await primaryCluster();
    const c = cluster;
    const before = (await c.store.getLeader('test'))!;
    process.kill(c.postmasterPid('node1')!, 'SIGKILL');
    await c.waitFor('writable again', 30_000, async () => writable(c));
    const after = (await c.store.getLeader('test'))!;
    expect(after).toMatchObject({ holder: 'node1', term: before.term, timeline: 1 });
    expect(after.rvn).not.toBe(before.rvn);
    await c.waitForRole('node1', '/primary');
  });

  it('fences and releases the lease when PostgreSQL stays down past primary_start_timeout', async () => {
    cluster = await primaryCluster({ primary_start_timeout: 2 });
    const c = cluster;
    // A setting PostgreSQL cannot parse: every restart attempt fails.
    appendFileSync(
      join(c.node('node1').dataDir, 'postgresql.auto.conf'),
      "\nmax_connections = 'not-a-number'\n",
    );
    process.kill(c.postmasterPid('node1')!, 'SIGKILL');
    await c.waitFor(
      'lease released',
      20_000,
      async () => (await c.store.getLeader('test'))?.released === true,
    );
    const state = JSON.parse(readFileSync(join(c.node('node1').stateDir, 'state.json'), 'utf8'));
    expect(state).toMatchObject({ want: 'stopped', stopped_reason: 'fenced' });
    expect(c.agentLog('node1')).toContain('released the lease');
  });

  it('never starts PostgreSQL as primary without holding the lease at the expected term', async () => {
    cluster = await primaryCluster();
    const c = cluster;
    c.killHost('node1');
    const leader = (await c.store.getLeader('test'))!;
    await c.store.takeOverLease('test', { to: 'someone-else', term: leader.term, rvn: leader.rvn, ttl: 4 });
    c.startAgent('node1');
    await c.waitFor('heartbeat after restart', 15_000, async () => {
      const member = (await c.store.getSnapshot('test')).members[0];
      return member && member.state === 'fenced';
    });
    await new Promise((r) => setTimeout(r, LOOP * 2));
    expect(c.postmasterPid('node1')).toBeUndefined();
    expect((await c.api('node1', '/primary')).status).toBe(503);
  });

  it('keeps renewing every loop_wait while PostgreSQL hangs: a slow PostgreSQL never costs the lease', async () => {
    // Validity 2.5 s; a hung PostgreSQL holds a cycle up to the observer's 2 s timeout (twice with
    // the slot check). Renewals that waited on the cycle came ≥ 3 s apart and the agent fenced.
    cluster = await primaryCluster({ ...FAST_PROFILE, safety_margin: 1.5, primary_start_timeout: 600 });
    const c = cluster;
    const rvns = new Set<string>();
    const thaw = c.freezePostgres('node1');
    try {
      const until = Date.now() + 8000;
      while (Date.now() < until) {
        rvns.add((await c.store.getLeader('test'))!.rvn);
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      thaw();
    }
    expect(rvns.size).toBeGreaterThanOrEqual(4);
    await c.waitForRole('node1', '/primary', 15_000);
    expect(readFileSync(c.node('node1').logPath, 'utf8')).not.toContain('fencing myself');
    expect((await c.store.getLeader('test'))!.term).toBe(1);
  });

  it('leaves the lease alone while an action holds the host, and renews again once it is done', async () => {
    // Validity 8 s: the lock is held well inside it, so nothing but the renewals can change.
    cluster = await primaryCluster({ ttl: 10, loop_wait: 1, retry_timeout: 2, safety_margin: 2 });
    const c = cluster;
    const lock = join(c.node('node1').stateDir, 'action.lock');
    const rvn = async () => (await c.store.getLeader('test'))!.rvn;
    writeFileSync(lock, `${process.pid} test-action`); // a live process holds it, as an action would
    let held: string;
    try {
      await new Promise((r) => setTimeout(r, 1000)); // a renewal already under way ends
      held = await rvn();
      await new Promise((r) => setTimeout(r, 3000)); // three loop_waits: cycle and keeper both skip
      expect(await rvn()).toBe(held);
    } finally {
      rmSync(lock, { force: true });
    }
    await c.waitFor('a renewal after the action', 5000, async () => (await rvn()) !== held);
    expect((await c.api('node1', '/primary')).status).toBe(200);
  });
});
