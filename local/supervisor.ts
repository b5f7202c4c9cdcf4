import { existsSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { checkAdoptDirs } from './adopt-dirs.ts';
import { LocalTopology } from './local-topology.ts';
import { type LoopbackLogin, loopbackClient } from './loopback-client.ts';
import { type LocalSettings, type LocalState, SOCKET_FILE, writeState } from './state-file.ts';
import { processAlive, waitFor } from './wait-for.ts';

/** What the control socket lets `pgwarden local` do to a node. */
export const NODE_OPERATIONS = ['kill', 'stop-agent', 'start', 'isolate', 'heal'] as const;
export type NodeOperation = (typeof NODE_OPERATIONS)[number];

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
}

/** Whether a connection through `port` lands on a primary (false: a standby), or undefined. */
async function recovery(port: number, login: LoopbackLogin): Promise<boolean | undefined> {
  const client = loopbackClient(port, login);
  try {
    await client.connect();
    const { rows } = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
    return rows[0]?.r;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * The background process of `pgwarden local up`: it owns the topology (dynalite, agents,
 * controller loop, HAProxy), keeps `state.json` current, and takes node operations and `down`
 * on a Unix socket in the state dir. SIGTERM or SIGINT stops everything, as `down` does.
 */
export class Supervisor {
  private topology: LocalTopology | undefined;
  private server: Server | undefined;
  private readonly state: LocalState;
  private stopping: Promise<string[]> | undefined;

  constructor(
    private readonly dir: string,
    private readonly settings: LocalSettings,
  ) {
    this.state = {
      version: 1,
      dir,
      supervisorPid: process.pid,
      phase: 'starting',
      progress: [],
      settings,
      dynamodb: { endpoint: settings.awsEndpoint ?? 'embedded', embedded: !settings.awsEndpoint },
      password: '',
      user: 'postgres',
      nodes: [],
      updatedAt: new Date().toISOString(),
    };
  }

  private progress(line: string): void {
    log(line);
    this.state.progress.push(line);
    this.save();
  }

  private save(): void {
    const t = this.topology;
    if (t) {
      this.state.password = t.password;
      this.state.user = t.login.user;
      this.state.ca = t.login.ca;
      this.state.nodes = [...t.nodes.values()].map((n) => ({
        name: n.name,
        pgPort: n.pgPort,
        apiPort: n.apiPort,
        dataDir: n.dataDir,
        logPath: n.logPath,
        ...(processAlive(n.pid) ? { agentPid: n.pid } : {}),
        down: n.down === true,
        isolated: n.dynamo.isIsolated,
      }));
      const ep = t.endpoint;
      if (ep) {
        this.state.writer = `${ep.host}:${ep.writerPort}`;
        this.state.reader = `${ep.host}:${ep.readerPort}`;
        if (ep.pid) this.state.haproxyPid = ep.pid;
      }
    }
    this.state.updatedAt = new Date().toISOString();
    writeState(this.dir, this.state);
  }

  async run(): Promise<void> {
    // `down` once, however many signals arrive meanwhile (a process group's, relayed ones).
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      void this.down().then(() => process.exit(0));
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    this.save();
    try {
      await this.listen();
      const s = this.settings;
      const topology = await LocalTopology.create({
        dir: this.dir,
        nodes: s.nodes,
        scope: s.scope,
        table: s.table,
        profile: s.profile,
        sync: s.sync,
        routers: s.routers,
        ...(s.awsEndpoint ? { awsEndpoint: s.awsEndpoint } : {}),
        ...(s.adopt ? { adopt: checkAdoptDirs(s.adopt, this.dir) } : {}),
      });
      this.topology = topology;
      this.state.dynamodb.endpoint = topology.dynamoEndpoint;
      this.progress(
        `DynamoDB: ${s.awsEndpoint ? s.awsEndpoint : `dynalite on ${topology.dynamoEndpoint}`}, table ${s.table}`,
      );
      // HAProxy first: its checks settle (targets down) while the nodes bootstrap.
      const ep = await topology.startEndpoint({ writerPort: s.writerPort, readerPort: s.readerPort });
      const hc = topology.profile.healthCheck;
      const [writerCheck, readerCheck] = s.routers
        ? ['to every router, /router', 'to every router, /router']
        : ['/primary', '/replica'];
      this.progress(
        `HAProxy: writer ${ep.host}:${ep.writerPort} (${writerCheck}), reader ${ep.host}:${ep.readerPort} (${readerCheck}), ` +
          `checks every ${hc.intervalSeconds} s, ${hc.healthyThreshold}/${hc.unhealthyThreshold}`,
      );
      await topology.startAll(180_000, (line) => this.progress(line));
      topology.startController();
      const schedule = topology.profile.schedule;
      this.progress(
        `controller: a Lambda-style invocation every ${schedule.everySeconds} s (killed after ${schedule.timeoutSeconds} s), ticking every ${topology.profile.tickMs / 1000} s; its log is controller.log`,
      );
      await this.waitForEndpoint();
      this.state.phase = 'healthy';
      this.progress('healthy');
    } catch (error) {
      this.state.phase = 'failed';
      this.state.error = (error as Error).message;
      log(`failed: ${(error as Error).stack ?? String(error)}`);
      this.save();
      await this.down('failed');
      process.exit(1);
    }
  }

  /** Until the writer endpoint reaches the primary and the reader a standby (checks have risen). */
  private async waitForEndpoint(): Promise<void> {
    const t = this.topology!;
    const ep = t.endpoint!;
    const hc = t.profile.healthCheck;
    const timeoutMs = (hc.intervalSeconds * (hc.healthyThreshold + hc.unhealthyThreshold) + 30) * 1000;
    await waitFor(
      'the writer endpoint to reach the primary',
      timeoutMs,
      async () => {
        if ((await recovery(ep.writerPort, t.login)) !== false) return false;
        if (t.nodes.size === 1) return true;
        // Several reader connections in a row, all on standbys: the primary has left the reader pool.
        for (let i = 0; i < t.nodes.size * 2; i += 1)
          if ((await recovery(ep.readerPort, t.login)) !== true) return false;
        return true;
      },
      250,
    );
  }

  private listen(): Promise<void> {
    const path = join(this.dir, SOCKET_FILE);
    if (existsSync(path)) rmSync(path);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: Error) => reply(res, 500, { ok: false, message: error.message }));
    });
    return new Promise((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(path, () => resolve());
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://supervisor');
    if (req.method === 'GET' && url.pathname === '/state') return reply(res, 200, this.state);
    if (req.method !== 'POST') return reply(res, 405, { ok: false, message: `${req.method} not allowed` });
    if (url.pathname === '/down') {
      const stopped = await this.down();
      reply(res, 200, { ok: true, message: 'stopped', stopped });
      setTimeout(() => process.exit(0), 100);
      return;
    }
    const match = /^\/nodes\/([^/]+)\/([a-z-]+)$/.exec(url.pathname);
    if (!match) return reply(res, 404, { ok: false, message: `no such operation ${url.pathname}` });
    const [, name, op] = match as unknown as [string, string, string];
    if (!(NODE_OPERATIONS as readonly string[]).includes(op))
      return reply(res, 400, {
        ok: false,
        message: `operation: got ${op}, expected one of ${NODE_OPERATIONS.join(', ')}`,
      });
    const t = this.topology;
    if (!t) return reply(res, 409, { ok: false, message: 'the topology is still starting' });
    if (!t.nodes.has(name))
      return reply(res, 404, {
        ok: false,
        message: `node: got ${name}, expected one of ${[...t.nodes.keys()].join(', ')}`,
      });
    const message = await this.operate(t, name, op as NodeOperation);
    log(`${name}: ${message}`);
    this.save();
    reply(res, 200, { ok: true, message });
  }

  private async operate(t: LocalTopology, name: string, op: NodeOperation): Promise<string> {
    switch (op) {
      case 'kill': {
        const pids = t.killHost(name);
        // SIGKILL is delivered at once but a process takes a moment to exit: answer once it has,
        // so that "host crashed" is true when the command returns.
        await waitFor('the killed processes to exit', 10_000, async () => !pids.some(processAlive), 20);
        return pids.length
          ? `host crashed: SIGKILL to pids ${pids.join(', ')}`
          : 'already down: nothing was running';
      }
      case 'stop-agent': {
        const pid = t.stopAgent(name, 'SIGKILL');
        return pid ? `agent killed (pid ${pid}); PostgreSQL left running` : 'no agent was running';
      }
      case 'start': {
        const before = t.node(name).pid;
        t.startAgent(name);
        const pid = t.node(name).pid;
        return pid === before
          ? `agent already running (pid ${pid})`
          : `agent started (pid ${pid}); it starts PostgreSQL or resumes its role`;
      }
      case 'isolate':
        t.isolate(name);
        return 'cut off from DynamoDB';
      case 'heal': {
        t.heal(name);
        const node = t.node(name);
        if (!node.down) return 'reaches DynamoDB again';
        // As on AWS: the controller fenced it with StopInstances, and a stopped instance stays
        // stopped until someone starts it. Once started, it rejoins as a replica by itself.
        const why =
          node.downBy === 'fencing'
            ? "the controller's fencing stopped the host (as EC2 StopInstances would)"
            : 'the host is down (crashed)';
        return `reaches DynamoDB again, but ${why}: start it with \`pgwarden local start ${name}\`; it then rejoins as a replica by itself`;
      }
    }
  }

  /** Stops everything once, however many ask. */
  down(reason = 'down'): Promise<string[]> {
    this.stopping ??= (async () => {
      if (this.state.phase !== 'failed') this.state.phase = 'stopping';
      this.save();
      log(`stopping (${reason})`);
      const stopped =
        (await this.topology?.stop().catch((e: Error) => [`error while stopping: ${e.message}`])) ?? [];
      for (const line of stopped) log(`stopped ${line}`);
      if (this.state.phase !== 'failed') this.state.phase = 'stopped';
      this.state.nodes = this.state.nodes.map(({ agentPid: _, ...n }) => ({ ...n, down: true }));
      this.state.updatedAt = new Date().toISOString();
      writeState(this.dir, this.state);
      this.server?.close();
      return stopped;
    })();
    return this.stopping;
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
