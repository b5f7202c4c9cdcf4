// Agent RSS and CPU on a 3-node local cluster at loop_wait 2 s (the default profile), sampled
// from /proc. Run: npm run bench:agent (BENCH_SECONDS=300 by default).
// Targets (issue 3): RSS <= 60 MB and <= 1 % of one core per agent.
import { readFileSync } from 'node:fs';
import { buildAgentBundle } from '../scripts/build-agent.ts';
import { AgentCluster } from '../test/helpers/agent-cluster.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 300);
const TICKS = 100; // USER_HZ on Linux

function sample(pid: number): { cpuTicks: number; rssKb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuTicks = Number(fields[11]) + Number(fields[12]);
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return { cpuTicks, rssKb };
}

await buildAgentBundle();
const cluster = await AgentCluster.create({
  nodes: 3,
  dcs: { ttl: 10, loop_wait: 2, retry_timeout: 4, safety_margin: 2 },
});
try {
  await cluster.startAll();
  await new Promise((r) => setTimeout(r, 10_000)); // settle after bootstrap
  const names = ['node1', 'node2', 'node3'];
  const start = new Map(names.map((n) => [n, sample(cluster.node(n).pid!)]));
  const maxRss = new Map(names.map((n) => [n, 0]));
  const began = Date.now();
  while (Date.now() - began < SECONDS * 1000) {
    await new Promise((r) => setTimeout(r, 1000));
    for (const n of names) maxRss.set(n, Math.max(maxRss.get(n)!, sample(cluster.node(n).pid!).rssKb));
  }
  const elapsed = (Date.now() - began) / 1000;
  for (const n of names) {
    const end = sample(cluster.node(n).pid!);
    const cpuSeconds = (end.cpuTicks - start.get(n)!.cpuTicks) / TICKS;
    console.log(
      JSON.stringify({
        benchmark: 'agent-resources',
        member: n,
        role: n === 'node1' ? 'primary' : 'replica',
        seconds: Math.round(elapsed),
        loop_wait_s: 2,
        cpu_percent_of_one_core: Number(((cpuSeconds / elapsed) * 100).toFixed(2)),
        rss_mb_max: Number((maxRss.get(n)! / 1024).toFixed(1)),
        rss_mb_end: Number((end.rssKb / 1024).toFixed(1)),
        targets: { cpu_percent: 1, rss_mb: 60 },
      }),
    );
  }
} finally {
  await cluster.destroy();
}
