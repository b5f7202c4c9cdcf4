import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAgentBundle } from '../../../scripts/build-agent.ts';
import { AgentCluster } from '../../helpers/agent-cluster.ts';
import { type RunningController, startController } from '../../helpers/controller-harness.ts';
import { runCli } from '../../helpers/run-cli.ts';

const NEXT = '0.1.1-next';

/**
 * The rolling agent upgrade (issue #13) on the local topology: a second agent build shipped through
 * the command bus (SSM locally), each host's unit restarted by its systemctl, one host at a time.
 */
describe('pgwarden upgrade-agent', () => {
  let c: AgentCluster;
  let controller: RunningController;
  let dir: string;
  let next: string;

  beforeAll(async () => {
    dir = mkdtempSync('/tmp/pgwarden-next-');
    next = await buildAgentBundle(join(dir, 'pgwarden-agent.mjs'), NEXT);
    c = await AgentCluster.create({ nodes: 3 });
    await c.startAll();
    controller = startController(c);
  });
  afterAll(async () => {
    await controller?.stop();
    await c?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses on the primary, and refuses a bundle that does not start, keeping the installed one', async () => {
    const leader = (await c.store.getLeader('test'))!;
    const onPrimary = await c.runAction(leader.holder, 'upgrade-agent', leader.term, { bundle: next });
    expect(onPrimary.result).toMatchObject({ ok: false, code: 'ACTION_REFUSED' });
    expect(onPrimary.result.message).toContain('switch over first');
    const broken = join(dir, 'broken.mjs');
    writeFileSync(broken, 'process.exit(3);\n');
    const replica = leader.holder === 'node1' ? 'node2' : 'node1';
    const installed = readFileSync(c.node(replica).layout.bundle);
    const bad = await c.runAction(replica, 'upgrade-agent', leader.term, { bundle: broken });
    expect(bad.result.ok).toBe(false);
    expect(readFileSync(c.node(replica).layout.bundle).equals(installed)).toBe(true);
  });

  it('upgrades the replicas one at a time, switches over, then the old primary: never two hosts down', async () => {
    const before = (await c.store.getLeader('test'))!;
    let worst = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const down = [...c.nodes.keys()].filter((n) => c.postmasterPid(n) === undefined).length;
        worst = Math.max(worst, down);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const run = await runCli(
      ['upgrade-agent', '--bundle', next, '--local-dir', c.base, '--force', '--timeout', '120'],
      { PGWARDEN_DYNAMODB_ENDPOINT: c.dynamoEndpoint, PGWARDEN_TABLE: c.table, PGWARDEN_SCOPE: 'test' },
    );
    sampling = false;
    await sampler;
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const order = [...run.stdout.matchAll(/^(node\d): installing/gm)].map((m) => m[1]);
    // The old primary is upgraded last, after the switchover away from it.
    expect(order).toHaveLength(3);
    expect(order.at(-1)).toBe(before.holder);
    expect(run.stdout.indexOf('switchover:')).toBeLessThan(run.stdout.lastIndexOf('installing'));
    expect(run.stdout).toContain(`done: every member runs the new agent (${NEXT})`);
    const snapshot = await c.store.getSnapshot('test');
    expect(snapshot.members.map((m) => m.versions.agent)).toEqual([NEXT, NEXT, NEXT]);
    expect(snapshot.history.filter((h) => h.kind === 'switchover')).toHaveLength(1);
    for (const name of c.nodes.keys())
      expect(readFileSync(c.node(name).layout.bundle).equals(readFileSync(next)), name).toBe(true);
    expect(worst).toBeLessThanOrEqual(1);
  });
});
