import { expect } from 'vitest';
import type { EndpointPorts } from '../../adapters/local/haproxy-endpoint.ts';
import { storedClusterConfig } from '../../core/config/cluster-config.ts';
import { AckedWriter, lostWalBytes } from '../../local/acked-writer.ts';
import type { RunningController } from '../../local/local-topology.ts';
import { loopbackClient } from '../../local/loopback-client.ts';
import { AgentCluster, type ClusterOptions } from './agent-cluster.ts';
import { startController } from './controller-harness.ts';
import { WritableInvariant } from './invariant-checker.ts';

/**
 * An end-to-end scenario (DESIGN §8): a local topology with HAProxy in front, the controller
 * ticking, an application writing through the writer endpoint at 20 Hz and the invariant
 * checker sampling every node, all the time. `verify()` asserts what must hold whatever the
 * scenario did: never two writable nodes; every acknowledged write on the final primary
 * (synchronous mode) or the loss within maximum_lag_on_failover (asynchronous).
 */
export class Scenario {
  readonly controllers: RunningController[] = [];
  private constructor(
    readonly cluster: AgentCluster,
    readonly endpoint: EndpointPorts,
    readonly invariant: WritableInvariant,
    readonly writer: AckedWriter,
  ) {}

  static async start(options: ClusterOptions & { controllers?: number } = {}): Promise<Scenario> {
    const cluster = await AgentCluster.create({ nodes: 3, ...options });
    try {
      const endpoint = await cluster.startEndpoint();
      await cluster.startAll();
      await cluster.appSql('node1', 'CREATE TABLE acks (id int PRIMARY KEY)');
      // Replication is asynchronous: a crash right after the start could otherwise lose the table.
      for (const name of [...cluster.nodes.keys()].slice(1))
        await cluster.waitFor(`the acks table on ${name}`, 30_000, async () => {
          const [row] = await cluster.sql<{ t: string | null }>(
            name,
            "SELECT to_regclass('acks')::text AS t",
          );
          return row?.t === 'acks';
        });
      const scenario = new Scenario(
        cluster,
        endpoint,
        new WritableInvariant(cluster),
        new AckedWriter({ ports: [endpoint.writerPort], login: cluster.login }),
      );
      for (let i = 0; i < (options.controllers ?? 1); i += 1)
        scenario.controllers.push(
          startController(cluster, { tickMs: 500 + i * 150, name: `controller${i}` }),
        );
      await scenario.writerServes('node1');
      scenario.invariant.start();
      scenario.writer.start();
      return scenario;
    } catch (error) {
      await cluster.destroy();
      throw error;
    }
  }

  get store() {
    return this.cluster.store;
  }

  /** The member holding the lease whose /primary answers 200. */
  async primary(timeoutMs = 60_000): Promise<string> {
    return this.cluster.waitFor('a serving primary', timeoutMs, async () => {
      const leader = await this.store.getLeader(this.cluster.scope);
      if (!leader || leader.released || this.cluster.node(leader.holder).down) return undefined;
      return (await this.cluster.api(leader.holder, '/primary')).status === 200 ? leader.holder : undefined;
    });
  }

  /** Until a connection through the writer endpoint lands on `name`, writable. */
  async writerServes(name: string, timeoutMs = 60_000): Promise<void> {
    const port = this.cluster.node(name).pgPort;
    await this.cluster.waitFor(`the writer endpoint to serve ${name}`, timeoutMs, async () => {
      const client = loopbackClient(this.endpoint.writerPort, this.cluster.login);
      try {
        await client.connect();
        const { rows } = await client.query<{ port: number; ro: boolean }>(
          'SELECT inet_server_port() AS port, pg_is_in_recovery() AS ro',
        );
        return rows[0]?.port === port && rows[0]?.ro === false;
      } finally {
        await client.end().catch(() => {});
      }
    });
  }

  /** Until every other node that is up streams from `primary`. */
  async allStreaming(primary: string, timeoutMs = 90_000): Promise<void> {
    for (const name of this.cluster.nodes.keys()) {
      if (name === primary || this.cluster.node(name).down) continue;
      await this.cluster.waitFor(`${name} streaming from ${primary}`, timeoutMs, async () => {
        const res = await this.cluster.api(name, '/replica?replication_state=streaming');
        const body = (await this.cluster.api(name, '/patroni')).body as { timeline?: number };
        const leader = (await this.cluster.api(primary, '/patroni')).body as { timeline?: number };
        return res.status === 200 && body.timeline === leader.timeline;
      });
    }
  }

  /** Until the controller has no operation in progress. */
  async settled(timeoutMs = 60_000): Promise<void> {
    await this.cluster.waitFor('no operation in progress', timeoutMs, async () => {
      return (await this.store.getSnapshot(this.cluster.scope)).op === undefined;
    });
  }

  /** Ends the scenario and asserts the invariants over all of it. */
  async verify(): Promise<{ acked: number; lost: number; primary: string }> {
    await this.writer.stop();
    await this.invariant.stop();
    expect(this.invariant.samples).toBeGreaterThan(10);
    expect(this.invariant.violations).toEqual([]);
    const primary = await this.primary();
    const rows = await this.cluster.sql<{ id: number }>(primary, 'SELECT id FROM acks');
    const lost = this.writer.lost(new Set(rows.map((r) => r.id)));
    const snapshot = await this.store.getSnapshot(this.cluster.scope);
    const { config } = storedClusterConfig(snapshot.config?.data);
    expect(this.writer.acks.length).toBeGreaterThan(0);
    if (config.synchronous_mode) expect(lost).toEqual([]);
    else expect(lostWalBytes(lost)).toBeLessThanOrEqual(config.maximum_lag_on_failover);
    return { acked: this.writer.acks.length, lost: lost.length, primary };
  }

  async destroy(): Promise<void> {
    await this.writer.stop();
    await this.invariant.stop();
    for (const c of this.controllers.splice(0)) await c.stop();
    await this.cluster.destroy();
  }
}
