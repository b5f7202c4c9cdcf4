import { AgentCluster } from './test/helpers/agent-cluster.ts';

const c = await AgentCluster.create({
  nodes: 2,
  dcs: { ttl: 10, loop_wait: 2, retry_timeout: 4, safety_margin: 2 },
});
try {
  c.startAgent('node1');
  await c.waitForRole('node1', '/primary');
  c.startAgent('node2');
  await c.waitForRole('node2', '/replica');
  await new Promise((r) => setTimeout(r, 40000));
  c.stopAgent('node1', 'SIGINT');
  c.stopAgent('node2', 'SIGINT');
  await new Promise((r) => setTimeout(r, 3000));
} finally {
  await c.destroy();
}
