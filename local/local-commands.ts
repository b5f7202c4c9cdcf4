import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { CliContext } from '../cli/cli-context.ts';
import { ROLE_WORDS } from '../cli/commands/member-rows.ts';
import { CliError, EXIT } from '../cli/exit-codes.ts';
import type { CliExtensions } from '../cli/main.ts';
import { checkAdoptDirs } from './adopt-dirs.ts';
import { checkReachable } from './check-reachable.ts';
import { registerController } from './controller-command.ts';
import { ensureBundles } from './ensure-bundles.ts';
import {
  defaultLocalDir,
  type LocalSettings,
  type LocalState,
  libpqUri,
  localSettingsSchema,
  readState,
  runningState,
  SETTINGS_FILE,
  SOCKET_FILE,
  STATE_FILE,
  SUPERVISOR_LOG,
  stateLogin,
} from './state-file.ts';
import { NODE_OPERATIONS, type NodeOperation } from './supervisor.ts';
import { registerUpgradeAgent } from './upgrade-agent-command.ts';
import { processAlive } from './wait-for.ts';

const PGWARDEN_BIN = new URL('../bin/pgwarden.js', import.meta.url).pathname;

function intArg(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(
        `${name}: got ${JSON.stringify(value)}, expected an integer ${min}..${max}`,
      );
    return n;
  };
}

/** Talks to the supervisor over its Unix socket. */
function control(dir: string, method: 'GET' | 'POST', path: string, timeoutMs = 60_000) {
  return new Promise<{ status: number; body: Record<string, unknown> }>((resolvePromise, reject) => {
    const req = request({ socketPath: join(dir, SOCKET_FILE), method, path, timeout: timeoutMs }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => {
        text += d.toString();
      });
      res.on('end', () => {
        try {
          resolvePromise({
            status: res.statusCode ?? 500,
            body: JSON.parse(text) as Record<string, unknown>,
          });
        } catch {
          reject(new Error(`the supervisor answered ${res.statusCode} with ${text.slice(0, 200)}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from the supervisor within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

function requireRunning(dir: string): LocalState {
  const state = runningState(dir);
  if (!state)
    throw new CliError(
      `no local topology is running in ${dir} (start one with: pgwarden local up${dir === defaultLocalDir() ? '' : ` --dir ${dir}`})`,
      EXIT.usage,
    );
  return state;
}

function reachable(dir: string): void {
  try {
    checkReachable(dir);
  } catch (error) {
    throw new CliError((error as Error).message, EXIT.usage);
  }
}

/** A state dir may be reused only when it is empty or holds a stopped pgwarden topology. */
function prepareDir(dir: string, out: (line: string) => void): void {
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    reachable(dir);
    return;
  }
  reachable(dir);
  if (!statSync(dir).isDirectory()) throw new CliError(`--dir ${dir}: not a directory`, EXIT.usage);
  const entries = readdirSync(dir);
  if (entries.length === 0) return;
  if (!entries.includes(STATE_FILE) && !entries.includes(SETTINGS_FILE))
    throw new CliError(
      `--dir ${dir}: not empty and not a pgwarden local directory; choose another --dir`,
      EXIT.usage,
    );
  if (runningState(dir))
    throw new CliError(
      `a local topology is already running in ${dir}: see pgwarden local status, or stop it with pgwarden local down`,
      EXIT.refused,
    );
  out(`removing the stopped topology left in ${dir}`);
  for (const entry of entries) rmSync(join(dir, entry), { recursive: true, force: true });
}

async function up(
  dir: string,
  settings: LocalSettings,
  timeoutMs: number,
  ctx: Pick<CliContext, 'out' | 'json'>,
) {
  const out = (line: string) => {
    if (!ctx.json) ctx.out(line);
  };
  prepareDir(dir, out);
  out(`building the agent bundle`);
  await ensureBundles(out);
  writeFileSync(join(dir, SETTINGS_FILE), JSON.stringify(settings, null, 2));
  const logFd = openSync(join(dir, SUPERVISOR_LOG), 'a');
  const child = spawn(process.execPath, [PGWARDEN_BIN, 'local', 'supervise', '--dir', dir], {
    detached: true,
    stdio: ['ignore', logFd, logFd],
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  closeSync(logFd);
  child.unref();
  out(`supervisor started (pid ${child.pid}), log ${join(dir, SUPERVISOR_LOG)}`);
  const deadline = Date.now() + timeoutMs;
  let shown = 0;
  for (;;) {
    let state: LocalState | undefined;
    try {
      state = readState(dir);
    } catch {}
    if (state) {
      for (const line of state.progress.slice(shown)) out(`  ${line}`);
      shown = state.progress.length;
      if (state.phase === 'healthy') return state;
      if (state.phase === 'failed' || state.phase === 'stopped')
        throw new CliError(
          `the local topology failed to start: ${state.error ?? state.phase}\n${tail(dir)}`,
          EXIT.refused,
        );
    }
    if (!processAlive(child.pid))
      throw new CliError(`the supervisor exited before the topology was healthy\n${tail(dir)}`, EXIT.refused);
    if (Date.now() > deadline) {
      try {
        process.kill(child.pid!, 'SIGTERM');
      } catch {}
      throw new CliError(`not healthy after ${timeoutMs / 1000} s; stopping it\n${tail(dir)}`, EXIT.refused);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

function tail(dir: string, lines = 15): string {
  try {
    return readFileSync(join(dir, SUPERVISOR_LOG), 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

interface NodeStatus {
  readonly name: string;
  readonly role: string;
  readonly state: string;
  readonly pg_port: number;
  readonly api_port: number;
  readonly agent_pid: number | null;
  readonly postgres_pid: number | null;
  readonly isolated: boolean;
}

function postmasterPid(dataDir: string): number | null {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return processAlive(pid) ? pid : null;
  } catch {
    return null;
  }
}

async function nodeStatus(node: LocalState['nodes'][number]): Promise<NodeStatus> {
  let role = 'Unknown';
  let state = 'agent not answering';
  try {
    const res = await fetch(`http://127.0.0.1:${node.apiPort}/patroni`, {
      signal: AbortSignal.timeout(2000),
    });
    const body = (await res.json()) as {
      role?: string;
      state?: string;
      sync_standby?: boolean;
      lease?: { holder?: string };
    };
    // The words `pgwarden list` uses (patronictl's), for the lease holder and the others.
    role =
      body.lease?.holder === node.name
        ? ROLE_WORDS.leader
        : body.sync_standby
          ? ROLE_WORDS.sync
          : ROLE_WORDS.replica;
    state = body.state ?? state;
  } catch {}
  return {
    name: node.name,
    role,
    state,
    pg_port: node.pgPort,
    api_port: node.apiPort,
    agent_pid: processAlive(node.agentPid) ? node.agentPid : null,
    postgres_pid: postmasterPid(node.dataDir),
    isolated: node.isolated,
  };
}

function summary(state: LocalState): string[] {
  return [
    `writer endpoint: ${state.writer}   (${libpqUri(state.writer!, stateLogin(state))})`,
    `reader endpoint: ${state.reader}   (${libpqUri(state.reader!, stateLogin(state))})`,
    `cluster ${state.settings.scope}, ${state.settings.nodes} nodes, profile ${state.settings.profile}${state.settings.sync ? ', synchronous' : ''}; DynamoDB ${state.dynamodb.endpoint} table ${state.settings.table}`,
    'try: pgwarden list · pgwarden local status · pgwarden local kill <node> · pgwarden local down',
  ];
}

function dirOption(): Option {
  return new Option('--dir <path>', 'state directory (default: PGWARDEN_LOCAL_DIR or .pgwarden/local)');
}

/** `pgwarden local ...`: the whole topology on this machine, behind a background supervisor. */
export function registerLocal(program: Command, context: () => CliContext): void {
  registerController(program, context);
  registerUpgradeAgent(program, context);
  const local = program
    .command('local')
    .description(
      'run a whole pgwarden topology on this machine: dynalite, PostgreSQL nodes, agents, controller, HAProxy',
    );
  const dirOf = (opts: { dir?: string }) => resolve(opts.dir ?? defaultLocalDir());

  local
    .command('up')
    .description('start a local topology in the background; returns when it is healthy')
    .addOption(new Option('--nodes <n>', 'PostgreSQL nodes').default(3).argParser(intArg('--nodes', 1, 9)))
    .option('--sync', 'synchronous_mode on', false)
    .option(
      '--no-routers',
      'HAProxy straight in front of PostgreSQL (checks on /primary, /replica) instead of a router on every node',
    )
    .addOption(dirOption())
    .option(
      '--aws-endpoint <url>',
      'use this DynamoDB endpoint (LocalStack, moto) instead of embedded dynalite',
    )
    .addOption(
      new Option('--profile <name>', 'timing profile').choices(['default', 'fast']).default('default'),
    )
    .option('--scope <name>', 'cluster name', 'local')
    .option('--table <name>', 'DynamoDB table', 'pgwarden')
    .addOption(
      new Option('--writer-port <port>', 'writer endpoint port (default: a free one)')
        .default(0)
        .argParser(intArg('--writer-port', 1, 65535)),
    )
    .addOption(
      new Option('--reader-port <port>', 'reader endpoint port (default: a free one)')
        .default(0)
        .argParser(intArg('--reader-port', 1, 65535)),
    )
    .addOption(
      new Option('--timeout <seconds>', 'give up when not healthy by then')
        .default(240)
        .argParser(intArg('--timeout', 10, 3600)),
    )
    .option(
      '--adopt <data-dirs...>',
      "adopt these existing data directories of one cluster in place, a node each, the primary's first (running or stopped; nothing is rebuilt)",
    )
    .action(async (opts, command: Command) => {
      const ctx = context();
      const dir = dirOf(opts);
      let adopt: string[] | undefined;
      if (opts.adopt) {
        try {
          adopt = checkAdoptDirs(opts.adopt, dir).map((a) => a.dataDir);
        } catch (error) {
          throw new CliError((error as Error).message, EXIT.usage);
        }
        if (command.getOptionValueSource('nodes') === 'cli' && opts.nodes !== adopt.length)
          throw new CliError(
            `--nodes ${opts.nodes} with ${adopt.length} --adopt directories: leave --nodes out (a node per directory)`,
            EXIT.usage,
          );
      }
      const parsed = localSettingsSchema.safeParse({
        nodes: adopt?.length ?? opts.nodes,
        ...(adopt ? { adopt } : {}),
        sync: opts.sync,
        routers: opts.routers,
        profile: opts.profile,
        scope: opts.scope,
        table: opts.table,
        ...(opts.awsEndpoint ? { awsEndpoint: opts.awsEndpoint } : {}),
        writerPort: opts.writerPort,
        readerPort: opts.readerPort,
      });
      if (!parsed.success)
        throw new CliError(
          parsed.error.issues
            .map(
              (i) => `--${String(i.path[0]).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${i.message}`,
            )
            .join('; '),
          EXIT.usage,
        );
      const state = await up(dir, parsed.data, opts.timeout * 1000, ctx);
      if (ctx.json) ctx.out(JSON.stringify(await statusJson(state)));
      else for (const line of summary(state)) ctx.out(line);
    });

  local
    .command('supervise', { hidden: true })
    .description('the background supervisor (started by local up)')
    .addOption(dirOption())
    .action(async (opts) => {
      const dir = dirOf(opts);
      const raw = JSON.parse(readFileSync(join(dir, SETTINGS_FILE), 'utf8'));
      const settings = localSettingsSchema.parse(raw);
      const { Supervisor } = await import('./supervisor.ts');
      await new Supervisor(dir, settings).run();
      // Runs until down or a signal; those exit the process.
      await new Promise(() => {});
    });

  local
    .command('status')
    .description('the endpoints, the DSN and every node: role, ports, PIDs')
    .addOption(dirOption())
    .action(async (opts) => {
      const ctx = context();
      const state = requireRunning(dirOf(opts));
      const status = await statusJson(state);
      if (ctx.json) {
        ctx.out(JSON.stringify(status));
        return;
      }
      ctx.out(`phase: ${state.phase}  (supervisor pid ${state.supervisorPid}, dir ${state.dir})`);
      for (const line of summary(state).slice(0, 3)) ctx.out(line);
      const rows = status.nodes.map((n) => [
        n.name,
        n.role,
        n.state,
        String(n.pg_port),
        String(n.api_port),
        n.agent_pid ? String(n.agent_pid) : '-',
        n.postgres_pid ? String(n.postgres_pid) : '-',
        n.isolated ? 'isolated' : '',
      ]);
      const header = ['Node', 'Role', 'State', 'PG port', 'API port', 'Agent PID', 'Postgres PID', ''];
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      for (const row of [header, ...rows])
        ctx.out(
          row
            .map((c, i) => c.padEnd(widths[i]!))
            .join('  ')
            .trimEnd(),
        );
    });

  const descriptions: Record<NodeOperation, string> = {
    kill: 'host crash: SIGKILL the agent and the postmaster together',
    'stop-agent': 'the agent dies; PostgreSQL keeps running',
    start: 'start the node again (its agent, which starts PostgreSQL)',
    isolate: "cut the node's agent off from DynamoDB",
    heal: "let the node's agent reach DynamoDB again",
  };
  for (const op of NODE_OPERATIONS) {
    local
      .command(op)
      .description(descriptions[op])
      .argument('<node>', 'node name, e.g. node1')
      .addOption(dirOption())
      .action(async (node: string, opts) => {
        const ctx = context();
        const dir = dirOf(opts);
        requireRunning(dir);
        const { status, body } = await control(dir, 'POST', `/nodes/${encodeURIComponent(node)}/${op}`);
        if (status !== 200)
          throw new CliError(String(body.message), status === 404 ? EXIT.usage : EXIT.refused);
        ctx.out(ctx.json ? JSON.stringify({ node, operation: op, ...body }) : `${node}: ${body.message}`);
      });
  }

  local
    .command('down')
    .description('stop everything the local topology started (by PID) and remove its data')
    .addOption(dirOption())
    .option('--keep', 'keep the data directories and logs', false)
    .action(async (opts: { dir?: string; keep: boolean }) => {
      const ctx = context();
      const dir = dirOf(opts);
      const lines = await down(dir);
      for (const line of lines) ctx.out(line);
      if (!opts.keep && existsSync(join(dir, STATE_FILE))) {
        rmSync(dir, { recursive: true, force: true });
        ctx.out(`removed ${dir}`);
      }
    });
}

/** Asks the supervisor to stop everything; when it is gone, stops the PIDs it recorded. */
async function down(dir: string): Promise<string[]> {
  const state = readState(dir);
  if (!state) throw new CliError(`no local topology in ${dir}`, EXIT.usage);
  if (processAlive(state.supervisorPid)) {
    const { body } = await control(dir, 'POST', '/down', 120_000);
    await new Promise((r) => setTimeout(r, 200));
    return [
      'stopped:',
      ...(body.stopped as string[]).map((l) => `  ${l}`),
      `  supervisor (pid ${state.supervisorPid})`,
    ];
  }
  // The supervisor died: stop what it recorded, checking each PID still belongs to this topology.
  const lines = ['the supervisor is gone; stopping the processes it recorded:'];
  const own = (pid: number | undefined | null, needle: string): pid is number => {
    if (!processAlive(pid ?? undefined)) return false;
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle);
    } catch {
      return false;
    }
  };
  if (own(state.haproxyPid, dir)) {
    process.kill(state.haproxyPid, 'SIGTERM');
    lines.push(`  haproxy (pid ${state.haproxyPid})`);
  }
  for (const node of state.nodes) {
    if (own(node.agentPid, dir)) {
      process.kill(-node.agentPid, 'SIGKILL');
      lines.push(`  ${node.name}: agent (pid ${node.agentPid})`);
    }
    const pm = postmasterPid(node.dataDir);
    if (pm !== null && own(pm, 'postgres')) {
      process.kill(pm, 'SIGINT');
      lines.push(`  ${node.name}: postgres (pid ${pm})`);
    }
  }
  if (lines.length === 1) lines.push('  nothing was running');
  return lines;
}

async function statusJson(state: LocalState) {
  return {
    phase: state.phase,
    dir: state.dir,
    supervisor_pid: state.supervisorPid,
    cluster: state.settings.scope,
    profile: state.settings.profile,
    synchronous: state.settings.sync,
    dynamodb_endpoint: state.dynamodb.endpoint,
    table: state.settings.table,
    writer: state.writer,
    reader: state.reader,
    haproxy_pid: state.haproxyPid ?? null,
    dsn: state.writer ? libpqUri(state.writer, stateLogin(state)) : null,
    reader_dsn: state.reader ? libpqUri(state.reader, stateLogin(state)) : null,
    nodes: await Promise.all(state.nodes.map(nodeStatus)),
  };
}

/** The CLI's local extension: the `local` commands, and a running topology's table, endpoint and scope as defaults. */
export const localExtensions: CliExtensions = {
  register: registerLocal,
  defaults() {
    const dir = defaultLocalDir();
    const state = runningState(dir);
    if (!state || state.phase !== 'healthy') {
      if (!process.env.PGWARDEN_LOCAL_DIR) return {};
      const why = state ? `it is ${state.phase}, not healthy yet` : 'nothing runs there';
      return {
        unavailable: `PGWARDEN_LOCAL_DIR is ${dir}, but no local topology is running there (${why}): start one with \`pgwarden local up\`, or unset PGWARDEN_LOCAL_DIR`,
      };
    }
    return {
      table: state.settings.table,
      endpoint: state.dynamodb.endpoint,
      scope: state.settings.scope,
      ...(state.writer ? { writer: state.writer } : {}),
      ...(state.reader ? { reader: state.reader } : {}),
    };
  },
};
