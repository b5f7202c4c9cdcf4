import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePgUser } from '../../agent/os-user.ts';
import { freePort } from '../../local/free-port.ts';
import { asPostgres, stopImmediately } from '../helpers/as-postgres.ts';
import { runCli } from '../helpers/run-cli.ts';

/**
 * `pgwarden local up --adopt` (issue #16): trying adoption on one machine with a cluster made by
 * hand — a running primary and a stopped standby — as a person would, through the CLI.
 */
describe('pgwarden local up --adopt', () => {
  const parent = mkdtempSync('/tmp/pgwarden-local-adopt-');
  const dir = join(parent, 'cluster');
  const primary = join(parent, 'pg', 'primary');
  const standby = join(parent, 'pg', 'standby');
  const sockets = join(parent, 'pg', 'sockets');
  const cli = (...args: string[]) => runCli(args, { PGWARDEN_LOCAL_DIR: dir });
  let postmaster = 0;

  beforeAll(async () => {
    chmodSync(parent, 0o755);
    const pgUser = resolvePgUser('postgres')!;
    mkdirSync(sockets, { recursive: true });
    chownSync(join(parent, 'pg'), pgUser.uid, pgUser.gid);
    chownSync(sockets, pgUser.uid, pgUser.gid);
    asPostgres('initdb', ['-D', primary, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
    const port = await freePort();
    asPostgres('pg_ctl', [
      '-D',
      primary,
      '-l',
      join(parent, 'pg', 'primary.log'),
      '-o',
      `-p ${port} -k ${sockets} -c listen_addresses=127.0.0.1`,
      '-w',
      'start',
    ]);
    const client = new pg.Client({ host: sockets, port, user: 'postgres', database: 'postgres' });
    await client.connect();
    await client.query('CREATE TABLE kept AS SELECT 42 AS answer');
    await client.query('GRANT SELECT ON kept TO PUBLIC');
    await client.end();
    asPostgres('pg_basebackup', [
      '-D',
      standby,
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-U',
      'postgres',
      '-R',
      '-X',
      'stream',
      '-c',
      'fast',
    ]);
    writeFileSync(join(standby, 'here-before'), 'a base backup would remove this\n');
    postmaster = Number(
      spawnSync('head', ['-1', join(primary, 'postmaster.pid')], { encoding: 'utf8' }).stdout,
    );
  }, 120_000);

  afterAll(async () => {
    if (existsSync(join(dir, 'state.json'))) await cli('local', 'down');
    for (const d of [primary, standby]) if (existsSync(join(d, 'postmaster.pid'))) stopImmediately(d);
    rmSync(parent, { recursive: true, force: true });
  });

  it('refuses directories it cannot adopt, naming them, before starting anything', async () => {
    const missing = await cli('local', 'up', '--adopt', join(parent, 'nope'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`--adopt ${join(parent, 'nope')}: not a directory`);
    const order = await cli('local', 'up', '--adopt', standby, primary);
    expect(order.code).toBe(2);
    expect(order.stderr).toContain("has standby.signal; give the primary's data directory first");
    const notData = await cli('local', 'up', '--adopt', sockets);
    expect(notData.code).toBe(2);
    expect(notData.stderr).toContain('not a PostgreSQL data directory');
    const inside = await cli('local', 'up', '--adopt', primary, '--dir', join(parent, 'pg'));
    expect(inside.code).toBe(2);
    expect(inside.stderr).toContain("inside the topology's directory");
    const count = await cli('local', 'up', '--adopt', primary, standby, '--nodes', '3');
    expect(count.code).toBe(2);
    expect(count.stderr).toContain('--nodes 3 with 2 --adopt directories');
    expect(existsSync(dir)).toBe(false);
  });

  it('adopts the running primary without a restart and the standby without a base backup', async () => {
    const run = await cli('local', 'up', '--adopt', primary, standby, '--profile', 'fast');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`node1: starting its agent; it adopts ${primary} as the primary`);
    expect(run.stdout).toContain('node2: streaming replica');
    const s = JSON.parse((await cli('local', 'status', '--json')).stdout) as {
      dsn: string;
      nodes: { name: string; role: string; postgres_pid: number | null }[];
    };
    expect(s.nodes.map((n) => n.role)).toEqual(['Leader', 'Replica']);
    expect(s.nodes[0]!.postgres_pid).toBe(postmaster);
    expect(existsSync(join(standby, 'here-before'))).toBe(true);
    // Through the writer endpoint, as the topology's application role.
    const client = new pg.Client({ connectionString: s.dsn, connectionTimeoutMillis: 3000 });
    await client.connect();
    expect((await client.query('SELECT answer FROM kept')).rows).toEqual([{ answer: 42 }]);
    await client.end();
  });

  it('down stops them and removes its own directory, never the adopted data', async () => {
    const down = await cli('local', 'down');
    expect(down.code).toBe(0);
    expect(existsSync(dir)).toBe(false);
    for (const d of [primary, standby]) {
      expect(existsSync(join(d, 'PG_VERSION'))).toBe(true);
      expect(existsSync(join(d, 'postmaster.pid'))).toBe(false);
    }
    expect(existsSync(join(standby, 'here-before'))).toBe(true);
  });
});
