// What a router costs (issue #17). Run: npm run bench:router
// One PostgreSQL 15 (a 1-node local topology, TLS on, the agent's router in front of it) and
// pgbench at BENCH_RATE (default 1000) select-only transactions a second over BENCH_CLIENTS
// (default 8) TLS sessions for BENCH_SECONDS (default 30), four ways: straight to PostgreSQL,
// through pgwarden's router (TLS ends there; the agent process), through HAProxy (TCP, TLS end to
// end), through PgBouncer (session pooling, TLS both sides). Reports pgbench's latency, the
// proxy's CPU (% of one core, the agent's idle CPU over as long subtracted) and its RSS.

import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolvePgUser } from '../agent/os-user.ts';
import { tlsFiles } from '../agent/tls/host-certificate.ts';
import { freePort } from '../local/free-port.ts';
import { LocalTopology } from '../local/local-topology.ts';
import { socketClient } from '../local/loopback-client.ts';
import { descendants, waitFor } from '../local/wait-for.ts';
import { buildAgentBundle } from '../scripts/build-agent.ts';

const RATE = Number(process.env.BENCH_RATE ?? 1000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 8);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const PGBENCH = '/usr/lib/postgresql/15/bin/pgbench';
const TICKS = 100; // clock ticks a second (getconf CLK_TCK)

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}
function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/);
  return Number(line?.[1] ?? 0) / 1024;
}

interface Run {
  readonly path: string;
  readonly tps: number;
  readonly latencyMs: number;
  readonly cpuPercent?: number;
  readonly rssMb?: number;
}

async function pgbench(port: number, env: NodeJS.ProcessEnv, args: string[]): Promise<string> {
  const child = spawn(PGBENCH, ['-h', '127.0.0.1', '-p', String(port), ...args, 'postgres'], { env });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`pgbench on ${port} exited with ${code}: ${out.slice(-2000)}`);
  return out;
}

async function measure(
  path: string,
  port: number,
  env: NodeJS.ProcessEnv,
  proxyPid?: number,
  idlePerSecond = 0,
) {
  const before = proxyPid ? cpuTicks(proxyPid) : 0;
  const started = Date.now();
  const out = await pgbench(port, env, [
    '-n',
    '-S',
    '-c',
    String(CLIENTS),
    '-j',
    '2',
    '-R',
    String(RATE),
    '-T',
    String(SECONDS),
  ]);
  const seconds = (Date.now() - started) / 1000;
  const tps = Number(out.match(/tps = ([\d.]+)/)?.[1]);
  const latencyMs = Number(out.match(/latency average = ([\d.]+) ms/)?.[1]);
  const run: Run = {
    path,
    tps,
    latencyMs,
    ...(proxyPid
      ? {
          cpuPercent: Math.max(0, ((cpuTicks(proxyPid) - before) / TICKS / seconds - idlePerSecond) * 100),
          rssMb: rssMb(proxyPid),
        }
      : {}),
  };
  console.error(JSON.stringify(run));
  return run;
}

await buildAgentBundle();
const dir = mkdtempSync('/tmp/pgwarden-bench-');
chmodSync(dir, 0o755);
const t = await LocalTopology.create({ dir, nodes: 1, scope: 'bench', routers: true, logLevel: 'warn' });
const children: number[] = [];
try {
  await t.startAll();
  const node = t.node('node1');
  const env = {
    ...process.env,
    PGUSER: t.login.user,
    PGPASSWORD: t.login.password,
    PGSSLMODE: 'verify-full',
    PGSSLROOTCERT: t.login.ca ?? '',
  };
  await pgbench(node.pgPort, env, ['-i', '-s', '1', '-q']);
  // The agent process (node, --jitless) that runs the router; its idle CPU is subtracted.
  const agent = [node.pid!, ...descendants([node.pid!])].find((pid) =>
    readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('pgwarden-agent.mjs'),
  )!;
  const idleFrom = cpuTicks(agent);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const agentIdle = (cpuTicks(agent) - idleFrom) / TICKS / SECONDS;

  const haproxyPort = await freePort();
  const haproxyCfg = join(dir, 'bench-haproxy.cfg');
  writeFileSync(
    haproxyCfg,
    `global\n  maxconn 2000\ndefaults\n  mode tcp\n  timeout connect 2s\n  timeout client 5m\n  timeout server 5m\nlisten pg\n  bind 127.0.0.1:${haproxyPort}\n  server node1 127.0.0.1:${node.pgPort}\n`,
  );
  const haproxy = spawn('haproxy', ['-db', '-f', haproxyCfg], { stdio: 'ignore', detached: true });
  children.push(haproxy.pid!);

  // PgBouncer as its users run it: session pooling, SCRAM with the role's verifier, TLS both sides.
  const pg = resolvePgUser('postgres');
  if (!pg) throw new Error('bench:router needs the postgres OS user (PgBouncer does not run as root)');
  const bouncerPort = await freePort();
  const tls = tlsFiles(node.layout.tlsDir);
  const su = socketClient(t.socketDir('node1'), node.pgPort);
  await su.connect();
  const { rows } = await su.query<{ rolpassword: string }>(
    'SELECT rolpassword FROM pg_authid WHERE rolname = $1',
    [t.login.user],
  );
  await su.end();
  const bouncerDir = join(dir, 'pgbouncer');
  spawnSync('install', ['-d', '-o', String(pg.uid), '-g', String(pg.gid), bouncerDir]);
  writeFileSync(join(bouncerDir, 'userlist.txt'), `"${t.login.user}" "${rows[0]!.rolpassword}"\n`);
  writeFileSync(
    join(bouncerDir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=127.0.0.1 port=${node.pgPort}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${bouncerPort}`,
      `unix_socket_dir = ${bouncerDir}`,
      'auth_type = scram-sha-256',
      `auth_file = ${join(bouncerDir, 'userlist.txt')}`,
      'pool_mode = session',
      'max_client_conn = 200',
      'default_pool_size = 20',
      'client_tls_sslmode = require',
      `client_tls_cert_file = ${tls.cert}`,
      `client_tls_key_file = ${tls.key}`,
      'server_tls_sslmode = verify-full',
      `server_tls_ca_file = ${tls.ca}`,
      `logfile = ${join(bouncerDir, 'pgbouncer.log')}`,
      '',
    ].join('\n'),
  );
  for (const f of ['userlist.txt', 'pgbouncer.ini']) chownSync(join(bouncerDir, f), pg.uid, pg.gid);
  const bouncer = spawn('pgbouncer', [join(bouncerDir, 'pgbouncer.ini')], {
    stdio: 'ignore',
    detached: true,
    uid: pg.uid,
    gid: pg.gid,
  });
  children.push(bouncer.pid!);
  await waitFor('pgbouncer listening', 10_000, async () => {
    const r = spawnSync('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${bouncerPort}`]);
    return r.status === 0;
  });

  const runs = [
    await measure('direct to PostgreSQL', node.pgPort, env),
    await measure("pgwarden's router (in the agent)", node.router!.writerPort, env, agent, agentIdle),
    await measure('HAProxy 2.6 (TCP)', haproxyPort, env, haproxy.pid),
    await measure('PgBouncer 1.18 (session pooling)', bouncerPort, env, bouncer.pid),
  ];
  const direct = runs[0]!;
  console.log(
    `${RATE} select-only transactions/s, ${CLIENTS} TLS sessions, ${SECONDS} s each; agent idle CPU ${(agentIdle * 100).toFixed(2)} % subtracted`,
  );
  console.log('| path | tps | latency avg | added latency | proxy CPU (% of a core) | proxy RSS |');
  console.log('|---|---|---|---|---|---|');
  for (const r of runs)
    console.log(
      `| ${r.path} | ${r.tps.toFixed(0)} | ${r.latencyMs.toFixed(3)} ms | ${r === direct ? '' : `${(r.latencyMs - direct.latencyMs).toFixed(3)} ms`} | ${r.cpuPercent === undefined ? '' : `${r.cpuPercent.toFixed(1)} %`} | ${r.rssMb === undefined ? '' : `${r.rssMb.toFixed(1)} MB`} |`,
    );
  console.log(JSON.stringify(runs));
} finally {
  for (const pid of children) {
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {}
  }
  await t.destroy();
}
