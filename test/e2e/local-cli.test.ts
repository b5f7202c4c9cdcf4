import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { processAlive, waitFor } from '../../local/wait-for.ts';
import { runCli } from '../helpers/run-cli.ts';

interface Status {
  phase: string;
  writer: string;
  reader: string;
  dsn: string;
  haproxy_pid: number;
  supervisor_pid: number;
  nodes: {
    name: string;
    role: string;
    state: string;
    pg_port: number;
    api_port: number;
    agent_pid: number | null;
    postgres_pid: number | null;
  }[];
}

/** `pgwarden local` as a person runs it: separate processes, a background supervisor, no flags. */
describe('pgwarden local', () => {
  const parent = mkdtempSync('/tmp/pgwarden-local-');
  const dir = `${parent}/cluster`;
  const env = { PGWARDEN_LOCAL_DIR: dir };
  const cli = (...args: string[]) => runCli(args, env);
  const seen = new Set<number>();
  const status = async (): Promise<Status> => {
    const run = await cli('local', 'status', '--json');
    expect(run.stderr).toBe('');
    const s = JSON.parse(run.stdout) as Status;
    for (const n of s.nodes) for (const p of [n.agent_pid, n.postgres_pid]) if (p) seen.add(p);
    seen.add(s.haproxy_pid).add(s.supervisor_pid);
    return s;
  };
  const writerPort = async (dsn: string) => {
    const client = new pg.Client({ connectionString: dsn, connectionTimeoutMillis: 2000 });
    client.on('error', () => {});
    await client.connect();
    try {
      const { rows } = await client.query<{ port: number }>(
        'SELECT inet_server_port() AS port WHERE NOT pg_is_in_recovery()',
      );
      return rows[0]?.port;
    } finally {
      await client.end();
    }
  };

  afterAll(async () => {
    if (existsSync(dir)) await cli('local', 'down');
    // `down` removes the cluster's directory; the parent is this test's own.
    rmSync(parent, { recursive: true, force: true });
  });

  it('refuses bad arguments, naming them', async () => {
    // mkdtemp makes a 0700 directory: PostgreSQL (run as postgres) could not reach the data below.
    const unreachable = await cli('local', 'up');
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr).toContain(`cannot enter ${parent}`);
    chmodSync(parent, 0o755);
    const bad = await cli('local', 'up', '--nodes', '0');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--nodes: got "0", expected an integer 1..9');
    const profile = await cli('local', 'up', '--profile', 'slow');
    expect(profile.code).toBe(2);
    expect(profile.stderr).toContain("'slow' is invalid");
    const none = await cli('local', 'status');
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no local topology is running');
    // Any command: PGWARDEN_LOCAL_DIR names a directory where nothing runs, and it says so.
    const list = await cli('list');
    expect(list.code).toBe(2);
    expect(list.stderr).toContain(`PGWARDEN_LOCAL_DIR is ${dir}, but no local topology is running there`);
  });

  it('up: returns when healthy, with progress, the endpoints and the DSN', async () => {
    const run = await cli('local', 'up', '--nodes', '3', '--profile', 'fast');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('node1: primary');
    expect(run.stdout).toContain('node3: streaming replica');
    expect(run.stdout).toMatch(
      /writer endpoint: 127\.0\.0\.1:\d+ +\(postgresql:\/\/admin:.+@127\.0\.0\.1:\d+\/postgres\?sslmode=verify-full&sslrootcert=\S+ca\.crt\)/,
    );
    const s = await status();
    expect(s.phase).toBe('healthy');
    expect(s.nodes.map((n) => n.role)).toEqual(['Leader', 'Replica', 'Replica']);
    for (const n of s.nodes) expect(processAlive(n.agent_pid!) && processAlive(n.postgres_pid!)).toBe(true);
    expect(await writerPort(s.dsn)).toBe(s.nodes[0]!.pg_port);
    const again = await cli('local', 'up');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already running');
  });

  it('the pgwarden commands work against it without flags', async () => {
    const list = await cli('list');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/node1 .*Leader/);
    const dsn = await cli('dsn');
    expect(dsn.stdout).toMatch(/writer endpoint: +postgresql:\/\/admin@127\.0\.0\.1:\d+\/postgres/);
  });

  it('controller run starts a second controller beside it: Lambda-style invocations, or one process with --loop', async () => {
    const nowhere = await cli('controller', 'run', '--local-dir', `${parent}/nothing`);
    expect(nowhere.code).toBe(2);
    expect(nowhere.stderr).toContain('no local topology runs there');
    const badTick = await cli('controller', 'run', '--local-dir', dir, '--tick', '0');
    expect(badTick.code).toBe(2);
    expect(badTick.stderr).toContain('--tick: got "0", expected a number of seconds above 0');
    const count = (text: string, pattern: RegExp) => (text.match(pattern) ?? []).length;
    const lambda = await runCli(
      [
        'controller',
        'run',
        '--local-dir',
        dir,
        '--every',
        '2',
        '--timeout',
        '3',
        '--margin',
        '0.5',
        '--tick',
        '0.5',
      ],
      env,
      undefined,
      (out) => count(out, /"message":"invocation done"/g) >= 2,
    );
    expect(lambda.code).toBe(0);
    expect(lambda.stdout).toContain('an invocation every 2 s, each killed after 3 s');
    expect(lambda.stdout).toContain('controller stopped');
    const loop = await runCli(
      ['controller', 'run', '--local-dir', dir, '--loop', '--tick', '0.5'],
      { ...env, POWERTOOLS_LOG_LEVEL: 'DEBUG' },
      undefined,
      (out) => count(out, /"rule":\d+/g) >= 3,
    );
    expect(loop.code).toBe(0);
    expect(loop.stdout).toContain('controller: one process');
    expect(loop.stdout).toContain('controller stopped');
    // The topology's own controller and the extra ones changed nothing: node1 still leads.
    expect((await cli('list')).stdout).toMatch(/node1 .*Leader/);
  });

  it('kill NODE crashes the host; the writer endpoint moves to the new primary; start brings it back', async () => {
    const before = await status();
    const killed = await cli('local', 'kill', 'node1');
    expect(killed.stdout).toContain(
      `SIGKILL to pids ${before.nodes[0]!.agent_pid}, ${before.nodes[0]!.postgres_pid}`,
    );
    expect(processAlive(before.nodes[0]!.agent_pid!)).toBe(false);
    expect(processAlive(before.nodes[0]!.postgres_pid!)).toBe(false);
    const port = await waitFor('a new primary behind the writer endpoint', 60_000, async () => {
      const p = await writerPort(before.dsn).catch(() => undefined);
      return p !== undefined && p !== before.nodes[0]!.pg_port ? p : undefined;
    });
    expect([before.nodes[1]!.pg_port, before.nodes[2]!.pg_port]).toContain(port);
    expect((await cli('local', 'start', 'node1')).code).toBe(0);
    await waitFor('node1 a replica again', 60_000, async () => {
      const node1 = (await status()).nodes[0]!;
      return node1.role === 'Replica' && node1.state === 'running';
    });
  });

  it('stop-agent, isolate and heal act on one node; an unknown node is a usage error', async () => {
    const stopped = await cli('local', 'stop-agent', 'node3');
    expect(stopped.stdout).toContain('PostgreSQL left running');
    let s = await status();
    expect(s.nodes[2]!.agent_pid).toBeNull();
    expect(s.nodes[2]!.postgres_pid).not.toBeNull();
    expect((await cli('local', 'start', 'node3')).code).toBe(0);
    expect((await cli('local', 'isolate', 'node2')).stdout).toContain('cut off from DynamoDB');
    s = await status();
    expect(s.nodes.find((n) => n.name === 'node2')).toMatchObject({ name: 'node2' });
    expect((await cli('local', 'heal', 'node2')).stdout).toContain('reaches DynamoDB again');
    // heal does not pretend a host that is down came back: it says what to run.
    expect((await cli('local', 'kill', 'node3')).code).toBe(0);
    const healDown = await cli('local', 'heal', 'node3');
    expect(healDown.stdout).toContain(
      'the host is down (crashed): start it with `pgwarden local start node3`',
    );
    expect((await cli('local', 'start', 'node3')).code).toBe(0);
    const unknown = await cli('local', 'kill', 'node9');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('node: got node9, expected one of node1, node2, node3');
  });

  it('down stops every process it started, by PID, says so, and removes the directory', async () => {
    await status();
    const down = await cli('local', 'down');
    expect(down.code).toBe(0);
    expect(down.stdout).toContain('haproxy (pid');
    expect(down.stdout).toMatch(/node1: postgres \(pid \d+\)/);
    expect(down.stdout).toContain(`removed ${dir}`);
    await waitFor('every process gone', 15_000, async () => [...seen].every((p) => !processAlive(p)));
    expect(existsSync(dir)).toBe(false);
  });
});
