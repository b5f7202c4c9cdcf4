import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { ssmCommandEnvironment } from '../../adapters/local/local-command-bus.ts';
import { type ActionResult, actionArgv } from '../../core/actions/action-parameters.ts';
import { AGENT_COMMAND } from '../../core/actions/ssm-document.ts';
import type { AgentConfigInput } from '../../core/config/agent-config.ts';
import { type ClusterConfigInput, FAST_PROFILE } from '../../core/config/cluster-config.ts';
import type { AgentAction } from '../../core/decide/steps.ts';
import { AGENT_BUNDLE, type LocalNode, LocalTopology } from '../../local/local-topology.ts';
import { loopbackClient, socketClient } from '../../local/loopback-client.ts';
import { descendants, waitFor } from '../../local/wait-for.ts';

/** The agent bundle, built by test/global-setup.ts (what hosts run). */
export const AGENT_BIN = AGENT_BUNDLE;
export const TEST_PASSWORD = 'pgwarden-test-secret';

export type TestNode = LocalNode;

export interface ClusterOptions {
  readonly nodes?: number;
  readonly scope?: string;
  readonly dcs?: ClusterConfigInput;
  readonly tags?: Record<string, AgentConfigInput['tags']>;
  /** @default 'fast' */
  readonly profile?: 'default' | 'fast';
  readonly sync?: boolean;
  /** The REST API over HTTPS with Basic auth on POST /failsafe (LocalTopologyOptions.restapiTls). */
  readonly restapiTls?: boolean;
  /** Hosts in network namespaces of their own (LocalTopologyOptions.hostNetwork). */
  readonly hostNetwork?: boolean;
  /** Data directories on volumes of this size (LocalTopologyOptions.dataVolumeMb). */
  readonly dataVolumeMb?: number;
  /** A router on every node, HAProxy in front of the routers (LocalTopologyOptions.routers). */
  readonly routers?: boolean;
  /** PostgreSQL parameters on top of the tests' (max_connections 30, fsync off). */
  readonly pgParameters?: Readonly<Record<string, string | number | boolean>>;
}

/**
 * The local topology (real agents, real PostgreSQL, embedded dynalite) in a fresh /tmp directory,
 * with what tests add: SQL, actions run by hand, waits. Nodes run the `fast` profile's timing.
 */
export class AgentCluster extends LocalTopology {
  static override async create(options: ClusterOptions = {}): Promise<AgentCluster> {
    const settings = {
      dir: mkdtempSync('/tmp/pgwarden-test-'),
      nodes: options.nodes ?? 3,
      scope: options.scope ?? 'test',
      profile: options.profile ?? 'fast',
      dcs: { ...(options.profile === 'default' ? {} : FAST_PROFILE), ...options.dcs },
      sync: options.sync ?? false,
      tags: (options.tags ?? {}) as Record<string, NonNullable<AgentConfigInput['tags']>>,
      password: TEST_PASSWORD,
      pgParameters: { max_connections: 30, fsync: 'off', ...options.pgParameters },
      restapiTls: options.restapiTls ?? false,
      hostNetwork: options.hostNetwork ?? false,
      routers: options.routers ?? false,
      ...(options.dataVolumeMb ? { dataVolumeMb: options.dataVolumeMb } : {}),
    };
    const { dir, backend, store, scope, table } = await LocalTopology.prepare(settings);
    const cluster = new AgentCluster(settings, dir, scope, table, backend, store);
    await cluster.init();
    return cluster;
  }

  get base(): string {
    return this.dir;
  }

  /** A hung PostgreSQL: SIGSTOPs a node's postmaster and its children. Returns what resumes them. */
  freezePostgres(name: string): () => void {
    const postmaster = this.postmasterPid(name);
    if (postmaster === undefined) throw new Error(`${name}: PostgreSQL is not running`);
    const pids = [postmaster, ...descendants([postmaster])];
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    return () => {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {}
      }
    };
  }

  /** SQL on a node as the superuser, over its local socket (the superuser has no network login). */
  async sql<T extends pg.QueryResultRow = Record<string, unknown>>(
    name: string,
    text: string,
    params: unknown[] = [],
  ): Promise<T[]> {
    const node = this.node(name);
    const client = socketClient(this.socketDir(name), node.pgPort, { connectMs: 2000, queryMs: 5000 });
    await client.connect();
    try {
      return (await client.query<T>(text, params)).rows;
    } finally {
      await client.end().catch(() => {});
    }
  }

  /** SQL on a node as an application runs it: the application role over verified TLS. */
  async appSql<T extends pg.QueryResultRow = Record<string, unknown>>(
    name: string,
    text: string,
    params: unknown[] = [],
  ): Promise<T[]> {
    const client = loopbackClient(this.node(name).pgPort, this.login, { connectMs: 2000, queryMs: 5000 });
    await client.connect();
    try {
      return (await client.query<T>(text, params)).rows;
    } finally {
      await client.end().catch(() => {});
    }
  }

  /** Runs `pgwarden-agent action ...` on a node as SSM runs it: as root, with SSM's environment. */
  async runAction(
    name: string,
    action: AgentAction,
    term: number,
    extra: { leader?: string; standbys?: string[]; cluster?: string; bundle?: string } = {},
  ): Promise<{ exitCode: number; result: ActionResult; stderr: string }> {
    const node = this.node(name);
    const argv = actionArgv({ action, cluster: extra.cluster ?? this.scope, term, ...extra });
    return new Promise((resolve, reject) => {
      const child = spawn(join(node.dir, AGENT_COMMAND), argv, {
        cwd: '/',
        env: ssmCommandEnvironment(name, node.dir),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      child.once('error', reject);
      child.once('close', (code) => {
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

  /** Changes a node's agent config file (as its operator would), for its next start. */
  editConfig(name: string, edit: (doc: Record<string, Record<string, unknown>>) => void): void {
    const path = this.node(name).configPath;
    const doc = parseYaml(readFileSync(path, 'utf8')) as Record<string, Record<string, unknown>>;
    edit(doc);
    writeFileSync(path, stringifyYaml(doc));
  }

  agentLog(name: string): string {
    try {
      return readFileSync(this.node(name).logPath, 'utf8');
    } catch {
      return '';
    }
  }
}
