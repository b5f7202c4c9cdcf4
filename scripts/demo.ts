// The demo behind `npm run demo` (scripts/demo.sh installs the prerequisites first).
import { chmodSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../cli/entry.ts';
import { formatLsn } from '../core/format.ts';
import { AckedWriter } from '../local/acked-writer.ts';
import { loopbackClient } from '../local/loopback-client.ts';
import { readState, stateLogin } from '../local/state-file.ts';
import { waitFor } from '../local/wait-for.ts';

const profile = process.argv.includes('--default') ? 'default' : 'fast';
const base = mkdtempSync('/tmp/pgwarden-demo-');
chmodSync(base, 0o755);
const dir = join(base, 'local');
process.env.PGWARDEN_LOCAL_DIR = dir;
const say = (line = '') => process.stdout.write(`${line}\n`);
const cli = async (...args: string[]) => {
  const code = await runCli(['node', 'pgwarden', ...args]);
  if (code !== 0) throw new Error(`pgwarden ${args.join(' ')} exited with ${code}`);
};

let writer: AckedWriter | undefined;
try {
  say(`== pgwarden local up (3 nodes, profile ${profile}) in ${dir}`);
  await cli('local', 'up', '--nodes', '3', '--profile', profile);
  const state = readState(dir)!;
  const writerPort = Number(state.writer!.split(':')[1]);

  say('\n== an application writing through the writer endpoint, 20 transactions a second');
  const setup = loopbackClient(writerPort, stateLogin(state), { connectMs: 5000, queryMs: 5000 });
  await setup.connect();
  await setup.query('CREATE TABLE IF NOT EXISTS acks (id int PRIMARY KEY)');
  await setup.end();
  writer = new AckedWriter({ ports: [writerPort], login: stateLogin(state) }).start();
  await new Promise((r) => setTimeout(r, 3000));
  say(`${writer.acks.length} writes acknowledged so far`);
  await cli('list');

  const primary = state.nodes[0]!.name;
  say(`\n== crashing the primary's host: pgwarden local kill ${primary}`);
  const requested = Date.now();
  await cli('local', 'kill', primary);
  // The SIGKILLs were sent before the command returned: the crash lies between the two instants.
  const crashedAt = Date.now();
  const lastBefore = writer.acks.filter((a) => a.at <= crashedAt).at(-1)!;
  const first = await waitFor('the first write through the endpoint after the crash', 120_000, async () =>
    writer!.firstAckAfter(crashedAt, state.nodes[0]!.pgPort),
  );
  const { DynamoDbStore } = await import('../adapters/dynamodb/dynamodb-store.ts');
  const { createSdkDocuments } = await import('../adapters/dynamodb/client.ts');
  const store = new DynamoDbStore(
    createSdkDocuments({ endpoint: state.dynamodb.endpoint }),
    state.settings.table,
  );
  const row = await waitFor('the history row', 30_000, async () =>
    (await store.getSnapshot(state.settings.scope)).history.find((h) => h.kind === 'failover'),
  );
  const at = (t: number | undefined) =>
    t === undefined ? '      -' : `${((t - crashedAt) / 1000).toFixed(2).padStart(6)} s`;
  say('\n== failover timeline (from the crash)');
  say(
    `${at(crashedAt)}  ${primary} crashed (agent and postmaster SIGKILLed, within ${crashedAt - requested} ms before)`,
  );
  say(`${at(lastBefore.at)}  last write acknowledged before the crash`);
  say(
    `${at(row.timings.detected)}  detected: ${row.reason.split(' (')[1]?.replace(/\)$/, '') ?? row.reason}`,
  );
  say(
    `${at(row.timings.takeover ?? row.timings.detected)}  lease taken over for ${row.new} at term ${row.term}`,
  );
  say(`${at(row.timings.fence)}  ${primary} fenced (host not running)`);
  say(
    `${at(row.timings.promote)}  ${row.new} promoted${row.lsn !== undefined ? ` (received up to ${formatLsn(row.lsn)})` : ''}`,
  );
  say(`${at(first.at)}  writer endpoint serving ${row.new}: first write acknowledged`);
  say(
    `\nwrites were refused for ${((first.at - lastBefore.at) / 1000).toFixed(2)} s (last acknowledged write before the crash -> first after it)`,
  );
  await writer.stop();
  const present = await waitFor('the acknowledged ids from the new primary', 30_000, async () => {
    const client = loopbackClient(writerPort, stateLogin(state), { queryMs: 5000 });
    try {
      await client.connect();
      return new Set((await client.query<{ id: number }>('SELECT id FROM acks')).rows.map((r) => r.id));
    } finally {
      await client.end().catch(() => {});
    }
  });
  const lost = writer.lost(present);
  say(`${writer.acks.length} writes acknowledged in all, ${lost.length} lost (asynchronous replication)`);

  say(`\n== bringing ${primary} back: pgwarden local start ${primary} (it rejoins as a replica by itself)`);
  await cli('local', 'start', primary);
  await waitFor(`${primary} streaming`, 90_000, async () => {
    const snap = await store.getSnapshot(state.settings.scope);
    const m = snap.members.find((x) => x.name === primary);
    return m?.role === 'replica' && m.receiver_state === 'streaming' && m.timeline === snap.leader?.timeline;
  });
  say('\n== pgwarden list');
  await cli('list');
  say('\n== pgwarden history');
  await cli('history');
} finally {
  await writer?.stop();
  say('\n== pgwarden local down');
  await runCli(['node', 'pgwarden', 'local', 'down']);
}
