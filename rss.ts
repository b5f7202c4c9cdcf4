import { readFileSync } from 'node:fs';
import { AgentCluster } from './test/helpers/agent-cluster.ts';

const c = await AgentCluster.create({
  nodes: 1,
  dcs: { ttl: 10, loop_wait: 2, retry_timeout: 4, safety_margin: 2 },
});
try {
  c.startAgent('node1');
  await c.waitForRole('node1', '/primary');
  await new Promise((r) => setTimeout(r, 20000));
  const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${c.node('node1').pid}/status`, 'utf8'))![1];
  const m = String((await c.api('node1', '/metrics')).body)
    .split('\n')
    .filter((l) => /heap_size_used|heap_size_total|external_memory/.test(l) && !l.startsWith('#'));
  console.log(
    process.env.PGWARDEN_AGENT_NODE_FLAGS ?? 'default',
    'rss MB',
    Number(rss) / 1024,
    m.join(' | '),
  );
} finally {
  await c.destroy();
}
