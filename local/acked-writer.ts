import type pg from 'pg';
import { type LoopbackLogin, loopbackClient } from './loopback-client.ts';

/** One acknowledged write: its id, when the commit returned, and the WAL position it wrote at. */
export interface Ack {
  readonly id: number;
  readonly at: number;
  readonly lsn: string;
  /** The port the writer connected to (an endpoint's, or a node's). */
  readonly port: number;
  /** The PostgreSQL server's own port: which node committed it, whatever the path. */
  readonly server: number;
  /** When the transaction was sent (the commit happened between this and `at`). */
  readonly sentAt: number;
  /** The timeline the server wrote it on. */
  readonly timeline: number;
}

export interface AckedWriterOptions {
  /** Ports to write to: one (an endpoint) or every node's (direct: it finds the writable one). */
  readonly ports: readonly number[];
  readonly login: LoopbackLogin;
  /** Writes per second. @default 20 */
  readonly hz?: number;
  readonly table?: string;
  /** Ids start here (several writers on one table). @default 1 */
  readonly firstId?: number;
  /**
   * How long one write may take before the writer gives up on it and reconnects. A commit that
   * waits for a synchronous standby returns as soon as one confirms: a short limit would measure
   * the writer's retry instead. @default 2000
   */
  readonly queryMs?: number;
}

/**
 * An application writing at a steady rate (DESIGN §8): one INSERT per transaction, each on a
 * fresh statement; an id counts as acknowledged only when its COMMIT returned. On any error it
 * drops the connection and looks for a writable server again (like libpq's
 * target_session_attrs=read-write over several hosts).
 */
export class AckedWriter {
  readonly acks: Ack[] = [];
  errors = 0;
  /** The last failed writes: when, and what the client said (the newest 1,000). */
  readonly failures: { readonly at: number; readonly message: string }[] = [];
  private nextId: number;
  private running = false;
  private loop: Promise<void> | undefined;
  private client: pg.Client | undefined;
  private clientPort = 0;

  constructor(private readonly options: AckedWriterOptions) {
    this.nextId = options.firstId ?? 1;
  }

  get table(): string {
    return this.options.table ?? 'acks';
  }

  start(): this {
    this.running = true;
    const period = 1000 / (this.options.hz ?? 20);
    this.loop = (async () => {
      while (this.running) {
        const started = Date.now();
        await this.writeOnce();
        const wait = period - (Date.now() - started);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    })();
    return this;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.client?.end().catch(() => {});
    this.client = undefined;
  }

  private async connect(): Promise<pg.Client | undefined> {
    for (const port of this.options.ports) {
      const client = loopbackClient(port, this.options.login, { queryMs: this.options.queryMs ?? 2000 });
      try {
        await client.connect();
        if (this.options.ports.length > 1) {
          const { rows } = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
          if (rows[0]?.r !== false) throw new Error('read-only');
        }
        this.clientPort = port;
        return client;
      } catch {
        await client.end().catch(() => {});
      }
    }
    return undefined;
  }

  private async writeOnce(): Promise<void> {
    const id = this.nextId;
    this.nextId += 1;
    try {
      this.client ??= await this.connect();
      if (!this.client) throw new Error('no writable server');
      const sentAt = Date.now();
      const { rows } = await this.client.query<{ lsn: string; server: number; tli: number }>(
        `INSERT INTO ${this.table} (id) VALUES ($1) RETURNING pg_current_wal_insert_lsn()::text AS lsn, inet_server_port() AS server,
           ('x' || substr(pg_walfile_name(pg_current_wal_insert_lsn()), 1, 8))::bit(32)::int AS tli`,
        [id],
      );
      this.acks.push({
        id,
        at: Date.now(),
        sentAt,
        lsn: rows[0]!.lsn,
        port: this.clientPort,
        server: rows[0]!.server,
        timeline: rows[0]!.tli,
      });
    } catch (error) {
      this.errors += 1;
      this.failures.push({ at: Date.now(), message: (error as Error).message });
      if (this.failures.length > 1000) this.failures.shift();
      await this.client?.end().catch(() => {});
      this.client = undefined;
    }
  }

  /** The first write acknowledged at or after `since` (epoch ms), by a server other than `notBy` (a port). */
  firstAckAfter(since: number, notBy?: number): Ack | undefined {
    return this.acks.find((a) => a.at >= since && a.server !== notBy);
  }

  /** The longest time without an acknowledged write between `from` and `to`. */
  longestGap(from: number, to: number): number {
    const times = [from, ...this.acks.filter((a) => a.at > from && a.at < to).map((a) => a.at), to];
    let gap = 0;
    for (let i = 1; i < times.length; i += 1) gap = Math.max(gap, times[i]! - times[i - 1]!);
    return gap;
  }

  /** Acknowledged ids missing from `present`. */
  lost(present: ReadonlySet<number>): Ack[] {
    return this.acks.filter((a) => !present.has(a.id));
  }
}

/** The WAL bytes a set of lost writes spans (from the first lost write's position to the last's). */
export function lostWalBytes(lost: readonly Ack[]): number {
  if (lost.length === 0) return 0;
  const value = (lsn: string) => {
    const [hi, lo] = lsn.split('/').map((x) => Number.parseInt(x, 16));
    return hi! * 2 ** 32 + lo!;
  };
  const positions = lost.map((a) => value(a.lsn));
  // + one record's size: the last lost write itself.
  return Math.max(...positions) - Math.min(...positions) + 200;
}
