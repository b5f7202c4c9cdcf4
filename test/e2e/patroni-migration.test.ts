import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { resolvePgUser } from '../../agent/os-user.ts';
import { processAlive, waitFor } from '../../local/wait-for.ts';
import { AgentCluster, TEST_PASSWORD } from '../helpers/agent-cluster.ts';
import type { GroupChild } from '../helpers/child-process.ts';
import { patroniSkipReason, patroniYaml, startEtcd, startPatroni } from '../helpers/patroni-cluster.ts';

const NAMES = ['node1', 'node2', 'node3'] as const;
const WRITER = { user: 'writer', password: 'writer-secret' };

/**
 * An application writing through a libpq-style multi-host connection (target_session_attrs
 * read-write): every 50 ms one row, acknowledged only once COMMIT returned.
 */
class Writer {
  readonly acks: { id: number; at: number; port: number }[] = [];
  private client: pg.Client | undefined;
  private port = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly ports: readonly number[]) {}

  start(): void {
    this.loop = this.run();
  }

  private async primary(): Promise<void> {
    for (const port of this.ports) {
      const client = new pg.Client({
        host: '127.0.0.1',
        port,
        database: 'postgres',
        ...WRITER,
        connectionTimeoutMillis: 1000,
        query_timeout: 2000,
      });
      client.on('error', () => {});
      try {
        await client.connect();
        const [row] = (await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows;
        if (row && !row.r) {
          this.client = client;
          this.port = port;
          return;
        }
      } catch {}
      await client.end().catch(() => {});
    }
  }

  private async run(): Promise<void> {
    let id = 0;
    while (!this.stopped) {
      try {
        if (!this.client) await this.primary();
        if (this.client) {
          id += 1;
          await this.client.query('INSERT INTO writes (id) VALUES ($1)', [id]);
          this.acks.push({ id, at: Date.now(), port: this.port });
        }
      } catch {
        await this.client?.end().catch(() => {});
        this.client = undefined;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await this.client?.end().catch(() => {});
  }

  /** The longest time between two acknowledged writes in [from, to]. */
  longestGap(from: number, to: number): number {
    const times = [from, ...this.acks.filter((a) => a.at >= from && a.at <= to).map((a) => a.at), to];
    return Math.max(...times.slice(1).map((t, i) => t - times[i]!));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

async function query<T extends pg.QueryResultRow>(port: number, text: string): Promise<T[]> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    database: 'postgres',
    user: 'postgres',
    password: TEST_PASSWORD,
  });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

/**
 * Migration from Patroni in place (issue #16), end to end against a real Patroni cluster
 * (Debian's patroni and etcd): pause, stop the Patroni daemons with PostgreSQL running, start
 * pgwarden agents with the same member files plus a table. Nothing is rebuilt, nothing restarts,
 * an application keeps writing, and a crash failover works afterwards.
 */
describe.skipIf(patroniSkipReason !== undefined)('migrating a running Patroni cluster to pgwarden', () => {
  let c: AgentCluster;
  const processes: GroupChild[] = [];
  const patroni = new Map<string, GroupChild>();
  let writer: Writer;
  const before: Record<string, { sysid: string; postmaster: number }> = {};
  let timeline = 0;
  const files: Record<string, Record<string, unknown>> = {};
  let tookOverAt = 0;
  let pausedAt = 0;

  beforeAll(async () => {
    c = await AgentCluster.create({ nodes: 3 });
    const etcd = await startEtcd(join(c.base, 'etcd'));
    processes.push(etcd.process);
    const pgUser = resolvePgUser('postgres')!;
    for (const name of NAMES) {
      const node = c.node(name);
      // The member's own directory for Patroni's socket and password file, as a host has one.
      const own = join(node.dir, 'patroni');
      mkdirSync(own, { recursive: true });
      chownSync(own, pgUser.uid, pgUser.gid);
      const doc = parseYaml(
        patroniYaml(
          c.scope,
          { name, pgPort: node.pgPort, apiPort: node.apiPort, dataDir: node.dataDir },
          etcd.endpoint,
          TEST_PASSWORD,
        ),
      ) as Record<string, Record<string, unknown>>;
      Object.assign(doc.postgresql!, {
        pgpass: join(own, 'pgpass'),
        parameters: { unix_socket_directories: own },
      });
      Object.assign((doc.bootstrap as { dcs: object }).dcs, { ttl: 10, loop_wait: 2, retry_timeout: 3 });
      files[name] = doc;
      const path = join(own, 'patroni.yml');
      writeFileSync(path, stringify(doc), { mode: 0o644 });
      const start = () =>
        startPatroni({
          name,
          pgPort: node.pgPort,
          apiPort: node.apiPort,
          dataDir: node.dataDir,
          configPath: path,
        });
      if (name === 'node1') {
        patroni.set(name, start());
        await c.waitForRole('node1', '/primary', 120_000);
      } else patroni.set(name, start());
    }
    for (const name of ['node2', 'node3']) await c.waitForRole(name, '/replica', 120_000);
    const port1 = c.node('node1').pgPort;
    await waitFor('both replicas streaming from Patroni', 60_000, async () => {
      const rows = await query(port1, "SELECT 1 FROM pg_stat_replication WHERE state = 'streaming'");
      return rows.length === 2;
    });
    await query(port1, `CREATE ROLE ${WRITER.user} LOGIN PASSWORD '${WRITER.password}'`);
    await query(port1, `CREATE TABLE writes (id int PRIMARY KEY, at timestamptz DEFAULT now())`);
    await query(port1, `GRANT INSERT, SELECT ON writes TO ${WRITER.user}`);
    for (const name of NAMES) {
      const node = c.node(name);
      const [row] = await query<{ sysid: string }>(
        node.pgPort,
        'SELECT system_identifier::text AS sysid FROM pg_control_system()',
      );
      before[name] = { sysid: row!.sysid, postmaster: c.postmasterPid(name)! };
      // A base backup or an initdb would remove it.
      const marker = join(node.dataDir, 'here-before-pgwarden');
      writeFileSync(marker, `${name}\n`);
      chownSync(marker, pgUser.uid, pgUser.gid);
    }
    const [tli] = await query<{ tli: number }>(
      port1,
      "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS tli",
    );
    timeline = tli!.tli;
    writer = new Writer(NAMES.map((n) => c.node(n).pgPort));
    writer.start();
    await waitFor('the application writing', 10_000, async () => writer.acks.length > 5);
  }, 400_000);

  afterAll(async () => {
    await writer?.stop();
    for (const p of patroni.values()) await p.stop();
    await c?.destroy();
    for (const p of processes.reverse()) await p.stop();
  });

  it('pause, then stop the Patroni daemons: PostgreSQL keeps running', async () => {
    const cli = spawnSync(
      'patronictl',
      ['-c', join(c.node('node1').dir, 'patroni', 'patroni.yml'), 'pause', c.scope, '--wait'],
      { encoding: 'utf8', cwd: '/tmp', timeout: 60_000 },
    );
    expect(cli.status, cli.stderr + cli.stdout).toBe(0);
    pausedAt = Date.now();
    for (const p of patroni.values()) await p.stop();
    patroni.clear();
    for (const name of NAMES) expect(c.postmasterPid(name)).toBe(before[name]!.postmaster);
  });

  it('agents started with the same files plus a table adopt it: no restart, no base backup, same system and timeline', async () => {
    for (const name of NAMES) {
      const node = c.node(name);
      // The member file as it was, with pgwarden's table (and this host's state directory).
      const doc = {
        ...files[name],
        dynamodb: { table: c.table, endpoint: node.dynamo.endpoint },
        state_dir: node.stateDir,
      };
      writeFileSync(node.configPath, stringify(doc));
    }
    c.startController();
    tookOverAt = Date.now();
    c.startAgent('node1');
    await c.waitForRole('node1', '/primary', 60_000);
    c.startAgent('node2');
    c.startAgent('node3');
    for (const name of ['node2', 'node3']) await c.waitForRole(name, '/replica', 60_000);
    await waitFor('both replicas streaming, under pgwarden', 60_000, async () => {
      const snapshot = await c.store.getSnapshot(c.scope);
      return snapshot.members.filter((m) => m.receiver_state === 'streaming').length === 2;
    });
    const snapshot = await c.store.getSnapshot(c.scope);
    expect(snapshot.initialize).toMatchObject({
      by: 'node1',
      system_identifier: before.node1!.sysid,
      adopted: true,
    });
    expect(snapshot.leader).toMatchObject({ holder: 'node1', term: 1, timeline });
    for (const name of NAMES) {
      expect(before[name]!.sysid).toBe(before.node1!.sysid);
      expect(existsSync(join(c.node(name).dataDir, 'here-before-pgwarden')), name).toBe(true);
      // Taken over as it ran: the same postmaster (its socket directory was in the file).
      expect(c.postmasterPid(name), name).toBe(before[name]!.postmaster);
    }
    // The replicas stream through pgwarden's slots; Patroni's are gone.
    await waitFor("Patroni's slots dropped", 30_000, async () => {
      const slots = await query<{ slot_name: string; active: boolean }>(
        c.node('node1').pgPort,
        'SELECT slot_name, active FROM pg_replication_slots ORDER BY 1',
      );
      return (
        JSON.stringify(slots) ===
        JSON.stringify([
          { slot_name: 'pgwarden_node2', active: true },
          { slot_name: 'pgwarden_node3', active: true },
        ])
      );
    });
    // The application kept writing through it all.
    const done = Date.now();
    const gap = writer.longestGap(pausedAt, done);
    console.log(
      `migration from Patroni: longest time between two committed writes ${gap} ms (pause to all streaming, ${done - pausedAt} ms)`,
    );
    expect(writer.acks.filter((a) => a.at > tookOverAt).length).toBeGreaterThan(10);
    expect(gap).toBeLessThan(5_000);
  });

  it('a crash failover works afterwards: a replica promoted on the next timeline, no acknowledged write lost', async () => {
    const crashedAt = Date.now();
    c.killHost('node1');
    await c.waitFor('a new primary at term 2', 90_000, async () => {
      const leader = await c.store.getLeader(c.scope);
      return leader && leader.term >= 2 && leader.holder !== 'node1' ? leader : undefined;
    });
    const leader = (await c.store.getLeader(c.scope))!;
    await c.waitForRole(leader.holder, '/primary', 60_000);
    await waitFor('a write on the new primary', 60_000, async () =>
      writer.acks.some((a) => a.at > crashedAt && a.port === c.node(leader.holder).pgPort),
    );
    const [tli] = await query<{ tli: number }>(
      c.node(leader.holder).pgPort,
      "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS tli",
    );
    expect(tli!.tli).toBe(timeline + 1);
    await writer.stop();
    const rows = await query<{ id: number }>(c.node(leader.holder).pgPort, 'SELECT id FROM writes');
    const kept = new Set(rows.map((r) => r.id));
    // Asynchronous replication: a write acknowledged in the last instant before the crash may be
    // lost (bounded by maximum_lag_on_failover); every write before the last second is there.
    const lost = writer.acks.filter((a) => !kept.has(a.id));
    expect(lost.filter((a) => a.at < crashedAt - 1000)).toEqual([]);
    const history = await c.waitFor('the failover in the history', 30_000, async () => {
      const rows = (await c.store.getSnapshot(c.scope)).history;
      return rows.length > 1 ? rows : undefined;
    });
    expect(history.map((h) => h.kind)).toEqual(['bootstrap', 'failover']);
    expect(processAlive(before.node1!.postmaster)).toBe(false);
  });
});
