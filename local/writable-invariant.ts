import type { LocalTopology } from './local-topology.ts';
import { loopbackClient } from './loopback-client.ts';

/**
 * Watches a cluster the whole time a scenario runs (DESIGN §8): every `intervalMs` it tries a write
 * on every node at once (inside a transaction that is rolled back) and records each instant at
 * which more than one node accepted it.
 */
export class WritableInvariant {
  readonly violations: { at: number; writable: string[] }[] = [];
  samples = 0;
  private running = true;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly cluster: LocalTopology,
    private readonly intervalMs = 100,
  ) {}

  start(): this {
    this.loop = (async () => {
      while (this.running) {
        const names = [...this.cluster.nodes.keys()];
        const results = await Promise.all(names.map((n) => this.acceptsWrite(n)));
        const writable = names.filter((_, i) => results[i]);
        this.samples += 1;
        if (writable.length > 1) this.violations.push({ at: Date.now(), writable });
        await new Promise((r) => setTimeout(r, this.intervalMs));
      }
    })();
    return this;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async acceptsWrite(name: string): Promise<boolean> {
    const client = loopbackClient(this.cluster.node(name).pgPort, this.cluster.login, { connectMs: 500 });
    try {
      await client.connect();
      await client.query('BEGIN');
      await client.query('CREATE TEMP TABLE pgwarden_write_probe (x int) ON COMMIT DROP');
      await client.query('ROLLBACK');
      return true;
    } catch {
      return false;
    } finally {
      // end() waits for the server to close the socket: never longer than a probe interval.
      await Promise.race([client.end().catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
    }
  }
}
