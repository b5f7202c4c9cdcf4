import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HaproxyEndpoint, renderHaproxyConfig } from '../../../adapters/local/haproxy-endpoint.ts';
import { DEFAULT_HEALTH_CHECK, FAST_HEALTH_CHECK } from '../../../core/endpoints/health-check-profile.ts';
import { freePort } from '../../../local/free-port.ts';
import { type LoopbackLogin, loopbackClient } from '../../../local/loopback-client.ts';
import { AgentCluster } from '../../helpers/agent-cluster.ts';
import { type RunningController, startController } from '../../helpers/controller-harness.ts';

async function whoAnswers(port: number, login: LoopbackLogin): Promise<{ port: number; replica: boolean }> {
  const client = loopbackClient(port, login, { connectMs: 2000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ port: number; replica: boolean }>(
      "SELECT current_setting('port')::int AS port, pg_is_in_recovery() AS replica",
    );
    return rows[0]!;
  } finally {
    await client.end().catch(() => {});
  }
}

describe('the HAProxy endpoint config', () => {
  it('checks /primary and /replica with the profile the NLB uses, and drops sessions of a target marked down', () => {
    const text = renderHaproxyConfig(
      { host: '127.0.0.1', writerPort: 5432, readerPort: 5433 },
      [{ name: 'n1', host: '10.0.0.1', pgPort: 5432, apiPort: 8008 }],
      DEFAULT_HEALTH_CHECK,
    );
    expect(text).toContain('http-check send meth GET uri /primary');
    expect(text).toContain('http-check send meth GET uri /replica');
    expect(text).toContain(
      'server n1 10.0.0.1:5432 check port 8008 inter 5s fall 2 rise 2 on-marked-down shutdown-sessions',
    );
    expect(text).toContain('timeout check 3s');
  });
});

describe('HAProxy in front of real agents', () => {
  let c: AgentCluster;
  let proxy: HaproxyEndpoint;
  let ctl: RunningController;
  let writer: number;
  let reader: number;

  beforeAll(async () => {
    c = await AgentCluster.create({ nodes: 3 });
    await c.startAll();
    [writer, reader] = [await freePort(), await freePort()];
    proxy = new HaproxyEndpoint(join(c.base, 'haproxy.cfg'));
    const targets = [...c.nodes.values()].map((n) => ({
      name: n.name,
      host: '127.0.0.1',
      pgPort: n.pgPort,
      apiPort: n.apiPort,
    }));
    await proxy.start(
      { host: '127.0.0.1', writerPort: writer, readerPort: reader },
      targets,
      FAST_HEALTH_CHECK,
    );
    ctl = startController(c);
  });
  afterAll(async () => {
    await ctl?.stop();
    await proxy?.stop();
    await c?.destroy();
  });

  it('sends writer connections to the primary and reader connections to replicas', async () => {
    // HAProxy 2.6 starts every server UP until its checks fail `fall` times: let them settle.
    await new Promise((r) =>
      setTimeout(r, (FAST_HEALTH_CHECK.unhealthyThreshold + 1) * FAST_HEALTH_CHECK.intervalSeconds * 1000),
    );
    await c.waitFor(
      'writer endpoint up',
      20_000,
      async () => (await whoAnswers(writer, c.login)).replica === false,
    );
    expect((await whoAnswers(writer, c.login)).port).toBe(c.node('node1').pgPort);
    const seen = new Set<number>();
    for (let i = 0; i < 6; i += 1) {
      const answer = await whoAnswers(reader, c.login);
      expect(answer.replica).toBe(true);
      seen.add(answer.port);
    }
    expect(seen.size).toBe(2);
  });

  it('follows a failover: the writer endpoint serves the new primary', async () => {
    c.killHost('node1');
    const answer = await c.waitFor('writer endpoint on a new primary', 60_000, async () => {
      const a = await whoAnswers(writer, c.login).catch(() => undefined);
      return a && !a.replica && a.port !== c.node('node1').pgPort ? a : undefined;
    });
    const leader = (await c.store.getLeader('test'))!.holder;
    expect(answer.port).toBe(c.node(leader).pgPort);
  });
});
