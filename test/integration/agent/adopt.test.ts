import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePgUser } from '../../../agent/os-user.ts';
import { socketClient } from '../../../local/loopback-client.ts';
import { AgentCluster } from '../../helpers/agent-cluster.ts';
import { asPostgres, stopImmediately, systemIdentifier } from '../../helpers/as-postgres.ts';

/**
 * Adopting clusters that exist (issue #16): a standalone primary made by hand, running, with a
 * standby cloned from it (pg_basebackup -R), and a data directory of another system.
 */
describe('an agent on a data directory that already holds a cluster', () => {
  let c: AgentCluster;
  let primarySysid: string;
  let postmaster: number;
  const socket = '/tmp';
  /** node1 as it was started by hand: its socket is in /tmp (no restart moves it to the agent's). */
  const node1Sql = async (text: string) => {
    const client = socketClient(socket, c.node('node1').pgPort);
    await client.connect();
    try {
      return (await client.query(text)).rows;
    } finally {
      await client.end();
    }
  };

  beforeAll(async () => {
    c = await AgentCluster.create({ nodes: 3 });
    const pg = resolvePgUser('postgres')!;
    const [n1, n2, n3] = ['node1', 'node2', 'node3'].map((n) => c.node(n));
    for (const n of [n1!, n3!]) {
      asPostgres('initdb', ['-D', n.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
    }
    // node1 runs, started by hand (as Patroni or a unit of its own would have), with rows in it.
    asPostgres('pg_ctl', [
      '-D',
      n1!.dataDir,
      '-l',
      join(n1!.dataDir, 'manual.log'),
      '-o',
      `-p ${n1!.pgPort} -k ${socket} -c listen_addresses=127.0.0.1 -c wal_level=replica -c hot_standby=on -c wal_log_hints=on`,
      '-w',
      'start',
    ]);
    asPostgres('psql', [
      '-h',
      socket,
      '-p',
      String(n1!.pgPort),
      '-U',
      'postgres',
      '-c',
      'CREATE TABLE kept AS SELECT 42 AS answer',
    ]);
    asPostgres('pg_basebackup', [
      '-D',
      n2!.dataDir,
      '-h',
      '127.0.0.1',
      '-p',
      String(n1!.pgPort),
      '-U',
      'postgres',
      '-R',
      '-X',
      'stream',
      '-c',
      'fast',
    ]);
    // Markers: a base backup (of node2) or an initdb (of node3) would remove them.
    for (const n of [n2!, n3!]) {
      writeFileSync(join(n.dataDir, 'adoption-marker'), 'here before pgwarden\n');
      spawnSync('chown', [`${pg.uid}:${pg.gid}`, join(n.dataDir, 'adoption-marker')]);
    }
    primarySysid = systemIdentifier(n1!.dataDir);
    postmaster = c.postmasterPid('node1')!;
    expect(systemIdentifier(n2!.dataDir)).toBe(primarySysid);
    expect(systemIdentifier(n3!.dataDir)).not.toBe(primarySysid);
  }, 120_000);
  afterAll(async () => {
    // node1's hand-started postmaster, if the agent never took it over.
    stopImmediately(c.node('node1').dataDir);
    await c?.destroy();
  });

  it('adopts the running primary: it claims initialize with its own system identifier and takes the lease at term 1, no initdb', async () => {
    c.startAgent('node1');
    await c.waitForRole('node1', '/primary', 60_000);
    const snapshot = await c.store.getSnapshot('test');
    expect(snapshot.initialize).toMatchObject({
      by: 'node1',
      system_identifier: primarySysid,
      adopted: true,
    });
    expect(snapshot.leader).toMatchObject({ holder: 'node1', term: 1, timeline: 1 });
    expect(snapshot.history).toEqual([
      expect.objectContaining({ kind: 'bootstrap', reason: expect.stringContaining('adopted') }),
    ]);
    expect(await node1Sql('SELECT answer FROM kept')).toEqual([{ answer: 42 }]);
    // Taken over as it ran: its postmaster.pid names the socket directory, a reload gave it
    // pgwarden's settings and pg_hba.
    expect(c.postmasterPid('node1')).toBe(postmaster);
    expect(c.agentLog('node1')).toContain('took over the running PostgreSQL without a restart');
  });

  it('adopts the standby without a base backup: same system, it streams from the leader', async () => {
    c.startAgent('node2');
    await c.waitForRole('node2', '/replica', 60_000);
    await c.waitFor('node2 streaming', 30_000, async () => {
      const m = (await c.store.getSnapshot('test')).members.find((x) => x.name === 'node2');
      return m?.receiver_state === 'streaming';
    });
    expect(existsSync(join(c.node('node2').dataDir, 'adoption-marker'))).toBe(true);
    expect(systemIdentifier(c.node('node2').dataDir)).toBe(primarySysid);
    // pg_basebackup -R's primary_conninfo no longer overrides pgwarden's.
    expect(readFileSync(join(c.node('node2').dataDir, 'postgresql.auto.conf'), 'utf8')).not.toMatch(
      /primary_conninfo/,
    );
    await node1Sql('INSERT INTO kept VALUES (43)');
    await c.waitFor(
      'the row on node2',
      10_000,
      async () => (await c.sql('node2', 'SELECT count(*)::int AS n FROM kept'))[0]?.n === 2,
    );
  });

  it('refuses a data directory of another system, says why, and leaves it untouched', async () => {
    const n3 = c.node('node3');
    const before = readFileSync(join(n3.dataDir, 'postgresql.conf'), 'utf8');
    c.startAgent('node3');
    await c.waitFor(
      'the refusal in the log',
      20_000,
      async () => existsSync(n3.logPath) && readFileSync(n3.logPath, 'utf8').includes('not adopting it'),
    );
    const log = readFileSync(n3.logPath, 'utf8');
    expect(log).toContain(`is system ${primarySysid}`);
    await new Promise((r) => setTimeout(r, 3000));
    expect(c.postmasterPid('node3')).toBeUndefined();
    expect(existsSync(join(n3.dataDir, 'adoption-marker'))).toBe(true);
    expect(existsSync(join(n3.dataDir, 'standby.signal'))).toBe(false);
    expect(existsSync(join(n3.dataDir, 'pgwarden.conf'))).toBe(false);
    expect(readFileSync(join(n3.dataDir, 'postgresql.conf'), 'utf8')).toBe(before);
    c.stopAgent('node3');
    rmSync(join(n3.dataDir, 'adoption-marker'));
  });
});

describe('a running server whose settings keep the agent out after a reload', () => {
  let c: AgentCluster;
  afterAll(async () => {
    await c?.destroy();
  });

  it('is stopped cleanly and started by the agent: one restart, the data kept', async () => {
    c = await AgentCluster.create({ nodes: 1 });
    const n1 = c.node('node1');
    asPostgres('initdb', ['-D', n1.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
    // Its own pg_hba.conf outside the data directory (hba_file changes only at a restart), with
    // no line for the local socket: the agent cannot log in until it restarts it.
    const hba = join(c.base, 'outside-pg_hba.conf');
    writeFileSync(hba, 'host all all 127.0.0.1/32 trust\n');
    chmodSync(hba, 0o644);
    asPostgres('pg_ctl', [
      '-D',
      n1.dataDir,
      '-l',
      join(n1.dataDir, 'manual.log'),
      '-o',
      `-p ${n1.pgPort} -k /tmp -c listen_addresses=127.0.0.1 -c hba_file=${hba}`,
      '-w',
      'start',
    ]);
    const client = new pg.Client({
      host: '127.0.0.1',
      port: n1.pgPort,
      user: 'postgres',
      database: 'postgres',
    });
    await client.connect();
    await client.query('CREATE TABLE kept AS SELECT 7 AS answer');
    await client.end();
    const before = c.postmasterPid('node1')!;
    c.startAgent('node1');
    await c.waitForRole('node1', '/primary', 60_000);
    expect(c.postmasterPid('node1')).not.toBe(before);
    expect(c.agentLog('node1')).toContain('one restart');
    expect((await c.store.getSnapshot('test')).initialize).toMatchObject({ adopted: true });
    expect(await c.sql('node1', "SELECT current_setting('hba_file') AS f")).toEqual([
      { f: join(n1.dataDir, 'pg_hba.conf') },
    ]);
    expect(await c.sql('node1', 'SELECT answer FROM kept')).toEqual([{ answer: 7 }]);
  });
});
