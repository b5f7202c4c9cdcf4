import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { tlsFiles } from '../agent/tls/host-certificate.ts';
import { AckedWriter } from '../local/acked-writer.ts';
import { waitFor } from '../local/wait-for.ts';
import { buildAgentBundle } from '../scripts/build-agent.ts';
import { AgentCluster, TEST_PASSWORD } from '../test/helpers/agent-cluster.ts';
import { asPostgres } from '../test/helpers/as-postgres.ts';
import {
  patronictlPause,
  startEtcd,
  startPatroniOn,
  writePgwardenFiles,
} from '../test/helpers/patroni-cluster.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const KINDS = (process.env.BENCH_KINDS ?? 'patroni,restart').split(',');
const WRITER = { user: 'writer', password: 'writer-secret' };

const p50 = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function sql(client: pg.ClientConfig, statements: string[]): Promise<void> {
  const c = new pg.Client({ database: 'postgres', ...client });
  await c.connect();
  for (const s of statements) await c.query(s);
  await c.end();
}

const SETUP = [
  `CREATE ROLE ${WRITER.user} LOGIN PASSWORD '${WRITER.password}'`,
  'CREATE TABLE writes (id int PRIMARY KEY)',
  `GRANT INSERT ON writes TO ${WRITER.user}`,
];

async function allStreaming(c: AgentCluster, replicas: number): Promise<void> {
  await waitFor('every replica streaming under pgwarden', 120_000, async () => {
    const snapshot = await c.store.getSnapshot(c.scope);
    return snapshot.members.filter((m) => m.receiver_state === 'streaming').length === replicas;
  });
}

async function patroniRound(): Promise<number> {
  const c = await AgentCluster.create({ nodes: 3 });
  const etcd = await startEtcd(join(c.base, 'etcd'));
  const patroni = await startPatroniOn(c, etcd.endpoint, TEST_PASSWORD, {
    ttl: 10,
    loop_wait: 2,
    retry_timeout: 3,
  });
  let writer: AckedWriter | undefined;
  try {
    const port = c.node('node1').pgPort;
    await sql({ host: '127.0.0.1', port, user: 'postgres', password: TEST_PASSWORD }, SETUP);
    writer = new AckedWriter({
      ports: [...c.nodes.values()].map((n) => n.pgPort),
      login: WRITER,
      table: 'writes',
    }).start();
    await waitFor('writes', 10_000, async () => writer!.acks.length > 10);
    const from = Date.now();
    await patronictlPause(patroni.configPath('node1'), c.scope);
    await patroni.stop();
    writePgwardenFiles(c, patroni.files);
    for (const name of c.nodes.keys()) c.startAgent(name);
    await c.waitForRole('node1', '/primary', 60_000);
    await allStreaming(c, 2);
    await new Promise((r) => setTimeout(r, 1000));
    return writer.longestGap(from, Date.now());
  } finally {
    await writer?.stop();
    await patroni.stop();
    await c.destroy();
    await etcd.process.stop();
  }
}

async function restartRound(): Promise<number> {
  const c = await AgentCluster.create({ nodes: 1 });
  const node = c.node('node1');
  let writer: AckedWriter | undefined;
  try {
    asPostgres('initdb', ['-D', node.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
    const hba = join(c.base, 'outside-pg_hba.conf');
    writeFileSync(hba, 'hostssl all all 127.0.0.1/32 scram-sha-256\nhost all postgres 127.0.0.1/32 trust\n');
    chmodSync(hba, 0o644);
    const tls = tlsFiles(node.layout.tlsDir);
    asPostgres('pg_ctl', [
      '-D',
      node.dataDir,
      '-l',
      join(node.dataDir, 'manual.log'),
      '-o',
      `-p ${node.pgPort} -k /tmp -c listen_addresses=127.0.0.1 -c hba_file=${hba} -c ssl=on -c ssl_cert_file=${tls.cert} -c ssl_key_file=${tls.key}`,
      '-w',
      'start',
    ]);
    await sql({ host: '127.0.0.1', port: node.pgPort, user: 'postgres' }, SETUP);
    writer = new AckedWriter({
      ports: [node.pgPort],
      login: { ...WRITER, ca: c.login.ca },
      table: 'writes',
    }).start();
    await waitFor('writes', 10_000, async () => writer!.acks.length > 10);
    const from = Date.now();
    c.startAgent('node1');
    await c.waitForRole('node1', '/primary', 60_000);
    await waitFor('writes after the restart', 30_000, async () =>
      writer!.acks.some((a) => a.at > Date.now() - 200),
    );
    await new Promise((r) => setTimeout(r, 1000));
    if (!c.agentLog('node1').includes('one restart')) throw new Error('the agent did not restart it');
    return writer.longestGap(from, Date.now());
  } finally {
    await writer?.stop();
    await c.destroy();
  }
}

await buildAgentBundle();
for (const kind of KINDS) {
  const gaps: number[] = [];
  for (let i = 0; i < ROUNDS; i += 1) gaps.push(await (kind === 'patroni' ? patroniRound() : restartRound()));
  console.log(
    JSON.stringify({
      bench: 'adoption write gap',
      kind,
      rounds: ROUNDS,
      gapsMs: gaps,
      p50Ms: p50(gaps),
      maxMs: Math.max(...gaps),
    }),
  );
}
