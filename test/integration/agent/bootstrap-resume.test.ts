import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentCluster } from '../../helpers/agent-cluster.ts';

/**
 * The member that wins the `initialize` race must end up primary even when its first attempt
 * stops part-way: it resumes instead of "adopting" its half-made data directory as a stopped
 * member (which left the cluster with no primary at all).
 */
describe('an initialization that stopped part-way is resumed by the member that claimed it', () => {
  let cluster: AgentCluster | undefined;
  let blocker: Server | undefined;

  afterEach(async () => {
    await new Promise((resolve) => (blocker ? blocker.close(resolve) : resolve(undefined)));
    blocker = undefined;
    await cluster?.destroy();
    cluster = undefined;
  });

  const agentLog = (c: AgentCluster, name: string) => readFileSync(c.node(name).logPath, 'utf8');

  async function expectInitializedBy(c: AgentCluster, name: string): Promise<void> {
    await c.waitForRole(name, '/primary', 60_000);
    await c.waitFor('the initialize item completed', 10_000, async () =>
      Boolean((await c.store.getSnapshot(c.scope)).initialize?.system_identifier),
    );
    const snapshot = await c.store.getSnapshot(c.scope);
    expect(snapshot.initialize?.by).toBe(name);
    expect(snapshot.leader).toMatchObject({ holder: name, term: 1, released: false });
    expect(snapshot.history.filter((h) => h.kind === 'bootstrap')).toHaveLength(1);
    // A second member clones it and streams: the cluster is usable, not only its first member.
    c.startAgent('node2');
    await c.waitFor('node2 streaming from the initializer', 90_000, async () => {
      const member = (await c.store.getSnapshot(c.scope)).members.find((m) => m.name === 'node2');
      return member?.receiver_state === 'streaming' && member.upstream === name;
    });
  }

  it('retries the first start as primary after it failed (its port was taken)', async () => {
    const c = await AgentCluster.create({ nodes: 2, scope: 'resume-start' });
    cluster = c;
    const port = c.node('node1').pgPort;
    const server = createServer();
    blocker = server;
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));

    c.startAgent('node1');
    // Two failed starts: the member keeps trying as primary (it used to give up after one).
    const pgLog = join(c.node('node1').stateDir, 'postgresql.log');
    await c.waitFor('two failed starts as primary', 60_000, async () => {
      const log = existsSync(pgLog) ? readFileSync(pgLog, 'utf8') : '';
      return log.split('could not create any TCP/IP sockets').length > 2;
    });
    expect(agentLog(c, 'node1')).toContain('resuming the initialization');
    expect((await c.store.getSnapshot(c.scope)).leader).toBeUndefined();

    await new Promise((resolve) => server.close(resolve));
    blocker = undefined;
    await expectInitializedBy(c, 'node1');
    expect(agentLog(c, 'node1')).not.toContain('adopting the existing data directory');
  }, 180_000);

  it('runs initdb again over an interrupted one (no control file) while no leader item exists', async () => {
    const c = await AgentCluster.create({ nodes: 2, scope: 'resume-initdb' });
    cluster = c;
    // What an agent killed during initdb leaves: its claim, and a data directory without pg_control.
    expect(await c.store.claimInitialize(c.scope, { by: 'node1', at: Date.now() })).toBe(true);
    const dataDir = c.node('node1').dataDir;
    mkdirSync(join(dataDir, 'base'), { recursive: true });
    writeFileSync(join(dataDir, 'PG_VERSION'), '15\n');

    c.startAgent('node1');
    await expectInitializedBy(c, 'node1');
    expect(agentLog(c, 'node1')).toContain('interrupted initdb');
  }, 180_000);
});
