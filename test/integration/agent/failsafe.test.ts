import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signPing } from '../../../agent/failsafe/ping-signature.ts';
import { machineMonotonicMs, PromiseStore } from '../../../agent/failsafe/promise-file.ts';
import { FAST_PROFILE } from '../../../core/config/cluster-config.ts';
import type { FailsafePing } from '../../../core/failsafe/failsafe-ping.ts';
import { AckedWriter } from '../../../local/acked-writer.ts';
import type { RunningController } from '../../../local/local-topology.ts';
import { AgentCluster } from '../../helpers/agent-cluster.ts';
import { WritableInvariant } from '../../helpers/invariant-checker.ts';
import { runCli } from '../../helpers/run-cli.ts';

const TTL = FAST_PROFILE.ttl! * 1000;
const LOOP = FAST_PROFILE.loop_wait! * 1000;
const MARGIN = FAST_PROFILE.safety_margin! * 1000;

async function ping(c: AgentCluster, to: string, body: FailsafePing, secret = c.failsafeSecret) {
  const res = await fetch(`http://127.0.0.1:${c.node(to).apiPort}/failsafe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-pgwarden-signature': signPing(body, secret) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(3000),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/**
 * Failsafe (DESIGN §3): a DynamoDB outage must not take the database down. Three real nodes, the
 * controller as Lambda runs it, a writer at 20 Hz through PostgreSQL directly.
 */
describe('failsafe: the primary through a DynamoDB outage', () => {
  let c: AgentCluster;
  let ctl: RunningController;
  let writer: AckedWriter;

  beforeAll(async () => {
    c = await AgentCluster.create({ nodes: 3 });
    await c.startAll();
    await c.appSql('node1', 'CREATE TABLE acks (id int PRIMARY KEY)');
    ctl = c.startController({ tickMs: 500, logLevel: process.env.PGWARDEN_TEST_LOG ?? 'ERROR' });
  });
  afterEach(async () => {
    await writer?.stop();
  });
  afterAll(async () => {
    await ctl?.stop();
    await c?.destroy();
  });

  const leader = async () => (await c.store.getLeader('test'))!;
  const cutAll = (cut: boolean) => {
    for (const name of c.nodes.keys())
      if (cut) c.isolate(name);
      else c.heal(name);
    c.isolateController(cut);
  };

  it('keeps the primary writable with no failover and no fencing while DynamoDB is down for everyone for 5 x ttl', async () => {
    const before = await leader();
    writer = new AckedWriter({ ports: [c.node('node1').pgPort], login: c.login }).start();
    await new Promise((r) => setTimeout(r, 1000));
    const cutAt = Date.now();
    cutAll(true);
    try {
      const active = await c.waitFor('/patroni says failsafe', 2 * TTL, async () => {
        const body = (await c.api('node1', '/patroni')).body as { failsafe_mode_is_active?: boolean };
        return body.failsafe_mode_is_active === true;
      });
      expect(active).toBe(true);
      expect(String((await c.api('node1', '/metrics')).body)).toContain(
        'patroni_failsafe_mode_is_active{scope="test",name="node1"} 1',
      );
      // The agents' own tables say why (docs/rules.md): the primary in failsafe, a replica promised.
      const decision = async (node: string) =>
        ((await c.api(node, '/patroni')).body as { decision?: { rule: number; reason: string } }).decision;
      const decidesBy = (node: string, rule: number) =>
        c.waitFor(
          `${node} decides by rule ${rule}`,
          2 * TTL,
          async () => (await decision(node))?.rule === rule,
        );
      expect(await decidesBy('node1', 330)).toBe(true);
      expect(await decidesBy('node2', 415)).toBe(true);
      expect((await decision('node2'))?.reason).toContain('promised node1');
      await new Promise((r) => setTimeout(r, 5 * TTL - (Date.now() - cutAt)));
      expect((await c.api('node1', '/primary')).status).toBe(200);
    } finally {
      cutAll(false);
    }
    const healedAt = Date.now();
    // Writes never stopped for longer than a cycle or two.
    expect(writer.longestGap(cutAt, healedAt)).toBeLessThan(2 * LOOP + 1000);
    // Renewals resume at the same term, and nothing else happens.
    await c.waitFor('a renewal after the outage', 3 * TTL, async () => {
      const l = await leader();
      return l.rvn !== before.rvn && l.term === before.term;
    });
    await c.waitFor('failsafe left', 3 * TTL, async () => {
      const body = (await c.api('node1', '/patroni')).body as { failsafe_mode_is_active?: boolean };
      // As Patroni: the key is there only while failsafe is active.
      return body.failsafe_mode_is_active === undefined;
    });
    expect((await leader()).holder).toBe('node1');
    expect((await c.store.getSnapshot('test')).history.map((h) => h.term)).toEqual([1]);
    expect(c.agentLog('node1')).not.toContain('fencing myself');
    expect(c.agentLog('node1')).toContain('entered failsafe');
  });

  it('fails over nobody while only the primary is cut off from DynamoDB and every replica promised it', async () => {
    const before = await leader();
    await c.appSql('node1', 'CREATE TABLE acks_primary_cut (id int PRIMARY KEY)');
    // The outage before left the replicas to catch up: both must be in node1's failsafe set again.
    await c.waitFor('node2 and node3 in the failsafe set', 30_000, async () => {
      const body = (await c.api('node1', '/failsafe')).body as Record<string, string>;
      return body.node2 !== undefined && body.node3 !== undefined;
    });
    writer = new AckedWriter({
      ports: [c.node('node1').pgPort],
      login: c.login,
      table: 'acks_primary_cut',
    }).start();
    c.isolate('node1');
    const cutAt = Date.now();
    try {
      // The controller sees the lease expire, and every fresh member's promise to node1.
      await c.waitFor('the failsafe notification', 8 * TTL, async () =>
        ctl.notifier.events.find(
          (e) => e.type === 'failsafe_active' && e.message.includes('node1 is in failsafe'),
        ),
      );
      const list = await runCli(['--endpoint', c.dynamoEndpoint, '--table', c.table, 'list', 'test']);
      expect(list.stdout).toMatch(/node1 .*Leader.*\(failsafe: promised by 2\)/);
      await new Promise((r) => setTimeout(r, 2 * TTL));
      expect((await c.api('node1', '/primary')).status).toBe(200);
      expect((await leader()).term).toBe(before.term);
      const snapshot = await c.store.getSnapshot('test');
      expect(snapshot.op).toBeUndefined();
      for (const name of ['node2', 'node3'])
        expect(snapshot.members.find((m) => m.name === name)?.failsafe_promise).toMatchObject({
          holder: 'node1',
          term: before.term,
        });
    } finally {
      c.heal('node1');
    }
    const healedAt = Date.now();
    expect(writer.longestGap(cutAt, healedAt)).toBeLessThan(2 * LOOP + 1000);
    await c.waitFor('renewals again', 3 * TTL, async () => (await leader()).rvn !== before.rvn);
    expect(await leader()).toMatchObject({ holder: 'node1', term: before.term });
    expect((await c.store.getSnapshot('test')).history.map((h) => h.term)).toEqual([1]);
  });

  it('refuses a forged ping, a replayed one and one at a term below the lease, and promises nothing', async () => {
    const term = (await leader()).term;
    const now = Date.now();
    const good: FailsafePing = { cluster: 'test', term, from: 'node1', sent_at: now };
    const forged = await ping(c, 'node3', good, 'not-the-cluster-secret-at-all');
    expect(forged.status).toBe(401);
    const lower = await ping(c, 'node3', { ...good, term: term - 1 || 0, sent_at: now + 1 });
    expect([400, 409]).toContain(lower.status);
    const accepted = await ping(c, 'node3', { ...good, sent_at: now + 2 });
    expect(accepted.status).toBe(200);
    const replayed = await ping(c, 'node3', { ...good, sent_at: now + 2 });
    expect(replayed.status).toBe(409);
    expect(replayed.body.reason).toContain('replayed');
    const other = await ping(c, 'node3', { ...good, cluster: 'other', sent_at: now + 3 });
    expect(other.status).toBe(403);
    const unsigned = await fetch(`http://127.0.0.1:${c.node('node3').apiPort}/failsafe`, {
      method: 'POST',
      body: JSON.stringify(good),
    });
    expect(unsigned.status).toBe(401);
    expect(c.agentLog('node3')).toContain('failsafe ping refused');
  });

  it('a replica restarted while it holds a promise still refuses promote until the promise expires', async () => {
    const term = (await leader()).term;
    const accepted = await ping(c, 'node2', {
      cluster: 'test',
      term,
      from: 'node1',
      sent_at: Date.now() + 10,
    });
    expect(accepted.status).toBe(200);
    const promisedAt = Date.now();
    expect(existsSync(join(c.node('node2').stateDir, 'failsafe.json'))).toBe(true);
    c.stopAgent('node2', 'SIGKILL');
    c.startAgent('node2');
    const refused = await c.runAction('node2', 'promote', term + 1);
    expect(refused.result).toMatchObject({ ok: false, code: 'FAILSAFE_PROMISE' });
    expect(refused.result.message).toMatch(
      /promised node1 \(term \d+\) in failsafe not to be promoted until \d{4}-/,
    );
    // Past the promise, promote is refused only for the usual reason: the lease is node1's.
    await new Promise((r) => setTimeout(r, Math.max(0, promisedAt + TTL + 200 - Date.now())));
    const later = await c.runAction('node2', 'promote', term + 1);
    expect(later.result).toMatchObject({ ok: false, code: 'ACTION_REFUSED' });
  });

  it('fences the primary by its deadline when a member is lost during the outage, and the cluster recovers afterwards', async () => {
    const before = await leader();
    cutAll(true);
    try {
      await new Promise((r) => setTimeout(r, LOOP));
      const lostAt = Date.now();
      c.killHost('node3');
      // The next round cannot reach node3: nothing is extended, and the primary fences by its deadline.
      await c.waitFor('the primary to stop serving', TTL + 2 * LOOP + MARGIN, async () => {
        try {
          await c.sql('node1', 'SELECT 1');
          return false;
        } catch {
          return true;
        }
      });
      expect(Date.now() - lostAt).toBeLessThan(TTL + LOOP + 2000);
      expect(c.agentLog('node1')).toContain('not every member answered');
    } finally {
      cutAll(false);
    }
    // DynamoDB is back: a failover (or node1 again), by the usual rules.
    const after = await c.waitFor('a serving primary', 60_000, async () => {
      const l = await leader();
      if (l.term === before.term) return undefined;
      return (await c.api(l.holder, '/primary')).status === 200 ? l : undefined;
    });
    expect(after.term).toBeGreaterThan(before.term);
    c.startAgent('node3');
  });
});

describe('failsafe: the primary cut off from DynamoDB and from one replica', () => {
  let c: AgentCluster;
  let ctl: RunningController;

  beforeAll(async () => {
    c = await AgentCluster.create({ nodes: 3 });
    await c.startAll();
    ctl = c.startController({ tickMs: 500, logLevel: process.env.PGWARDEN_TEST_LOG ?? 'ERROR' });
  });
  afterAll(async () => {
    await ctl?.stop();
    await c?.destroy();
  });

  it('fences by its deadline; a replica is promoted only once its own promise has expired; never two writable nodes', async () => {
    const before = (await c.store.getLeader('test'))!;
    // Both replicas are in node1's failsafe set (Patroni's GET /failsafe), so its rounds need node3.
    await c.waitFor('node2 and node3 in the failsafe set', 20_000, async () => {
      const body = (await c.api('node1', '/failsafe')).body as Record<string, string>;
      return body.node2 !== undefined && body.node3 !== undefined;
    });
    const invariant = new WritableInvariant(c, 50).start();
    try {
      c.isolate('node1');
      c.cutApi('node3'); // node1's pings cannot reach node3; node2 still answers them
      const cutAt = Date.now();
      // When it fenced, by its own log (a probe's timeouts would blur the measure).
      const fencedAt = await c.waitFor('node1 to fence itself', TTL + 10_000, async () => {
        const line = c
          .agentLog('node1')
          .split('\n')
          .find((l) => l.includes('"message":"fencing myself"'));
        return line ? Date.parse(JSON.parse(line).timestamp) : undefined;
      });
      expect(fencedAt - cutAt).toBeLessThan(TTL + LOOP + 2000);
      await c.waitFor('node1 to refuse writes', 20_000, async () => {
        try {
          await c.sql('node1', 'CREATE TEMP TABLE probe (x int)');
          return false;
        } catch {
          return true;
        }
      });
      expect(c.agentLog('node1')).toContain('not every member answered');
      const after = await c.waitFor('a new primary', 60_000, async () => {
        const l = await c.store.getLeader('test');
        if (!l || l.term === before.term) return undefined;
        return (await c.api(l.holder, '/primary')).status === 200 ? l : undefined;
      });
      expect(after.holder).not.toBe('node1');
      // node2 answered node1's pings until node1 fenced: it may be promoted only after its last
      // promise ran out (the machine's monotonic clock, shared here, turned into wall time).
      const row = await c.waitFor('the history row', 30_000, async () =>
        (await c.store.getSnapshot('test')).history.find((h) => h.term === before.term + 1),
      );
      const promise = await new PromiseStore(join(c.node('node2').stateDir, 'failsafe.json')).read();
      expect(promise?.holder).toBe('node1');
      const promiseEnd = Date.now() - (machineMonotonicMs() - promise!.until);
      if (row.new === 'node2') expect(row.timings.promote!).toBeGreaterThanOrEqual(promiseEnd - 50);
    } finally {
      c.heal('node1');
      c.cutApi('node3', false);
      await invariant.stop();
    }
    expect(invariant.samples).toBeGreaterThan(20);
    expect(invariant.violations).toEqual([]);
  });
});
