import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentCluster } from '../../helpers/agent-cluster.ts';
import { type RunningController, startController } from '../../helpers/controller-harness.ts';
import { runCli } from '../../helpers/run-cli.ts';

/** Planned operations through the CLI, carried out by the controller on real agents. */
describe('operations requested with the pgwarden CLI', () => {
  let c: AgentCluster;
  let ctl: RunningController;
  let cli: (...args: string[]) => ReturnType<typeof runCli>;

  async function primary(): Promise<string> {
    return c.waitFor('one serving primary', 60_000, async () => {
      for (const name of c.nodes.keys())
        if ((await c.api(name, '/primary').catch(() => ({ status: 0 }))).status === 200) return name;
      return undefined;
    });
  }
  async function allStreaming(from: string): Promise<void> {
    await c.waitFor(`every replica streams from ${from}`, 120_000, async () => {
      const members = (await c.store.getSnapshot('test')).members.filter((m) => m.name !== from);
      const ready =
        members.length === c.nodes.size - 1 &&
        members.every((m) => m.role === 'replica' && m.upstream === from && m.receiver_state === 'streaming');
      if (ready) return true;
      // Thrown, not returned: a timeout then says where each member was.
      throw new Error(
        members
          .map((m) => `${m.name} ${m.role} ${m.state} from ${m.upstream} ${m.receiver_state}`)
          .join('; '),
      );
    });
  }

  beforeAll(async () => {
    c = await AgentCluster.create({ nodes: 3 });
    await c.startAll();
    await c.sql('node1', 'CREATE TABLE t (id serial primary key)');
    ctl = startController(c);
    const env = {
      PGWARDEN_DYNAMODB_ENDPOINT: c.dynamoEndpoint,
      PGWARDEN_TABLE: c.table,
      PGWARDEN_SCOPE: 'test',
    };
    cli = (...args) => runCli(args, env);
  });
  afterAll(async () => {
    await ctl?.stop();
    await c?.destroy();
  });

  it('lists the members the way patronictl does', async () => {
    const pretty = await cli('list');
    expect(pretty.code).toBe(0);
    expect(pretty.stdout).toMatch(/^\+ Cluster: test \(\d+\) -+/);
    // patronictl 4: both lag columns are titled Lag in the pretty table.
    expect(pretty.stdout).toMatch(
      /\| Member \| Host +\| Role +\| State +\| TL \| +Receive LSN \| Lag \| +Replay LSN \| Lag \|/,
    );
    expect(pretty.stdout).toMatch(
      /\| node1 +\| 127\.0\.0\.1:\d+ \| Leader +\| running +\| +1 \| +\| +\| +\| +\|/,
    );
    expect(pretty.stdout).toMatch(
      /\| node2 +\| 127\.0\.0\.1:\d+ \| Replica \| streaming \| +1 \| +[0-9A-F]+\/[0-9A-F]+ \| +\d+ \| +[0-9A-F]+\/[0-9A-F]+ \| +\d+ \|/,
    );
    const json = JSON.parse((await cli('list', '--format', 'json')).stdout);
    expect(json.map((r: { Member: string; Role: string }) => [r.Member, r.Role])).toEqual([
      ['node1', 'Leader'],
      ['node2', 'Replica'],
      ['node3', 'Replica'],
    ]);
    // patronictl's JSON: empty values dropped (the leader has no LSN columns).
    expect(Object.keys(json[0])).toEqual(['Cluster', 'Member', 'Host', 'Role', 'State', 'TL']);
    expect(Object.keys(json[1])).toEqual([
      'Cluster',
      'Member',
      'Host',
      'Role',
      'State',
      'TL',
      'Receive LSN',
      'Receive Lag',
      'Replay LSN',
      'Replay Lag',
    ]);
    expect((await cli('list', '-f', 'tsv')).stdout.split('\n')[0]).toBe(
      'Cluster\tMember\tHost\tRole\tState\tTL\tReceive LSN\tReceive Lag\tReplay LSN\tReplay Lag',
    );
    expect((await cli('list', '-f', 'tsv', '-e')).stdout.split('\n')[0]).toBe(
      'Cluster\tMember\tHost\tRole\tState\tTL\tReceive LSN\tReceive Lag\tReplay LSN\tReplay Lag\tPending restart\tPending restart reason\tScheduled restart\tTags',
    );
    expect((await cli('list', '-f', 'yml')).stdout).toContain('Member: node1');
    expect((await cli('list', '-t')).stdout).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n\+ Cluster/);
  });

  it('switches over to a named candidate with no acknowledged write lost', async () => {
    const before = Number(
      (await c.sql<{ n: string }>('node1', 'INSERT INTO t DEFAULT VALUES RETURNING id::text AS n'))[0]!.n,
    );
    const run = await cli('switchover', '--candidate', 'node3', '--force');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/switchover: node1 -> node3 at term 2/);
    expect(await primary()).toBe('node3');
    const ids = (await c.sql<{ id: number }>('node3', 'SELECT id FROM t')).map((r) => r.id);
    expect(ids).toContain(before);
    await allStreaming('node3');
    // patronictl's columns: the timeline that ended and the new leader; -e adds pgwarden's.
    const history = JSON.parse((await cli('history', '--json')).stdout);
    expect(history.at(-1)).toMatchObject({ TL: 1, 'New Leader': 'node3', Reason: expect.any(String) });
    expect(Object.keys(history.at(-1))).toEqual(['TL', 'LSN', 'Reason', 'Timestamp', 'New Leader']);
    const extended = JSON.parse((await cli('history', '--json', '-e')).stdout);
    expect(extended.at(-1)).toMatchObject({
      Term: 2,
      Kind: 'switchover',
      Old: 'node1',
      'New Leader': 'node3',
    });
  });

  it('switches over to the best candidate when none is named', async () => {
    const run = await cli('switchover', '--force');
    expect(run.code).toBe(0);
    const now = await primary();
    expect(['node1', 'node2']).toContain(now);
    await allStreaming(now);
  });

  it('refuses a switchover to an unknown member or from a wrong leader, with the reason and exit code', async () => {
    const unknown = await cli('switchover', '--candidate', 'node9', '--force');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('node9 is not a member of test');
    const leader = (await c.store.getLeader('test'))!.holder;
    const wrong = await cli('switchover', '--leader', leader === 'node2' ? 'node1' : 'node2', '--force');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`is not the leader of test (${leader} is)`);
    const notTty = await cli('switchover', '--candidate', 'node3');
    expect(notTty.code).toBe(2);
    expect(notTty.stderr).toContain('add --force');
  });

  it("cancels a scheduled switchover with flush (what the 'cancel it' error points to)", async () => {
    const leader = (await c.store.getLeader('test'))!.holder;
    const target = leader === 'node2' ? 'node1' : 'node2';
    const at = new Date(Date.now() + 600_000).toISOString();
    expect((await cli('switchover', '--candidate', target, '--scheduled', at, '--force')).code).toBe(0);
    const busy = await cli('switchover', '--candidate', target, '--force');
    expect(busy.stderr).toContain('cancel it: pgwarden flush test switchover');
    expect((await cli('flush', 'test', 'restart', '--force')).stdout).toContain('No pending restart');
    const flushed = await cli('flush', 'test', 'switchover', '--force');
    expect(flushed.code).toBe(0);
    expect(flushed.stdout).toContain(`Cancelled the switchover -> ${target}`);
    expect((await cli('list')).stdout).not.toContain('Switchover scheduled');
    expect((await c.store.getLeader('test'))!.holder).toBe(leader);
    expect((await cli('flush', 'test', 'reboot')).stderr).toContain('kind: got "reboot"');
  });

  it('runs a scheduled switchover at its time, and shows it pending meanwhile', async () => {
    const leader = (await c.store.getLeader('test'))!.holder;
    const target = leader === 'node3' ? 'node1' : 'node3';
    const earlier = (await c.store.getSnapshot('test')).history.length;
    // Far enough ahead for two CLI runs on a loaded machine (each starts tsx and the SDK).
    const at = new Date(Date.now() + 10_000).toISOString();
    const run = await cli('switchover', '--candidate', target, '--scheduled', at, '--force');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('scheduled at');
    expect((await cli('list')).stdout).toContain(`Switchover scheduled at`);
    await c.waitFor(
      `${target} primary`,
      60_000,
      async () => (await c.store.getLeader('test'))?.holder === target,
    );
    // Not before its time: the history row is written when the switchover is carried out.
    const row = await c.waitFor('the switchover in the history', 30_000, async () =>
      (await c.store.getSnapshot('test')).history
        .slice(earlier)
        .find((h) => h.kind === 'switchover' && h.new === target),
    );
    expect(row).toMatchObject({ old: leader, new: target });
    expect(row!.at).toBeGreaterThanOrEqual(Date.parse(at));
    await primary();
    await allStreaming(target);
  });

  it('pause prevents failover, resume restores it', async () => {
    const paused = await cli('pause', '--wait');
    expect(paused.code).toBe(0);
    expect(paused.stdout).toContain('paused');
    expect((await cli('list')).stdout).toContain('Maintenance mode: on');
    const leader = (await c.store.getLeader('test'))!;
    c.stopAgent(leader.holder, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 8000));
    expect((await c.store.getLeader('test'))!.term).toBe(leader.term);
    const resumed = await cli('resume', '--wait');
    expect(resumed.code).toBe(0);
    const resumedAt = Date.now();
    await c.waitFor(
      'failover after resume',
      60_000,
      async () => (await c.store.getLeader('test'))!.term > leader.term,
    );
    console.log(`failover ${Date.now() - resumedAt} ms after resume`);
    const now = await primary();
    expect(now).not.toBe(leader.holder);
    c.startAgent(leader.holder);
    await allStreaming(now);
  });

  it('edit-config validates, shows a diff and refuses a stale version', async () => {
    const bad = await cli('edit-config', '--set', 'ttl=3', '--force');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('ttl: got 3, expected ttl >= loop_wait + 2*retry_timeout');
    const ok = await cli(
      'edit-config',
      '--pg',
      'work_mem=8MB',
      '--set',
      'maximum_lag_on_failover=2097152',
      '--force',
    );
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('+maximum_lag_on_failover: 2097152');
    expect(ok.stdout).toContain('-maximum_lag_on_failover: 1048576');
    expect(ok.stdout).toContain('work_mem: 8MB');
    const shown = await cli('show-config');
    expect(shown.stdout).toContain('work_mem: 8MB');
    const { version } = await c.store.getConfig('test');
    await c.store.putConfig(
      'test',
      { ...(await c.store.getConfig('test')).data, ttl: 4 },
      version,
      'someone-else',
      Date.now(),
    );
    // A stale writer: read at `version`, another edit landed meanwhile.
    await expect(c.store.putConfig('test', { ttl: 4 }, version, 'me', Date.now())).rejects.toThrow(
      /no longer at version/,
    );
    const typo = await cli('edit-config', '--set', 'loop_wiat=1', '--force');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('loop_wiat');
  });

  it('restarts and reinits a member through the controller', async () => {
    const replica = (await c.store.getSnapshot('test')).members.find((m) => m.role === 'replica')!.name;
    const restart = await cli('restart', 'test', replica, '--force');
    expect(restart.stdout).toContain(`restart of ${replica}`);
    expect(restart.code).toBe(0);
    const reinit = await cli('reinit', 'test', replica, '--force');
    expect(reinit.code).toBe(0);
    const leader = (await c.store.getLeader('test'))!.holder;
    const refused = await cli('reinit', 'test', leader, '--force');
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('is the leader');
  });

  it('restarts and reloads several members as patronictl selects them (--role, --pending, --pg-version, --any)', async () => {
    const leader = (await c.store.getLeader('test'))!.holder;
    const replicas = ['node1', 'node2', 'node3'].filter((n) => n !== leader);
    // Both replicas, one after the other: each outcome is printed.
    const both = await cli('restart', 'test', '--role', 'replica', '--force');
    expect(both.code).toBe(0);
    for (const r of replicas) expect(both.stdout).toContain(`restart of ${r}`);
    expect(both.stdout).not.toContain(`restart of ${leader}`);
    // --pending: exactly the members whose heartbeat says a setting waits for a restart (an
    // earlier test may have left one), and then nobody.
    const pending = (await c.store.getSnapshot('test')).members
      .filter((m) => m.pending_restart)
      .map((m) => m.name);
    const first = await cli('restart', 'test', '--pending', '--force');
    if (pending.length === 0) expect(first.stdout).toContain('nothing to restart');
    else expect(first.stdout.match(/restart of (node\d)/g)).toEqual(pending.map((n) => `restart of ${n}`));
    await c.waitFor('no restart pending', 30_000, async () =>
      (await c.store.getSnapshot('test')).members.every((m) => !m.pending_restart),
    );
    expect((await cli('restart', 'test', '--pending', '--force')).stdout).toContain('nothing to restart');
    // Nobody runs a PostgreSQL older than 15: nothing to do.
    expect((await cli('restart', 'test', '--pg-version', '15', '--force')).stdout).toContain(
      'nothing to restart',
    );
    const one = await cli('restart', 'test', ...replicas, '--any', '--force');
    expect(one.stdout.match(/restart of node\d/g)).toHaveLength(1);
    const reload = await cli('reload', 'test', leader, '--force');
    expect(reload.code).toBe(0);
    expect(reload.stdout).toContain(`reload of ${leader}`);
    // query: SQL on a member over verified TLS, as the application role.
    const env = {
      PGWARDEN_DYNAMODB_ENDPOINT: c.dynamoEndpoint,
      PGWARDEN_TABLE: c.table,
      PGPASSWORD: c.password,
    };
    const sql = 'SELECT pg_is_in_recovery() AS standby, current_user AS who';
    const query = await runCli(
      ['query', 'test', '-m', replicas[0]!, '-c', sql, '--sslrootcert', c.login.ca!],
      env,
    );
    expect(query.stderr).toBe('');
    expect(query.stdout.trim()).toBe('standby\twho\ntrue\tadmin');
    const onLeader = await runCli(
      ['query', 'test', '-c', 'SELECT 1 AS one', '-f', 'json', '--sslrootcert', c.login.ca!],
      env,
    );
    expect(JSON.parse(onLeader.stdout)).toEqual([{ one: 1 }]);
    expect((await cli('query', 'test')).stderr).toContain('give the SQL with -c/--command or --file');
    expect((await cli('restart', 'test', '--role', 'boss', '--force')).stderr).toContain(
      '--role: got "boss"',
    );
    expect((await cli('restart', 'test', 'node9', '--force')).stderr).toContain(
      'node9: not a member of test',
    );
    expect(
      (await cli('restart', 'test', '--scheduled', new Date(Date.now() + 60_000).toISOString(), '--force'))
        .stderr,
    ).toContain('one request waits at a time');
  });

  it('prints the topology, the DSNs and the clusters', async () => {
    const leader = (await c.store.getLeader('test'))!.holder;
    const topo = await cli('topology');
    // patronictl topology: the list table, the leader first, replicas indented under it with "+ ".
    const lines = topo.stdout.split('\n').filter((l) => l.startsWith('| '));
    expect(lines[0]).toMatch(/^\| Member +\| Host/);
    expect(lines[1]).toMatch(new RegExp(`^\\| ${leader} +\\| \\S+ +\\| Leader`));
    expect(lines.slice(2).every((l) => /^\| \+ node\d +\| \S+ +\| Replica/.test(l))).toBe(true);
    expect(lines).toHaveLength(4);
    const dsn = JSON.parse((await cli('dsn', '--json')).stdout);
    expect(dsn.multihost_writer).toMatch(
      /^postgresql:\/\/admin@127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+\/postgres\?target_session_attrs=read-write$/,
    );
    // patronictl's form: one member's host and port, by role or by name.
    expect((await cli('dsn', '--role', 'leader')).stdout.trim()).toBe(
      `host=127.0.0.1 port=${c.node(leader).pgPort}`,
    );
    expect((await cli('dsn', '-m', 'node2')).stdout.trim()).toBe(
      `host=127.0.0.1 port=${c.node('node2').pgPort}`,
    );
    expect((await cli('dsn', '--role', 'boss')).stderr).toContain(
      '--role: got "boss", expected one of leader',
    );
    const version = await cli('version', 'test');
    expect(version.stdout).toMatch(/^pgwarden version \S+\n\nnode1: pgwarden \S+ PostgreSQL 15\.\d+[^\n]*\n/);
    expect((await cli('clusters')).stdout.trim()).toBe('test');
  });

  it('removes a cluster only when its name is confirmed', async () => {
    const wrong = await cli('remove', 'test', '--confirm', 'tset');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('does not match test: nothing removed');
    const noTty = await cli('remove', 'test');
    expect(noTty.code).toBe(2);
    expect((await cli('clusters')).stdout.trim()).toBe('test');
  });

  it('fails over to a named candidate on request (a switchover while the leader is healthy)', async () => {
    const leader = (await c.store.getLeader('test'))!.holder;
    const target = ['node1', 'node2', 'node3'].find((n) => n !== leader)!;
    await allStreaming(leader);
    const run = await cli('failover', '--candidate', target, '--force');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`-> ${target}`);
    expect(await primary()).toBe(target);
    await allStreaming(target);
  });

  it('fails over without --candidate to the best member; switchover takes --primary, as Patroni 4 spells --leader', async () => {
    const leader = (await c.store.getLeader('test'))!.holder;
    const wrong = await cli('switchover', '--primary', 'node9', '--force');
    expect(wrong.stderr).toContain('--leader: node9 is not the leader');
    const run = await cli('failover', '--force');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`${leader} -> `);
    const now = await primary();
    expect(now).not.toBe(leader);
    await allStreaming(now);
  });

  it('merges a YAML file into the config with edit-config --apply', async () => {
    const run = await runCli(
      ['edit-config', '--apply', '-', '--force'],
      { PGWARDEN_DYNAMODB_ENDPOINT: c.dynamoEndpoint, PGWARDEN_TABLE: c.table, PGWARDEN_SCOPE: 'test' },
      'postgresql:\n  parameters:\n    work_mem: 16MB\n',
    );
    expect(run.code).toBe(0);
    expect((await cli('show-config', '--json')).stdout).toContain('"work_mem":"16MB"');
  });

  it('refreshes list --watch until interrupted', async () => {
    const refreshes = (out: string) => out.match(/\+ Cluster: test/g)?.length ?? 0;
    const run = await runCli(
      ['list', '--watch', '0.5'],
      { PGWARDEN_DYNAMODB_ENDPOINT: c.dynamoEndpoint, PGWARDEN_TABLE: c.table, PGWARDEN_SCOPE: 'test' },
      undefined,
      (out) => refreshes(out) >= 2,
    );
    expect(run.stdout.match(/\+ Cluster: test/g)!.length).toBeGreaterThanOrEqual(2);
  });

  it('answers bad arguments with usage errors (exit 2)', async () => {
    expect((await cli('list', '--format', 'xml')).stderr).toContain(
      '--format: got "xml", expected one of pretty, json, yaml, tsv',
    );
    expect((await cli('switchover', '--scheduled', 'tomorrow', '--force')).stderr).toContain(
      'expected an ISO 8601 time',
    );
    expect((await cli('frobnicate')).code).toBe(2);
    const unreachable = await runCli(['list', 'test'], {
      PGWARDEN_DYNAMODB_ENDPOINT: 'http://127.0.0.1:9',
      PGWARDEN_TABLE: 'x',
    });
    expect(unreachable.code).toBe(3);
  });
});
