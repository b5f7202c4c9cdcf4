// Write availability through a DynamoDB outage, failsafe on and off (issue 12).
// Run: npm run bench:failsafe (BENCH_OUTAGE_SECONDS, default 60; BENCH_PROFILE, default "default").
// A 3-node local topology (the controller as Lambda invocations, a writer at 20 Hz straight to
// the nodes, finding the writable one), then DynamoDB cut off for every agent and the controller
// for the outage, then healed. Reported per mode: the longest time without an acknowledged write
// from the cut to 30 s after the heal, the seconds without any write, failovers (changes of term),
// and acknowledged writes missing from the final primary.

import { chmodSync, mkdtempSync } from 'node:fs';
import { AckedWriter } from '../local/acked-writer.ts';
import type { LocalProfileName } from '../local/local-profiles.ts';
import { LocalTopology } from '../local/local-topology.ts';
import { loopbackClient } from '../local/loopback-client.ts';
import { waitFor } from '../local/wait-for.ts';
import { buildAgentBundle } from '../scripts/build-agent.ts';
import { buildControllerBundle } from '../scripts/build-controller.ts';

const OUTAGE_MS = Number(process.env.BENCH_OUTAGE_SECONDS ?? 60) * 1000;
const PROFILE = (process.env.BENCH_PROFILE ?? 'default') as LocalProfileName;

async function run(failsafe: boolean) {
  const dir = mkdtempSync('/tmp/pgwarden-bench-');
  chmodSync(dir, 0o755);
  const t = await LocalTopology.create({
    dir,
    nodes: 3,
    profile: PROFILE,
    scope: 'bench',
    logLevel: 'warn',
    dcs: { failsafe_mode: failsafe },
  });
  let writer: AckedWriter | undefined;
  try {
    await t.startAll();
    const ctl = t.startController({ logLevel: 'WARN' });
    const client = loopbackClient(t.node('node1').pgPort, t.login, { connectMs: 5000, queryMs: 30_000 });
    await client.connect();
    await client.query('CREATE TABLE acks (id int PRIMARY KEY)');
    await client.end();
    writer = new AckedWriter({
      ports: [...t.nodes.values()].map((n) => n.pgPort),
      login: t.login,
    }).start();
    await new Promise((r) => setTimeout(r, 5000));
    const before = (await t.store.getLeader('bench'))!.term;
    const cutAt = Date.now();
    for (const name of t.nodes.keys()) t.isolate(name);
    t.isolateController(true);
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    for (const name of t.nodes.keys()) t.heal(name);
    t.isolateController(false);
    const healedAt = Date.now();
    await new Promise((r) => setTimeout(r, 30_000));
    const end = Date.now();
    await writer.stop();
    const leader = await waitFor('a leader', 60_000, async () => t.store.getLeader('bench'));
    const primary = leader.holder;
    const c2 = loopbackClient(t.node(primary).pgPort, t.login, { connectMs: 5000, queryMs: 30_000 });
    await c2.connect();
    const { rows } = await c2.query<{ id: number }>('SELECT id FROM acks');
    await c2.end();
    const lost = writer.lost(new Set(rows.map((r) => r.id))).length;
    // Seconds of the window in which no write was acknowledged at all.
    let silent = 0;
    for (let s = cutAt; s < end; s += 1000)
      if (!writer.acks.some((a) => a.at >= s && a.at < s + 1000)) silent += 1;
    const result = {
      failsafe_mode: failsafe,
      profile: PROFILE,
      outage_s: OUTAGE_MS / 1000,
      longest_gap_s: Number((writer.longestGap(cutAt, end) / 1000).toFixed(2)),
      seconds_without_a_write: silent,
      failovers: leader.term - before,
      acknowledged: writer.acks.length,
      lost,
      recovered_s_after_heal: Number(
        (((writer.firstAckAfter(healedAt)?.at ?? end) - healedAt) / 1000).toFixed(2),
      ),
    };
    console.log(JSON.stringify(result));
    await ctl.stop();
    return result;
  } finally {
    await writer?.stop();
    await t.destroy();
  }
}

await Promise.all([buildAgentBundle(), buildControllerBundle()]);
const results = [];
for (const failsafe of [true, false]) results.push(await run(failsafe));
console.log(JSON.stringify(results));
