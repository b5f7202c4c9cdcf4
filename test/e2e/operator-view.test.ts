import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../adapters/dynamodb/client.ts';
import { runCli } from '../helpers/run-cli.ts';
import { Scenario } from '../helpers/scenario.ts';

interface Row {
  Member: string;
  Role: string;
  State: string;
  Tags: Record<string, unknown>;
  'Maintenance mode'?: string;
  Operation?: string;
}

/** Frames of `list -f json -W`: each JSON array it printed. */
function frames(stdout: string): Row[][] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('['))
    .map((line) => JSON.parse(line) as Row[]);
}

/**
 * What operators read is true (issue #14), through the CLI as a person runs it, on a cluster
 * with the controller, the writer and the invariant checker running. node3 is tagged
 * failover_priority: 1 in its config (Patroni shows a tag that was set).
 */
describe('what list, topology and history show is true', () => {
  let s: Scenario;
  const env = () => ({
    PGWARDEN_DYNAMODB_ENDPOINT: s.cluster.dynamoEndpoint,
    PGWARDEN_TABLE: s.cluster.table,
    PGWARDEN_SCOPE: s.cluster.scope,
  });
  const cli = (...args: string[]) => runCli(args, env());
  const list = async (): Promise<Row[]> => {
    const run = await cli('list', '-f', 'json');
    expect(run.stderr).toBe('');
    return JSON.parse(run.stdout) as Row[];
  };
  const row = (rows: Row[], name: string) => rows.find((r) => r.Member === name)!;

  beforeAll(async () => {
    s = await Scenario.start({ tags: { node3: { failover_priority: 1 } } });
  });
  afterAll(async () => {
    await s?.destroy();
  });

  it("uses Patroni 4's words: Leader and Replica in list, primary in /patroni; set tags shown, defaults not", async () => {
    const rows = await list();
    expect(rows.map((r) => r.Role)).toEqual(['Leader', 'Replica', 'Replica']);
    expect(((await s.cluster.api('node1', '/patroni')).body as { role: string }).role).toBe('primary');
    expect(row(rows, 'node3').Tags).toEqual({ failover_priority: 1 });
    // patronictl's JSON drops empty values: a member without shown tags has no Tags key.
    expect(row(rows, 'node2').Tags).toBeUndefined();
  });

  it('a host whose wall clock is 10 minutes slow is not called stale: staleness is observed, not computed', async () => {
    s.cluster.skewClock('node3', -600);
    try {
      s.cluster.killHost('node3');
      s.cluster.startAgent('node3');
      await s.allStreaming('node1');
      // The agent's clock really is slow: its own heartbeat time is 10 minutes behind.
      const member = (await s.store.getSnapshot(s.cluster.scope)).members.find((m) => m.name === 'node3')!;
      expect(Date.now() - member.heartbeat_at).toBeGreaterThan(590_000);
      await new Promise((r) => setTimeout(r, 2000));
      const state = row(await list(), 'node3').State;
      expect(state).toBe('streaming');
    } finally {
      s.cluster.skewClock('node3', 0);
    }
  });

  it('a crashed primary shows as unknown, never as a second primary; the new leader says promoting until it is', async () => {
    const old = await s.primary();
    const term = (await s.store.getLeader(s.cluster.scope))!.term;
    let killed = false;
    const watch = runCli(['list', '-f', 'json', '-w', '0.2'], env(), undefined, (out) => {
      const all = frames(out);
      if (!killed && all.length > 0) {
        killed = true;
        s.cluster.killHost(old);
      }
      const last = all.at(-1);
      const leader = last?.find((r) => r.Role === 'Leader');
      return leader !== undefined && leader.Member !== old && leader.State === 'running';
    });
    const run = await watch;
    const seen = frames(run.stdout);
    expect(seen.length).toBeGreaterThan(3);
    for (const f of seen) {
      expect(f.filter((r) => r.Role === 'Leader').length).toBeLessThanOrEqual(1);
      for (const r of f) expect(['Leader', 'Replica', 'Sync Standby']).toContain(r.Role);
    }
    const newLeader = seen.at(-1)!.find((r) => r.Role === 'Leader')!.Member;
    expect(
      seen.some((f) => row(f, newLeader).Role === 'Leader' && row(f, newLeader).State === 'promoting'),
    ).toBe(true);
    expect(seen.some((f) => f[0]?.Operation?.startsWith('failover'))).toBe(true);
    expect((await s.store.getLeader(s.cluster.scope))!.term).toBe(term + 1);
    // Once the controller has watched it for a ttl: unknown, with how long, never running or streaming.
    await s.cluster.waitFor(`${old} shown as unknown`, 30_000, async () =>
      row(await list(), old).State.startsWith('unknown (no heartbeat for'),
    );
    expect(row(await list(), old).Role).toBe('Replica');
    const topology = (await cli('topology')).stdout;
    expect(topology).toMatch(
      new RegExp(`${old}\\s+\\|\\s+\\S+\\s+\\|\\s+Replica\\s+\\|\\s+unknown \\(no heartbeat`),
    );
    s.cluster.startAgent(old);
    await s.settled();
    await s.allStreaming(newLeader);
  });

  it('pause shows in list -f json and yaml, not only in the pretty footer', async () => {
    expect((await cli('pause', '--wait')).code).toBe(0);
    try {
      expect((await list()).every((r) => r['Maintenance mode'] === 'on')).toBe(true);
      expect((await cli('list', '-f', 'yaml')).stdout).toContain('Maintenance mode: on');
    } finally {
      expect((await cli('resume', '--wait')).code).toBe(0);
    }
    expect((await list()).some((r) => r['Maintenance mode'])).toBe(false);
  });

  it('a malformed member item is listed with the attribute at fault, and logged and notified once', async () => {
    const doc = createDocumentClient({ endpoint: s.cluster.dynamoEndpoint });
    await doc.send(
      new PutCommand({
        TableName: s.cluster.table,
        Item: { pk: s.cluster.scope, sk: 'member#node9', name: 'node9', role: 'emperor' },
      }),
    );
    const bad = await s.cluster.waitFor('node9 listed', 10_000, async () =>
      (await list()).find((r) => r.Member === 'node9'),
    );
    expect(bad.State).toMatch(/^malformed item: .*role \(expected one of/);
    // Several controller invocations later, one log line and one notification.
    await new Promise((r) => setTimeout(r, 6000));
    const log = readFileSync(join(s.cluster.base, 'controller0.log'), 'utf8');
    expect(log.split('\n').filter((l) => l.includes('malformed item skipped'))).toHaveLength(1);
    const notified = s.controllers[0]!.notifier.events.filter((e) => e.type === 'malformed_item');
    expect(notified).toHaveLength(1);
    expect(notified[0]!.message).toContain('member#node9');
  });

  it('no instant with two writable nodes; acknowledged writes lost only within maximum_lag_on_failover', async () => {
    await s.verify();
  });
});
