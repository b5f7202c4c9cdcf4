// Failover and switchover as an application sees them (issue 5). Run: npm run bench:failover
// For each profile (BENCH_PROFILES, default "default,fast") and replication mode (BENCH_MODES,
// default "sync,async"): a 3-node local topology (fsync on), HAProxy in front, the controller
// ticking, two writers at 20 Hz (one through the writer endpoint, one straight to the nodes, finding
// the writable one), then BENCH_ROUNDS (default 5) host-crash failovers and as many switchovers.
// BENCH_ROUTERS (default "off,on"): HAProxy in front of PostgreSQL (checks on /primary), or in
// front of a router on every host (issue #17: checks on /router, the routers follow the lease).
// BENCH_LOG_LEVEL (default warn) for the agents; PGWARDEN_KEEP_TEST_DIRS=1 keeps their logs.

import { chmodSync, mkdtempSync } from 'node:fs';
import { type Ack, AckedWriter } from '../local/acked-writer.ts';
import type { LocalProfileName } from '../local/local-profiles.ts';
import { LocalTopology } from '../local/local-topology.ts';
import { loopbackClient } from '../local/loopback-client.ts';
import { waitFor } from '../local/wait-for.ts';
import { buildAgentBundle } from '../scripts/build-agent.ts';
import { buildControllerBundle } from '../scripts/build-controller.ts';
import { runCli } from '../test/helpers/run-cli.ts';

const PROFILES = (process.env.BENCH_PROFILES ?? 'default,fast').split(',') as LocalProfileName[];
const MODES = (process.env.BENCH_MODES ?? 'sync,async').split(',');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ROUTERS = (process.env.BENCH_ROUTERS ?? 'off,on').split(',');

const p50 = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const sec = (ms: number) => (ms / 1000).toFixed(2);

async function run(profile: LocalProfileName, sync: boolean, routers: boolean) {
  const dir = mkdtempSync('/tmp/pgwarden-bench-');
  chmodSync(dir, 0o755);
  const t = await LocalTopology.create({
    dir,
    nodes: 3,
    profile,
    sync,
    routers,
    scope: 'bench',
    logLevel: process.env.BENCH_LOG_LEVEL ?? 'warn',
  });
  const label = `${profile}/${sync ? 'sync' : 'async'}/${routers ? 'routers' : 'haproxy'}`;
  try {
    const ep = await t.startEndpoint();
    await t.startAll();
    t.startController({ logLevel: process.env.BENCH_CONTROLLER_LOG ?? 'WARN' });
    const ports = [...t.nodes.values()].map((n) => n.pgPort);
    const portOf = (name: string) => t.node(name).pgPort;
    const primary = async () =>
      waitFor('a serving primary', 120_000, async () => {
        const l = await t.store.getLeader('bench');
        if (!l || l.released || t.node(l.holder).down) return undefined;
        return (await t.api(l.holder, '/primary')).status === 200 ? l.holder : undefined;
      });
    const healthy = async (leader: string) => {
      for (const n of t.nodes.keys())
        if (n !== leader)
          await waitFor(`${n} streaming`, 120_000, async () => {
            const snap = await t.store.getSnapshot('bench');
            const m = snap.members.find((x) => x.name === n);
            return m?.receiver_state === 'streaming' && m.timeline === snap.leader?.timeline && !snap.op;
          });
      if (sync)
        await waitFor(
          'a synchronous standby',
          60_000,
          async () => (await t.store.getLeader('bench'))?.sync[0],
        );
      await new Promise((r) => setTimeout(r, 2000));
    };
    const setup = loopbackClient(portOf('node1'), t.login, { connectMs: 5000, queryMs: 30_000 });
    await setup.connect();
    await setup.query('CREATE TABLE acks (id int PRIMARY KEY)');
    await setup.end();
    await healthy('node1');
    // A commit waiting for a synchronous standby is acknowledged when one confirms: let it wait.
    const queryMs = 10_000;
    const viaEndpoint = new AckedWriter({ ports: [ep.writerPort], login: t.login, queryMs }).start();
    const direct = new AckedWriter({ ports, login: t.login, firstId: 10_000_000, queryMs }).start();
    const crash = { direct: [] as number[], endpoint: [] as number[] };
    const gaps = { direct: [] as number[], endpoint: [] as number[] };
    /** Writes through the endpoint that failed during each switchover (the target is 0). */
    const failedDuringSwitchover: number[] = [];
    for (let i = 0; i < ROUNDS; i += 1) {
      const old = await primary();
      const term = (await t.store.getLeader('bench'))!.term;
      t.killHost(old);
      const at = Date.now();
      await waitFor('a new term', 120_000, async () => (await t.store.getLeader('bench'))!.term > term);
      const now = await primary();
      const d = await waitFor('a direct write', 120_000, async () => direct.firstAckAfter(at, portOf(old)));
      const e = await waitFor('an endpoint write', 120_000, async () =>
        viaEndpoint.firstAckAfter(at, portOf(old)),
      );
      crash.direct.push(d.at - at);
      crash.endpoint.push(e.at - at);
      console.error(
        `${label} crash ${i + 1}: ${old} -> ${now}: direct ${sec(d.at - at)} s, endpoint ${sec(e.at - at)} s`,
      );
      t.startAgent(old);
      await healthy(now);
    }
    for (let i = 0; i < ROUNDS; i += 1) {
      const old = await primary();
      const asked = Date.now();
      const r = await runCli(['switchover', '--force'], {
        PGWARDEN_DYNAMODB_ENDPOINT: t.dynamoEndpoint,
        PGWARDEN_TABLE: t.table,
        PGWARDEN_SCOPE: 'bench',
      });
      if (r.code !== 0) throw new Error(`switchover failed: ${r.stdout}${r.stderr}`);
      const now = await primary();
      await waitFor('an endpoint write on the new primary', 60_000, async () =>
        viaEndpoint.firstAckAfter(asked, portOf(old)),
      );
      await waitFor('a direct write on the new primary', 60_000, async () =>
        direct.firstAckAfter(asked, portOf(old)),
      );
      const until = Date.now() + 500;
      await new Promise((res) => setTimeout(res, 600));
      gaps.direct.push(direct.longestGap(asked, until));
      gaps.endpoint.push(viaEndpoint.longestGap(asked, until));
      failedDuringSwitchover.push(viaEndpoint.failures.filter((f) => f.at >= asked && f.at <= until).length);
      if (process.env.BENCH_DEBUG) {
        const row = (await t.store.getSnapshot('bench')).history.at(-1)!;
        const acks = direct.acks.filter((a) => a.at > asked && a.at < until).map((a) => a.at);
        let at = asked;
        for (let k = 1; k < acks.length; k += 1) if (acks[k]! - acks[k - 1]! > 500) at = acks[k - 1]!;
        console.error(
          JSON.stringify({
            gapStart: at - asked,
            timings: Object.fromEntries(Object.entries(row.timings).map(([k, v]) => [k, v - asked])),
            firstAfter: direct.firstAckAfter(asked, portOf(old))!.at - asked,
          }),
        );
      }
      console.error(
        `${label} switchover ${i + 1}: ${old} -> ${now}: gap direct ${sec(gaps.direct.at(-1)!)} s, endpoint ${sec(gaps.endpoint.at(-1)!)} s, ${failedDuringSwitchover.at(-1)} failed through the endpoint`,
      );
      await healthy(now);
    }
    await viaEndpoint.stop();
    await direct.stop();
    const final = await primary();
    const c = loopbackClient(portOf(final), t.login, { connectMs: 5000, queryMs: 30_000 });
    await c.connect();
    const present = new Set((await c.query<{ id: number }>('SELECT id FROM acks')).rows.map((r) => r.id));
    await c.end();
    const lost: Ack[] = [...viaEndpoint.lost(present), ...direct.lost(present)];
    return {
      profile,
      mode: sync ? 'sync' : 'async',
      endpoint: routers ? 'routers' : 'haproxy',
      failedDuringSwitchover,
      crashDirect: crash.direct,
      crashEndpoint: crash.endpoint,
      gapDirect: gaps.direct,
      gapEndpoint: gaps.endpoint,
      acked: viaEndpoint.acks.length + direct.acks.length,
      lost: lost.length,
    };
  } finally {
    await t.destroy();
  }
}

// Both bundles from this checkout: the controller runs as its own process from its bundle.
await buildAgentBundle();
await buildControllerBundle();
const rows = [];
for (const profile of PROFILES)
  for (const mode of MODES)
    for (const routers of ROUTERS) rows.push(await run(profile, mode === 'sync', routers === 'on'));
console.log(
  '| profile | mode | endpoint | crash → first write, direct p50 / max | crash → first write, endpoint p50 / max | switchover gap, direct p50 / max | switchover gap, endpoint p50 / max | failed through the endpoint per switchover | acknowledged | lost |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows)
  console.log(
    `| ${r.profile} | ${r.mode} | ${r.endpoint} | ${sec(p50(r.crashDirect))} / ${sec(Math.max(...r.crashDirect))} s | ${sec(p50(r.crashEndpoint))} / ${sec(Math.max(...r.crashEndpoint))} s | ${sec(p50(r.gapDirect))} / ${sec(Math.max(...r.gapDirect))} s | ${sec(p50(r.gapEndpoint))} / ${sec(Math.max(...r.gapEndpoint))} s | ${r.failedDuringSwitchover.join(', ')} | ${r.acked} | ${r.lost} |`,
  );
console.log(JSON.stringify(rows));
