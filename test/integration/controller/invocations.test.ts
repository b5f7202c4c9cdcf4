import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InvocationSchedule } from '../../../core/controller/invocation-schedule.ts';
import type { RunningController } from '../../../local/local-topology.ts';
import { AgentCluster } from '../../helpers/agent-cluster.ts';

/**
 * Short invocations (a new one every 2 s, killed after 3 s, overlapping by 0.2 s): an operation
 * longer than one is begun by one invocation and finished by the next ones, from the `op` item,
 * while each invocation is SIGKILLed at its timeout as Lambda does (DESIGN §6).
 */
const SHORT: InvocationSchedule = { everySeconds: 2, timeoutSeconds: 3, deadlineMarginSeconds: 0.8 };

describe('the controller run as Lambda runs it', () => {
  let c: AgentCluster;
  let ctl: RunningController;

  beforeAll(async () => {
    c = await AgentCluster.create({ nodes: 3 });
    await c.startAll();
    ctl = c.startController({
      schedule: SHORT,
      tickMs: 500,
      logLevel: process.env.PGWARDEN_TEST_LOG ?? 'ERROR',
    });
  });
  afterAll(async () => {
    await ctl?.stop();
    await c?.destroy();
  });

  it('runs separate invocations on the schedule, each with its own process', async () => {
    await c.waitFor('three invocations', 15_000, async () => (ctl.lambda?.invocations.length ?? 0) >= 3);
    const [a, b] = ctl.lambda!.invocations;
    expect(a!.pid).not.toBe(b!.pid);
    expect(b!.startedAt - a!.startedAt).toBeGreaterThanOrEqual(SHORT.everySeconds * 1000 - 200);
  });

  it('finishes a failover begun by one invocation in the next ones: one promotion, one history row, no invocation killed mid-step', async () => {
    const before = (await c.store.getLeader('test'))!;
    // Another action holds both replicas for 5 s, so the promotion cannot finish within the
    // invocation that sends it (each lives 3 s): the next ones must read its result.
    const locks = ['node2', 'node3'].map((n) => join(c.node(n).stateDir, 'action.lock'));
    for (const lock of locks) writeFileSync(lock, `${process.pid} test-hold`);
    setTimeout(() => {
      for (const lock of locks) rmSync(lock, { force: true });
    }, 5000);
    c.killHost('node1');
    const leader = await c.waitFor('a new primary', 60_000, async () => {
      const l = await c.store.getLeader('test');
      if (!l || l.term === before.term) return undefined;
      return (await c.api(l.holder, '/primary')).status === 200 ? l : undefined;
    });
    const row = await c.waitFor('the history row', 30_000, async () =>
      (await c.store.getSnapshot('test')).history.find((h) => h.term === before.term + 1),
    );
    const history = (await c.store.getSnapshot('test')).history;
    expect(history.filter((h) => h.term === before.term + 1)).toHaveLength(1);
    expect(row).toMatchObject({ kind: 'failover', old: 'node1', new: leader.holder });
    const promotions = c.commandBus.results().filter((r) => r.action === 'promote' && r.ok && r.changed);
    expect(promotions).toHaveLength(1);
    const invocations = ctl.lambda!.invocations;
    const spanned = invocations.filter(
      (i) =>
        i.startedAt < row.timings.finished! &&
        (i.endedAt ?? Number.POSITIVE_INFINITY) > row.timings.detected!,
    );
    console.log(
      `failover ${row.timings.finished! - row.timings.detected!} ms, over ${spanned.length} invocations`,
    );
    // No invocation was cut off by its timeout: every wait ended before it.
    await new Promise((r) => setTimeout(r, SHORT.timeoutSeconds * 1000));
    const ended = invocations.filter((i) => i.endedAt !== undefined);
    expect(ended.length).toBeGreaterThan(3);
    expect(ended.filter((i) => i.how === 'killed')).toEqual([]);
    expect(ended.map((i) => i.exitCode)).toEqual(ended.map(() => 0));
  });

  it('resumes a failover whose invocations were SIGKILLed mid-step: the next one reads the promote command already sent', async () => {
    const before = (await c.store.getLeader('test'))!;
    const down = [...c.nodes.values()].find((n) => n.down)!;
    c.startAgent(down.name);
    await c.waitFor(`${down.name} streaming`, 60_000, async () => {
      const m = (await c.store.getSnapshot('test')).members.find((x) => x.name === down.name);
      return m?.receiver_state === 'streaming' && !(await c.store.getSnapshot('test')).op;
    });
    const replicas = [...c.nodes.keys()].filter((n) => n !== before.holder);
    const locks = replicas.map((n) => join(c.node(n).stateDir, 'action.lock'));
    for (const lock of locks) writeFileSync(lock, `${process.pid} test-hold`);
    const release = setTimeout(() => {
      for (const lock of locks) rmSync(lock, { force: true });
    }, 5000);
    try {
      const promotionsBefore = c.commandBus
        .results()
        .filter((r) => r.action === 'promote' && r.changed).length;
      c.killHost(before.holder);
      const op = await c.waitFor('the promote step under way', 30_000, async () => {
        const o = (await c.store.getSnapshot('test')).op;
        return o?.step === 'promote' && o.command ? o : undefined;
      });
      const killed = ctl.lambda!.crash();
      expect(killed.length).toBeGreaterThan(0);
      const after = await c.waitFor('a new primary', 60_000, async () => {
        const l = await c.store.getLeader('test');
        if (!l || l.term === before.term) return undefined;
        return (await c.api(l.holder, '/primary')).status === 200 ? l : undefined;
      });
      expect(after.holder).toBe(op.to);
      await c.waitFor('the operation ended', 30_000, async () => !(await c.store.getSnapshot('test')).op);
      const history = (await c.store.getSnapshot('test')).history;
      expect(history.filter((h) => h.term === before.term + 1)).toHaveLength(1);
      const promotions = c.commandBus.results().filter((r) => r.action === 'promote' && r.changed);
      expect(promotions.length - promotionsBefore).toBe(1);
    } finally {
      clearTimeout(release);
      for (const lock of locks) rmSync(lock, { force: true });
    }
  });
});
