import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { createDocumentClient } from '../../adapters/dynamodb/client.ts';
import { DynamoDbStore } from '../../adapters/dynamodb/dynamodb-store.ts';
import { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from '../../adapters/dynamodb/embedded-dynamodb.ts';
import { ensureTable } from '../../adapters/dynamodb/ensure-table.ts';
import type { LocalHost, LocalHostDirectory } from '../../adapters/local/local-hosts.ts';
import { SwitchableProxy } from '../../adapters/local/switchable-proxy.ts';
import { AGENT_ENV, AGENT_NODE_FLAGS } from '../../agent/node-flags.ts';
import { type ActionResult, actionArgv } from '../../core/actions/action-parameters.ts';
import type { AgentConfigInput } from '../../core/config/agent-config.ts';
import { type ClusterConfigInput, FAST_PROFILE } from '../../core/config/cluster-config.ts';
import type { AgentAction } from '../../core/decide/steps.ts';
import { freePort } from './free-port.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
/** The agent bundle, built by test/global-setup.ts (what hosts run). */
export const AGENT_BIN = join(ROOT, 'dist/pgwarden-agent.mjs');
export const TEST_PASSWORD = 'pgwarden-test-secret';

export interface TestNode {
  readonly name: string;
  readonly dir: string;
  readonly dataDir: string;
  readonly stateDir: string;
  readonly configPath: string;
  readonly pgPort: number;
  readonly apiPort: number;
  /** This node's own path to DynamoDB: isolate() cuts it off. */
  readonly dynamo: SwitchableProxy;
  pid?: number;
  /** Crashed or force-stopped: the local command bus delivers nothing to it. */
  down?: boolean;
}

export interface ClusterOptions {
  readonly nodes?: number;
  readonly scope?: string;
  readonly dcs?: ClusterConfigInput;
  readonly tags?: Record<string, AgentConfigInput['tags']>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined | false>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Real agents and real PostgreSQL processes on loopback ports, with one embedded DynamoDB. */
export class AgentCluster implements LocalHostDirectory {
  readonly nodes = new Map<string, TestNode>();
  private constructor(
    readonly base: string,
    readonly scope: string,
    readonly db: EmbeddedDynamoDb,
    readonly store: DynamoDbStore,
    readonly table: string,
  ) {}

  static async create(options: ClusterOptions = {}): Promise<AgentCluster> {
    const base = mkdtempSync('/tmp/pgwarden-test-');
    chmodSync(base, 0o755);
    const db = await startEmbeddedDynamoDb();
    const table = 'pgwarden';
    const doc = createDocumentClient({ endpoint: db.endpoint, requestTimeoutMs: 3000 });
    await ensureTable(doc, table);
    const cluster = new AgentCluster(base, options.scope ?? 'test', db, new DynamoDbStore(doc, table), table);
    for (let i = 1; i <= (options.nodes ?? 3); i += 1) await cluster.addNode(`node${i}`, options);
    return cluster;
  }

  async addNode(name: string, options: ClusterOptions = {}): Promise<TestNode> {
    const dir = join(this.base, name);
    mkdirSync(dir, { mode: 0o755 });
    const [pgPort, apiPort] = [await freePort(), await freePort()];
    const dynamo = await new SwitchableProxy({ host: '127.0.0.1', port: this.db.port }).start();
    const node: TestNode = {
      name,
      dir,
      dataDir: join(dir, 'data'),
      stateDir: join(dir, 'state'),
      configPath: join(dir, 'pgwarden.yml'),
      pgPort,
      apiPort,
      dynamo,
    };
    const config: AgentConfigInput = {
      scope: this.scope,
      name,
      restapi: { listen: `127.0.0.1:${apiPort}` },
      postgresql: {
        listen: `127.0.0.1:${pgPort}`,
        data_dir: node.dataDir,
        authentication: { superuser: { password: TEST_PASSWORD }, replication: { password: TEST_PASSWORD } },
        parameters: { shared_buffers: '16MB', max_connections: 30, fsync: 'off' },
      },
      tags: options.tags?.[name] ?? {},
      dynamodb: { table: this.table, endpoint: dynamo.endpoint },
      bootstrap: { dcs: { ...FAST_PROFILE, ...options.dcs } },
      state_dir: node.stateDir,
      log: { level: 'info' },
    };
    writeFileSync(node.configPath, stringify(config));
    this.nodes.set(name, node);
    return node;
  }

  node(name: string): TestNode {
    const node = this.nodes.get(name);
    if (!node) throw new Error(`no node ${name}`);
    return node;
  }

  /** The node as a local host, for the local command bus and fencer. */
  host(member: string): LocalHost | undefined {
    const node = this.nodes.get(member);
    if (!node) return undefined;
    return {
      name: member,
      configPath: node.configPath,
      agentCommand: [process.execPath, ...AGENT_NODE_FLAGS, AGENT_BIN],
      env: { ...AGENT_ENV, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      isUp: () => !node.down,
      livePids: () =>
        [node.pid, this.postmasterPid(member)].filter((p): p is number => p !== undefined && alive(p)),
      markDown: () => {
        node.down = true;
      },
    };
  }

  startAgent(name: string): void {
    const node = this.node(name);
    node.down = false;
    const log = openSync(join(node.dir, 'agent.log'), 'a');
    const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, AGENT_BIN, 'run', '-c', node.configPath], {
      detached: true,
      stdio: ['ignore', log, log],
      env: { ...process.env, ...AGENT_ENV, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    child.unref();
    node.pid = child.pid;
  }

  /** Kills the agent's process group (not PostgreSQL, which runs in its own). */
  stopAgent(name: string, signal: NodeJS.Signals = 'SIGKILL'): void {
    const node = this.node(name);
    if (node.pid) {
      try {
        process.kill(-node.pid, signal);
      } catch {}
    }
    node.pid = undefined;
  }

  postmasterPid(name: string): number | undefined {
    try {
      const pid = Number(
        readFileSync(join(this.node(name).dataDir, 'postmaster.pid'), 'utf8').split('\n')[0],
      );
      process.kill(pid, 0);
      return pid;
    } catch {
      return undefined;
    }
  }

  /** A host crash: SIGKILL the agent and the postmaster together. */
  killHost(name: string): void {
    this.node(name).down = true;
    const pm = this.postmasterPid(name);
    this.stopAgent(name, 'SIGKILL');
    if (pm) {
      try {
        process.kill(pm, 'SIGKILL');
      } catch {}
    }
  }

  async api(name: string, path: string, method = 'GET'): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`http://127.0.0.1:${this.node(name).apiPort}${path}`, {
      method,
      signal: AbortSignal.timeout(3000),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {}
    return { status: res.status, body };
  }

  async sql<T extends pg.QueryResultRow = Record<string, unknown>>(
    name: string,
    text: string,
    params: unknown[] = [],
  ): Promise<T[]> {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: this.node(name).pgPort,
      user: 'postgres',
      password: TEST_PASSWORD,
      database: 'postgres',
      connectionTimeoutMillis: 2000,
      query_timeout: 5000,
    });
    client.on('error', () => {});
    await client.connect();
    try {
      return (await client.query<T>(text, params)).rows;
    } finally {
      await client.end().catch(() => {});
    }
  }

  /** Runs `pgwarden-agent action ...` for a node, as the command bus would. */
  runAction(
    name: string,
    action: AgentAction,
    term: number,
    extra: { leader?: string; standbys?: string[]; cluster?: string } = {},
  ): Promise<{ exitCode: number; result: ActionResult; stderr: string }> {
    const node = this.node(name);
    const argv = actionArgv({ action, cluster: extra.cluster ?? this.scope, term, ...extra });
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [AGENT_BIN, ...argv, '-c', node.configPath], {
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      child.once('error', reject);
      const started = Date.now();
      child.once('close', (code) => {
        if (process.env.PGWARDEN_TEST_DEBUG)
          console.log(`[action] ${name} ${action}: ${Date.now() - started} ms\n${out}`);
        const line = out
          .trim()
          .split('\n')
          .filter((l) => l.startsWith('{"ok"'))
          .at(-1);
        if (!line)
          return reject(new Error(`action ${action} printed no result (exit ${code}): ${out}\n${err}`));
        resolve({ exitCode: code ?? 1, result: JSON.parse(line) as ActionResult, stderr: err });
      });
    });
  }

  waitFor = waitFor;

  /** Starts every agent, the first one first, and waits until it is primary and the others are replicas. */
  async startAll(timeoutMs = 90_000): Promise<void> {
    const [first, ...others] = [...this.nodes.keys()];
    this.startAgent(first!);
    await this.waitForRole(first!, '/primary', timeoutMs);
    for (const name of others) this.startAgent(name);
    for (const name of others) await this.waitForRole(name, '/replica', timeoutMs);
  }

  async waitForRole(name: string, path: '/primary' | '/replica', timeoutMs = 60_000): Promise<void> {
    await waitFor(
      `${name} ${path} = 200`,
      timeoutMs,
      async () => (await this.api(name, path)).status === 200,
    );
  }

  agentLog(name: string): string {
    try {
      return readFileSync(join(this.node(name).dir, 'agent.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async destroy(): Promise<void> {
    for (const name of this.nodes.keys()) this.killHost(name);
    for (const node of this.nodes.values()) await node.dynamo.stop();
    // Let requests that already reached dynalite finish before its database closes.
    await new Promise((r) => setTimeout(r, 300));
    await this.db.stop();
    if (!process.env.PGWARDEN_KEEP_TEST_DIRS) rmSync(this.base, { recursive: true, force: true });
  }
}
