import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_BIN, AgentCluster } from '../../helpers/agent-cluster.ts';

function agent(args: string[]) {
  const run = spawnSync(process.execPath, [AGENT_BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    timeout: 30_000,
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('the agent with bad input', () => {
  let c: AgentCluster;
  beforeAll(async () => {
    // A long primary_start_timeout: this hang must not be mistaken for a crash to fail over from.
    c = await AgentCluster.create({ nodes: 1, dcs: { primary_start_timeout: 600 } });
  });
  afterAll(async () => {
    await c?.destroy();
  });

  it('refuses a bad config with one error naming every bad key, exit code 2', () => {
    const path = join(c.base, 'bad.yml');
    writeFileSync(
      path,
      'scope: demo\nname: "bad name"\nrestapi:\n  listen: 8008\npostgresql:\n  listen: 127.0.0.1:5432\n  data_dir: /d\n  data_dri: /x\ndynamodb: {}\netcd: {hosts: x}\n',
    );
    const run = agent(['run', '-c', path]);
    expect(run.code).toBe(2);
    // etcd is Patroni's (accepted, inactive); data_dri is nobody's, and the nearest key is named.
    for (const key of [
      'name:',
      'restapi.listen:',
      'postgresql.data_dri:',
      'did you mean postgresql.data_dir?',
      'dynamodb.table:',
    ]) {
      expect(run.stderr).toContain(key);
    }
    expect(run.stderr).not.toContain('etcd');
    expect(run.stderr).toContain('expected a "host:port" string');
  });

  it('refuses YAML that does not parse', () => {
    const path = join(c.base, 'broken.yml');
    writeFileSync(path, 'scope: [unclosed\n');
    const run = agent(['run', '-c', path]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('expected valid YAML');
  });

  it.each([
    [
      ['action', 'explode', '--cluster', 'test', '--term', '1'],
      'action: got "explode", expected one of promote',
    ],
    [['action', 'promote', '--cluster', 'test', '--term', '1; rm -rf /'], 'term: got "1; rm -rf /"'],
    [
      ['action', 'rejoin', '--cluster', 'test', '--term', '2'],
      'leader: got nothing, expected the member to follow',
    ],
    [
      ['action', 'set-sync', '--cluster', 'test', '--term', '2', '--standbys', 'a,,b'],
      'standbys: got "a,,b"',
    ],
    [['action', 'promote', '--cluster', 'bad cluster', '--term', '2'], 'cluster: got "bad cluster"'],
  ])('refuses bad action arguments %j with a JSON result line and exit code 2', (args, message) => {
    const run = agent([...args, '-c', c.node('node1').configPath]);
    expect(run.code).toBe(2);
    const result = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    expect(result).toMatchObject({ ok: false, code: 'CONFIG_INVALID' });
    expect(result.message).toContain(message);
  });

  it('keeps answering health checks within its timeout while PostgreSQL hangs', async () => {
    c.startAgent('node1');
    await c.waitForRole('node1', '/primary');
    const thaw = c.freezePostgres('node1');
    try {
      await c.waitFor(
        '/health = 503 while PostgreSQL hangs',
        15_000,
        async () => (await c.api('node1', '/health')).status === 503,
      );
      for (const path of ['/primary', '/replica', '/patroni', '/liveness', '/metrics']) {
        const started = Date.now();
        const res = await c.api('node1', path);
        expect(Date.now() - started, path).toBeLessThan(1000);
        // As Patroni: /patroni always answers 200 (its state says unknown); checks fail with 503.
        expect(res.status, path).toBe(['/liveness', '/metrics', '/patroni'].includes(path) ? 200 : 503);
      }
    } finally {
      thaw();
    }
    await c.waitForRole('node1', '/primary');
  });
});
