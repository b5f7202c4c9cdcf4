import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CoordinationStore } from '../../core/store/coordination-store.ts';
import { processAlive } from '../../local/wait-for.ts';
import { startController } from '../helpers/controller-harness.ts';
import { Scenario } from '../helpers/scenario.ts';

/**
 * Failovers end to end, through the HAProxy writer endpoint, with two controllers ticking at
 * once the whole time, an application writing at 20 Hz and the invariant checker sampling every
 * node every 100 ms. The scenarios run one after the other on one cluster; each leaves it whole.
 */
describe('failover end to end (two controllers at once, writer and invariant checker running)', () => {
  let s: Scenario;
  beforeAll(async () => {
    // failsafe_mode off: an isolated primary fences itself and fails over (today's behaviour; the
    // failsafe tests cover the other side, test/integration/agent/failsafe.test.ts).
    s = await Scenario.start({ controllers: 2, dcs: { failsafe_mode: false } });
  });
  afterAll(async () => {
    await s?.destroy();
  });

  async function term(): Promise<number> {
    return (await s.store.getLeader(s.cluster.scope))!.term;
  }

  async function newPrimary(before: number, old: string): Promise<string> {
    await s.cluster.waitFor(`a term after ${before}`, 60_000, async () => (await term()) > before);
    const primary = await s.primary();
    expect(primary).not.toBe(old);
    await s.writerServes(primary);
    await s.settled();
    return primary;
  }

  async function historyRow(t: number) {
    return s.cluster.waitFor(`the history row of term ${t}`, 30_000, async () =>
      (await s.store.getSnapshot(s.cluster.scope)).history.find((h) => h.term === t),
    );
  }

  it('host crash: a replica is promoted, the writer endpoint serves it, one history row per term', async () => {
    const old = await s.primary();
    const before = await term();
    const crashedAt = Date.now();
    s.cluster.killHost(old);
    const primary = await newPrimary(before, old);
    const row = await historyRow(before + 1);
    expect(row).toMatchObject({ kind: 'failover', old, new: primary });
    const firstWrite = await s.cluster.waitFor('a write on the new primary', 30_000, async () =>
      s.writer.firstAckAfter(crashedAt, s.cluster.node(old).pgPort),
    );
    expect(firstWrite?.port).toBe(s.endpoint.writerPort);
    expect(firstWrite?.server).toBe(s.cluster.node(primary).pgPort);
    console.log(
      `host crash: first write through the endpoint ${firstWrite!.at - crashedAt} ms after the crash`,
    );
    const history = (await s.store.getSnapshot(s.cluster.scope)).history.map((h) => h.term);
    expect(history).toEqual([...new Set(history)]);
  });

  it('the old primary comes back and rejoins as a replica by itself', async () => {
    const primary = await s.primary();
    const down = [...s.cluster.nodes.values()].find((n) => n.down)!;
    s.cluster.startAgent(down.name);
    await s.allStreaming(primary);
    expect((await s.cluster.api(down.name, '/replica')).status).toBe(200);
  });

  it('agent-only death: the old primary is fenced before anyone is promoted', async () => {
    const old = await s.primary();
    const before = await term();
    const postmaster = s.cluster.postmasterPid(old)!;
    s.cluster.stopAgent(old, 'SIGKILL');
    const primary = await newPrimary(before, old);
    const row = await historyRow(before + 1);
    expect(row.timings.fence!).toBeLessThanOrEqual(row.timings.promote!);
    // The fence was a forced stop of the host: its PostgreSQL is gone (dead; its parent may not
    // have reaped it yet, so a zombie counts as gone, as it does for the fencer).
    expect(processAlive(postmaster)).toBe(false);
    s.cluster.startAgent(old);
    await s.allStreaming(primary);
  });

  it('primary isolated from DynamoDB: it fences itself, a replica is promoted, it rejoins once healed', async () => {
    const old = await s.primary();
    const before = await term();
    s.cluster.isolate(old);
    await s.cluster.waitFor(
      `${old} fenced`,
      30_000,
      async () => (await s.cluster.api(old, '/primary')).status === 503,
    );
    const primary = await newPrimary(before, old);
    s.cluster.heal(old);
    await s.allStreaming(primary);
  });

  it('controllers killed mid-failover: a new controller finishes the operation', async () => {
    for (const c of s.controllers.splice(0)) await c.stop();
    let dead = false;
    // A controller that dies (no further store calls, no commands) right after it began the operation.
    const dying: CoordinationStore = new Proxy(s.store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          if (dead) throw new Error('this controller is dead');
          const result = await value.apply(target, args);
          if (prop === 'beginOp') dead = true;
          return result;
        };
      },
    });
    const doomed = startController(s.cluster, { store: dying, name: 'doomed' });
    const old = await s.primary();
    const before = await term();
    s.cluster.killHost(old);
    await s.cluster.waitFor('the operation begun', 60_000, async () => dead);
    await new Promise((r) => setTimeout(r, 2000));
    const stuck = (await s.store.getSnapshot(s.cluster.scope)).op;
    expect(stuck).toBeDefined();
    await doomed.stop();
    s.controllers.push(startController(s.cluster, { name: 'successor' }));
    const primary = await newPrimary(before, old);
    expect((await historyRow(before + 1)).new).toBe(primary);
    s.cluster.startAgent(old);
    await s.allStreaming(primary);
  });

  it('five host crashes in a row: every restarted node streams within seconds of its first heartbeat', async () => {
    const waits: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const old = await s.primary();
      const before = await term();
      s.cluster.killHost(old);
      const primary = await newPrimary(before, old);
      const lastBeat = (await s.store.getSnapshot(s.cluster.scope)).members.find((m) => m.name === old)?.rvn;
      s.cluster.startAgent(old);
      // The controller may ask it to rejoin as soon as it sees the agent again, not a command_timeout
      // after the last time it asked that node (for another primary).
      const firstBeatAt = await s.cluster.waitFor(`${old}'s first heartbeat`, 60_000, async () => {
        const m = (await s.store.getSnapshot(s.cluster.scope)).members.find((x) => x.name === old);
        return m && m.rvn !== lastBeat ? Date.now() : undefined;
      });
      await s.cluster.waitFor(`${old} streaming`, 60_000, async () => {
        return (await s.cluster.api(old, '/replica?replication_state=streaming')).status === 200;
      });
      waits.push(Date.now() - firstBeatAt);
      await s.allStreaming(primary);
    }
    console.log(`restarted nodes streaming after their first heartbeat: ${waits.join(', ')} ms`);
    for (const ms of waits) expect(ms).toBeLessThan(15_000);
  });

  it('no instant with two writable nodes; acknowledged writes lost only within maximum_lag_on_failover', async () => {
    const result = await s.verify();
    console.log(
      `failover scenarios: ${result.acked} writes acknowledged, ${result.lost} lost (asynchronous)`,
    );
  });
});
