import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePgUser } from '../../../agent/os-user.ts';
import { AgentCluster } from '../../helpers/agent-cluster.ts';

const asRoot = process.getuid?.() === 0;
const postgres = asRoot ? resolvePgUser('postgres') : undefined;

function uidOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Uid:'))!;
  return Number(line.split(/\s+/)[1]);
}

function environOf(pid: number): Record<string, string> {
  return Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}

/** The control group a process is in, on the hierarchy the local units use. */
function cgroupOf(pid: number, root: string): string {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
  const wanted = root.endsWith('/systemd') ? ':name=systemd:' : '0::';
  const line = lines.find((l) => l.includes(wanted))!;
  return join(root, line.slice(line.indexOf(wanted) + wanted.length));
}

/**
 * DESIGN §8: each local node runs as an EC2 host of the stack does. The daemon runs as
 * `postgres` from its rendered systemd unit; actions run as root with SSM's environment.
 */
describe.skipIf(!asRoot)('the local topology runs every part as an EC2 host does', () => {
  let c: AgentCluster;

  beforeAll(async () => {
    c = await AgentCluster.create({ nodes: 2 });
    await c.startAll();
  });
  afterAll(async () => {
    await c?.destroy();
  });

  it('runs the daemon as postgres with the unit environment, not the environment of whoever started it', () => {
    const pid = c.node('node1').pid!;
    expect(uidOf(pid)).toBe(postgres!.uid);
    const env = environOf(pid);
    expect(env).toMatchObject({ USER: 'postgres', HOME: postgres!.home, MALLOC_ARENA_MAX: '1' });
    expect(env.INVOCATION_ID).toMatch(/^[0-9a-f]{32}$/);
    expect(env.PGWARDEN_SUPERUSER_PASSWORD).toBe(c.password); // from agent.env, as systemd reads it
    expect(env.VITEST).toBeUndefined();
    // The host's files: the secrets root only, the config readable by the daemon.
    const { layout } = c.node('node1');
    expect(statSync(layout.envFile).mode & 0o777).toBe(0o600);
    expect(statSync(layout.configFile).mode & 0o777).toBe(0o644);
    expect(readFileSync(layout.configFile, 'utf8')).not.toContain(c.password);
    expect(statSync(layout.compileCache).uid).toBe(postgres!.uid);
  });

  it('leaves what a root action writes readable by the daemon, which keeps renewing after a promotion', async () => {
    const leader = (await c.store.getLeader('test'))!;
    await c.store.handOverLease('test', { from: 'node1', to: 'node2', term: leader.term, ttl: 4 });
    c.killHost('node1');
    const promoted = await c.runAction('node2', 'promote', leader.term + 1);
    expect(promoted.result).toMatchObject({ ok: true, changed: true });
    const { stateDir } = c.node('node2');
    expect(statSync(join(stateDir, 'state.json')).uid).toBe(postgres!.uid);
    // Renewals by the daemon (not the action): the rvn keeps changing over several loop_waits.
    const rvns = new Set<string>();
    const until = Date.now() + 5000;
    while (Date.now() < until) {
      rvns.add((await c.store.getLeader('test'))!.rvn);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(rvns.size).toBeGreaterThanOrEqual(3);
    expect(c.agentLog('node2')).not.toMatch(/EACCES|permission denied/i);
    expect((await c.api('node2', '/primary')).status).toBe(200);
  });

  it.each(['rejoin', 'restart'] as const)(
    'starts PostgreSQL in the agent unit after %s, never in the action that asked',
    async (action) => {
      const node = c.node('node1');
      if (action === 'rejoin') c.startAgent('node1');
      await c.waitFor('node1 agent up', 30_000, async () => (await c.api('node1', '/health')).status !== 0);
      const term = (await c.store.getLeader('test'))!.term;
      const done = await c.runAction('node1', action, term, { leader: 'node2' });
      expect(done.result).toMatchObject({ ok: true });
      await c.waitForRole('node1', '/replica', 30_000);
      const pm = c.postmasterPid('node1')!;
      expect(uidOf(pm)).toBe(postgres!.uid);
      if (node.unit.cgroup) {
        const root = node.unit.cgroup.slice(0, node.unit.cgroup.indexOf('/pgwarden-local/'));
        expect(cgroupOf(pm, root)).toBe(node.unit.cgroup);
        expect(cgroupOf(node.pid!, root)).toBe(node.unit.cgroup);
      } else {
        expect.fail('this machine offers no control group for the local units: the check cannot be made');
      }
    },
  );

  it('a replacement host (a new instance, an empty volume) joins as a replica by itself', async () => {
    const sysid = (await c.store.getSnapshot('test')).initialize!.system_identifier;
    await c.replaceHost('node1');
    expect(readdirSync(c.node('node1').dataDir)).toEqual([]);
    c.startAgent('node1');
    await c.waitFor('node1 streaming', 90_000, async () => {
      return (await c.api('node1', '/replica?replication_state=streaming')).status === 200;
    });
    const [row] = await c.sql<{ id: string }>(
      'node1',
      'SELECT system_identifier::text AS id FROM pg_control_system()',
    );
    expect(row!.id).toBe(sysid);
    expect(c.agentLog('node1')).toContain('base backup');
  });
});
