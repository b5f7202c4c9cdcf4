import { afterEach, describe, expect, it } from 'vitest';
import { AgentCluster } from '../../helpers/agent-cluster.ts';
import { type RunningController, startController } from '../../helpers/controller-harness.ts';
import { WritableInvariant } from '../../helpers/invariant-checker.ts';

async function healthyCluster(
  options: Parameters<typeof AgentCluster.create>[0] = {},
): Promise<AgentCluster> {
  const c = await AgentCluster.create({ nodes: 3, ...options });
  try {
    await c.startAll();
    await c.sql('node1', 'CREATE TABLE t (id int primary key)');
  } catch (error) {
    // The test never gets this cluster, so its afterEach cannot stop it: stop it here.
    await c.destroy();
    throw error;
  }
  return c;
}

async function primaryOf(c: AgentCluster, timeoutMs = 60_000): Promise<string> {
  return c.waitFor('a serving primary', timeoutMs, async () => {
    for (const name of c.nodes.keys()) {
      if (c.node(name).down) continue;
      if ((await c.api(name, '/primary').catch(() => ({ status: 0 }))).status === 200) return name;
    }
    return undefined;
  });
}

describe('the controller failing over real agents', () => {
  let c: AgentCluster | undefined;
  const controllers: RunningController[] = [];
  afterEach(async () => {
    for (const ctl of controllers.splice(0)) await ctl.stop();
    await c?.destroy();
    c = undefined;
  });

  it('fails over after a host crash: takeover, fence, promote, followers re-pointed, history with timings', async () => {
    c = await healthyCluster();
    const cl = c;
    await cl.sql('node1', 'INSERT INTO t VALUES (1)');
    await cl.waitFor(
      'row replicated',
      10_000,
      async () => (await cl.sql('node2', 'SELECT 1 FROM t')).length === 1,
    );
    controllers.push(startController(cl));
    const invariant = new WritableInvariant(cl).start();
    cl.killHost('node1');
    const primary = await primaryOf(cl);
    await invariant.stop();
    expect(invariant.samples).toBeGreaterThan(10);
    expect(invariant.violations).toEqual([]);
    expect(['node2', 'node3']).toContain(primary);
    const other = primary === 'node2' ? 'node3' : 'node2';
    await cl.sql(primary, 'INSERT INTO t VALUES (2)');
    await cl.waitFor(
      `${other} follows ${primary}`,
      30_000,
      async () => (await cl.sql(other, 'SELECT 1 FROM t WHERE id = 2')).length === 1,
    );
    const snapshot = await cl.store.getSnapshot('test');
    expect(snapshot.op).toBeUndefined();
    expect(snapshot.leader).toMatchObject({ holder: primary, term: 2 });
    const row = snapshot.history.find((h) => h.term === 2)!;
    expect(row).toMatchObject({ kind: 'failover', old: 'node1', new: primary, rule: 160 });
    expect(row.reason).toMatch(/lease of node1 unchanged/);
    expect(Object.keys(row.timings)).toEqual(
      expect.arrayContaining(['detected', 'fence', 'promote', 'repoint', 'finished']),
    );
    expect(controllers[0]!.notifier.events.map((e) => e.type)).toContain('primary_changed');
  });

  it('brings the old primary back as a replica by itself when its host returns', async () => {
    c = await healthyCluster();
    const cl = c;
    controllers.push(startController(cl));
    cl.killHost('node1');
    const primary = await primaryOf(cl);
    cl.startAgent('node1');
    await cl.waitFor('node1 streams from the new primary', 60_000, async () => {
      const member = (await cl.store.getSnapshot('test')).members.find((m) => m.name === 'node1');
      return (
        member?.role === 'replica' && member.upstream === primary && member.receiver_state === 'streaming'
      );
    });
    expect((await cl.api('node1', '/replica')).status).toBe(200);
  });

  it('fences an agent-less primary before anyone is promoted', async () => {
    c = await healthyCluster();
    const cl = c;
    controllers.push(startController(cl));
    const invariant = new WritableInvariant(cl).start();
    cl.stopAgent('node1', 'SIGKILL'); // the agent dies, PostgreSQL lives on
    const primary = await primaryOf(cl);
    await new Promise((r) => setTimeout(r, 2000));
    await invariant.stop();
    expect(invariant.violations).toEqual([]);
    expect(primary).not.toBe('node1');
    // Fenced: PostgreSQL on node1 is gone, or (once the controller had it rejoin) a replica.
    if (cl.postmasterPid('node1') !== undefined) {
      const [row] = await cl.sql<{ r: boolean }>('node1', 'SELECT pg_is_in_recovery() AS r');
      expect(row!.r).toBe(true);
    }
    const row = await cl.waitFor('the history row of term 2', 30_000, async () =>
      (await cl.store.getSnapshot('test')).history.find((h) => h.term === 2),
    );
    expect(row.timings.fence!).toBeLessThanOrEqual(row.timings.promote!);
  });

  it('does not fail over when no replica is eligible, and says why', async () => {
    c = await healthyCluster({
      tags: {
        node2: { nofailover: true, failover_priority: 0 },
        node3: { nofailover: true, failover_priority: 0 },
      },
    });
    const cl = c;
    const ctl = startController(cl);
    controllers.push(ctl);
    cl.killHost('node1');
    await cl.waitFor('a refusal', 30_000, async () =>
      ctl.notifier.events.find((e) => e.type === 'failover_refused'),
    );
    const refusal = ctl.notifier.events.find((e) => e.type === 'failover_refused')!;
    expect(refusal.message).toContain('node2: tagged nofailover');
    expect(refusal.message).toContain('node3: tagged nofailover');
    await new Promise((r) => setTimeout(r, 2000));
    expect(ctl.notifier.events.filter((e) => e.type === 'failover_refused')).toHaveLength(1);
    expect((await cl.store.getLeader('test'))?.term).toBe(1);
  });

  it.each(['fence', 'promote', 'repoint'] as const)(
    'a controller killed just before recording the %s step is resumed by a new invocation',
    async (step) => {
      c = await healthyCluster();
      const cl = c;
      let crashed = false;
      // A store through which controller A dies at the moment it would record `step`.
      const dying = new Proxy(cl.store, {
        get(target, prop, receiver) {
          if (prop === 'updateOp') {
            return async (cluster: string, op: { step: string }) => {
              if (op.step === step && !crashed) {
                crashed = true;
                throw new Error('simulated crash of the controller');
              }
              if (crashed) throw new Error('this controller is dead');
              return target.updateOp(cluster, op as never);
            };
          }
          const value = Reflect.get(target, prop, receiver);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      const a = startController(cl, { store: dying, name: 'a' });
      cl.killHost('node1');
      await cl.waitFor('controller A crashed', 60_000, async () => crashed);
      // A crashed controller is not drained: give its loop a moment to end, then go on without it.
      await Promise.race([a.stop(), new Promise((r) => setTimeout(r, 10_000))]);
      const stuck = (await cl.store.getSnapshot('test')).op;
      expect(stuck).toBeDefined();
      controllers.push(startController(cl, { name: 'b' }));
      const primary = await primaryOf(cl);
      await cl.waitFor(
        'operation finished',
        30_000,
        async () => (await cl.store.getSnapshot('test')).op === undefined,
      );
      const snapshot = await cl.store.getSnapshot('test');
      expect(snapshot.leader).toMatchObject({ holder: primary, term: 2 });
      expect(snapshot.history.map((h) => h.term)).toEqual([1, 2]);
    },
  );

  it('two controllers ticking at once make one primary and one history row per term', async () => {
    c = await healthyCluster();
    const cl = c;
    controllers.push(
      startController(cl, { tickMs: 300, name: 'a' }),
      startController(cl, { tickMs: 450, name: 'b' }),
    );
    const invariant = new WritableInvariant(cl).start();
    cl.killHost('node1');
    const primary = await primaryOf(cl);
    await cl.waitFor(
      'operation finished',
      30_000,
      async () => (await cl.store.getSnapshot('test')).op === undefined,
    );
    await new Promise((r) => setTimeout(r, 3000));
    await invariant.stop();
    expect(invariant.violations).toEqual([]);
    const snapshot = await cl.store.getSnapshot('test');
    expect(snapshot.leader).toMatchObject({ holder: primary, term: 2 });
    expect(snapshot.history.map((h) => h.term)).toEqual([1, 2]);
    let serving = 0;
    for (const name of ['node2', 'node3']) if ((await cl.api(name, '/primary')).status === 200) serving += 1;
    expect(serving).toBe(1);
  });
});
