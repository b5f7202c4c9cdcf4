import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { basename, join, resolve } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { stringify } from 'yaml';
import { createDocumentClient, sdkDocuments } from '../adapters/dynamodb/client.ts';
import { DynamoDbStore } from '../adapters/dynamodb/dynamodb-store.ts';
import { ensureTable } from '../adapters/dynamodb/ensure-table.ts';
import { type EndpointPorts, HaproxyEndpoint } from '../adapters/local/haproxy-endpoint.ts';
import { LocalCloudServer } from '../adapters/local/local-cloud.ts';
import { LocalCommandBus } from '../adapters/local/local-command-bus.ts';
import { LocalFencer } from '../adapters/local/local-fencer.ts';
import type { LocalHost, LocalHostDirectory } from '../adapters/local/local-hosts.ts';
import { LogNotifier } from '../adapters/local/log-notifier.ts';
import { SwitchableProxy } from '../adapters/local/switchable-proxy.ts';
import { createAuthority, type PemPair } from '../adapters/tls/certificates.ts';
import {
  APP_ROLE,
  type HostLayout,
  hostFiles,
  hostSecurityConfig,
  rootedLayout,
} from '../agent/host/host-layout.ts';
import { resolvePgUser } from '../agent/os-user.ts';
import { readAuthority, tlsFiles, writeHostCertificate } from '../agent/tls/host-certificate.ts';
import type { AgentConfigInput } from '../core/config/agent-config.ts';
import { type ClusterConfigInput, parseClusterConfig } from '../core/config/cluster-config.ts';
import { controllerEnvironment } from '../core/controller/controller-environment.ts';
import type { InvocationSchedule } from '../core/controller/invocation-schedule.ts';
import type { CommandBus } from '../core/ports/command-bus.ts';
import type { CoordinationStore } from '../core/store/coordination-store.ts';
import { Controller } from '../functions/controller/controller.ts';
import { runControllerLoop } from '../functions/controller/run-loop.ts';
import type { AdoptedDir } from './adopt-dirs.ts';
import { checkReachable } from './check-reachable.ts';
import { DataVolume } from './data-volume.ts';
import { type DynamoBackend, dynamoBackend } from './dynamo-backend.ts';
import { freePort } from './free-port.ts';
import { HostNetwork, hostNetworkUnavailable } from './host-network.ts';
import { installHost } from './install-host.ts';
import { LocalLambda } from './local-lambda.ts';
import { LOCAL_PROFILES, type LocalProfile, type LocalProfileName } from './local-profiles.ts';
import { installLocalSystemctl } from './local-systemctl.ts';
import { LocalUnit } from './local-unit.ts';
import type { LoopbackLogin } from './loopback-client.ts';
import { descendants, processAlive, waitFor } from './wait-for.ts';

/** The agent bundle (`npm run build:agent`): what EC2 hosts run, and what local hosts run. */
export const AGENT_BUNDLE = new URL('../dist/pgwarden-agent.mjs', import.meta.url).pathname;

type AgentTags = NonNullable<AgentConfigInput['tags']>;

export interface LocalTopologyOptions {
  /** Where data, configs and logs go; created when missing. */
  readonly dir: string;
  /** @default 3 */
  readonly nodes?: number;
  /** The cluster name (scope). @default 'local' */
  readonly scope?: string;
  /** @default 'pgwarden' */
  readonly table?: string;
  /** @default 'default' */
  readonly profile?: LocalProfileName;
  /** synchronous_mode on. @default false */
  readonly sync?: boolean;
  /** Cluster config on top of the profile's. */
  readonly dcs?: ClusterConfigInput;
  /** Tags per node name. */
  readonly tags?: Readonly<Record<string, AgentTags>>;
  /** A DynamoDB endpoint (LocalStack, moto); default: dynalite embedded in this process. */
  readonly awsEndpoint?: string;
  /** Password of the superuser and the replication user. @default random */
  readonly password?: string;
  /** PostgreSQL parameters of every node. */
  readonly pgParameters?: Readonly<Record<string, string | number | boolean>>;
  /** The agent bundle installed on every host. @default AGENT_BUNDLE */
  readonly agentBundle?: string;
  /** @default 'info' */
  readonly logLevel?: string;
  /**
   * The REST API over HTTPS from the topology's CA (restapi.certfile, cafile, verify_client
   * optional) with Basic auth on POST /failsafe, as a Patroni file may ask. @default false
   */
  readonly restapiTls?: boolean;
  /**
   * Existing data directories of one cluster, the primary's first (local/adopt-dirs.ts): a node
   * each, adopted in place by its agent (DESIGN §5) instead of initdb and base backups.
   */
  readonly adopt?: readonly AdoptedDir[];
  /**
   * Each host in a network namespace of its own, with its own address on a bridge
   * (local/host-network.ts): partitions are real. Needs root, `ip netns` and `nft`. @default false
   */
  readonly hostNetwork?: boolean;
  /**
   * Each host's data directory on a volume of this size (a tmpfs: local/data-volume.ts), so that
   * it can fill up. Needs root. @default none (the data directory is a plain directory)
   */
  readonly dataVolumeMb?: number;
  /**
   * A router on every node (issue #17), and HAProxy (the NLB) in front of the routers, checked on
   * `/router`, instead of in front of PostgreSQL. @default false
   */
  readonly routers?: boolean;
}

export interface LocalNode {
  readonly name: string;
  /** The host's root: its files are under it at the paths an EC2 host has them. */
  readonly dir: string;
  readonly layout: HostLayout;
  /** The agent's systemd unit, run as systemd runs it. */
  readonly unit: LocalUnit;
  readonly dataDir: string;
  readonly stateDir: string;
  readonly configPath: string;
  readonly logPath: string;
  readonly pgPort: number;
  readonly apiPort: number;
  /** With `routers`: this host's router listeners (issue #17). */
  readonly router?: { readonly writerPort: number; readonly readerPort: number };
  /** This node's own path to DynamoDB: isolate() cuts it off. */
  readonly dynamo: SwitchableProxy;
  /** How the other members reach its REST API (failsafe pings): `cutApi()` partitions it. */
  readonly peerApi: SwitchableProxy;
  /** The agent's PID (leader of its process group). */
  pid?: number;
  /** Crashed or force-stopped: the local command bus delivers nothing to it. */
  down?: boolean;
  /** Why it is down: a crash (`kill`), or the controller's fencing (a stopped instance). */
  downBy?: 'crash' | 'fencing' | 'stop';
  /** With a host network: its namespace and address; 127.0.0.1:pgPort/apiPort forward to it. */
  readonly network?: { readonly netns: string; readonly ip: string; readonly forwarders: SwitchableProxy[] };
  /** With `dataVolumeMb`: the volume its data directory is on. */
  readonly volume?: DataVolume;
}

export interface RunningController {
  /** What the controller notified (the local SNS topic: every controller of this topology). */
  readonly notifier: LogNotifier;
  /** The Lambda-style invocations, unless it runs as one loop in this process. */
  readonly lambda?: LocalLambda;
  stop(): Promise<void>;
}

/** One HTTPS request that verifies the server against `ca`, bounded by 3 s. */
function httpsGet(url: string, method: string, ca: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method, ca, timeout: 3000 }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => {
        text += d.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within 3000 ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** The file name of the local stand-in for SSM, EC2 and SNS, in the topology's directory. */
export const LOCAL_CLOUD_SOCKET = 'cloud.sock';

/** Debian's libfaketime (package faketime), for hosts whose wall clock is wrong. */
export const FAKETIME_LIBRARY = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

/**
 * A whole pgwarden topology on one machine (DESIGN §1, §8): DynamoDB (embedded dynalite or an
 * endpoint), N real PostgreSQL nodes each with its agent, the controller's loop with the local
 * command bus and fencer, and HAProxy standing in for the NLB. Every process it starts it knows
 * by PID and stops by PID.
 */
export class LocalTopology implements LocalHostDirectory {
  readonly nodes = new Map<string, LocalNode>();
  readonly profile: LocalProfile;
  readonly password: string;
  /** The cluster's shared secret that signs failsafe pings, kept in the topology's directory. */
  readonly failsafeSecret: string;
  /** How clients log in to the nodes and endpoints: the application role over verified TLS. */
  readonly login: LoopbackLogin;
  private authorityPromise: Promise<PemPair> | undefined;
  private endpointProcess: HaproxyEndpoint | undefined;
  private endpointPorts: EndpointPorts | undefined;
  private controllers: RunningController[] = [];
  /** SSM Run Command of this topology: actions run as root, outliving whoever sent them. */
  readonly commandBus = new LocalCommandBus(this);
  /** EC2 of this topology: instance state and forced stops. */
  readonly fencer = new LocalFencer(this);
  private cloud: LocalCloudServer | undefined;
  /** The controller's own path to DynamoDB: `isolateController()` cuts it off. */
  private controllerDynamo: SwitchableProxy | undefined;
  private cloudNotifier: LogNotifier | undefined;
  /** The hosts' own network, with `hostNetwork`. */
  readonly network: HostNetwork | undefined;

  protected constructor(
    readonly options: LocalTopologyOptions,
    readonly dir: string,
    readonly scope: string,
    readonly table: string,
    private readonly backend: DynamoBackend,
    readonly store: DynamoDbStore,
  ) {
    this.profile = LOCAL_PROFILES[options.profile ?? 'default'];
    this.password = options.password ?? randomBytes(12).toString('base64url');
    this.failsafeSecret = LocalTopology.failsafeSecretOf(dir);
    this.login = { user: APP_ROLE, password: this.password, ca: join(dir, 'tls', 'ca.crt') };
    if (options.hostNetwork) {
      const why = hostNetworkUnavailable();
      if (why) throw new Error(`hostNetwork: ${why}`);
      this.network = new HostNetwork();
    }
  }

  /**
   * The topology's certificate authority (`tls/authority.json`, 0600; `tls/ca.crt` for clients),
   * made on first use: what the stack's CA secret is to EC2 hosts.
   */
  private authority(): Promise<PemPair> {
    this.authorityPromise ??= (async () => {
      const path = join(this.dir, 'tls', 'authority.json');
      if (!existsSync(path)) {
        mkdirSync(join(this.dir, 'tls'), { recursive: true, mode: 0o755 });
        const authority = await createAuthority(`pgwarden ${this.scope} local CA`);
        writeFileSync(path, JSON.stringify(authority), { mode: 0o600 });
        writeFileSync(this.login.ca!, authority.cert, { mode: 0o644 });
      }
      return readAuthority(path);
    })();
    return this.authorityPromise;
  }

  /** The failsafe secret of the topology in `dir` (`failsafe.secret`, 0600), made on first use. */
  static failsafeSecretOf(dir: string): string {
    const path = join(dir, 'failsafe.secret');
    if (!existsSync(path)) writeFileSync(path, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
    return readFileSync(path, 'utf8').trim();
  }

  static async create(options: LocalTopologyOptions): Promise<LocalTopology> {
    const { dir, backend, store, scope, table } = await LocalTopology.prepare(options);
    const topology = new LocalTopology(options, dir, scope, table, backend, store);
    await topology.init();
    return topology;
  }

  /** Adds the nodes and opens the local cloud (SSM, EC2, SNS) that controllers call. */
  protected async init(): Promise<void> {
    this.network?.create();
    await this.addNodes();
    this.controllerDynamo = await new SwitchableProxy({
      host: this.backend.host,
      port: this.backend.port,
    }).start();
    this.cloudNotifier = new LogNotifier(new Logger({ serviceName: 'local-sns', logLevel: 'WARN' }));
    this.cloud = new LocalCloudServer({
      bus: this.commandBus,
      fencer: this.fencer,
      notifier: this.cloudNotifier,
      units: { restart: (host, unit) => this.restartUnit(host, unit) },
    });
    await this.cloud.listen(join(this.dir, LOCAL_CLOUD_SOCKET));
  }

  protected static async prepare(options: LocalTopologyOptions) {
    const dir = resolve(options.dir);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    chmodSync(dir, 0o755);
    checkReachable(dir);
    const backend = await dynamoBackend(options.awsEndpoint);
    const table = options.table ?? 'pgwarden';
    const scope = options.scope ?? 'local';
    const doc = createDocumentClient({ endpoint: backend.endpoint, requestTimeoutMs: 3000 });
    await ensureTable(doc, table);
    const store = new DynamoDbStore(sdkDocuments(doc), table);
    // A shared endpoint may hold a previous run's items: a new cluster starts from none.
    if (!backend.embedded) await store.removeCluster(scope);
    return { dir, backend, store, scope, table };
  }

  protected async addNodes(): Promise<void> {
    const adopt = this.options.adopt;
    const count = adopt?.length ?? this.options.nodes ?? 3;
    for (let i = 1; i <= count; i += 1) await this.addNode(`node${i}`, undefined, adopt?.[i - 1]);
  }

  get dynamoEndpoint(): string {
    return this.backend.endpoint;
  }

  async addNode(
    name: string,
    tags: AgentTags = this.options.tags?.[name] ?? {},
    adopted?: AdoptedDir,
  ): Promise<LocalNode> {
    const dir = join(this.dir, name);
    mkdirSync(dir, { mode: 0o755, recursive: true });
    // An adopted server that runs keeps its port: the agent takes it over without a restart.
    const [pgPort, apiPort] = [adopted?.runningPort ?? (await freePort()), await freePort()];
    // With a host network the host lives at its own address; what it reaches outside (DynamoDB,
    // its peers' APIs) listens on the bridge's, and this machine reaches it through forwarders
    // on 127.0.0.1 with the same ports (clients, HAProxy and tests need not know).
    const address = this.network?.addHost(name, this.nodes.size + 1);
    const hostIp = address?.ip ?? '127.0.0.1';
    const outside = this.network?.gateway ?? '127.0.0.1';
    const dynamo = await new SwitchableProxy(
      { host: this.backend.host, port: this.backend.port },
      0,
      outside,
    ).start();
    const peerApi = await new SwitchableProxy({ host: hostIp, port: apiPort }, 0, outside).start();
    const router = this.options.routers
      ? { writerPort: await freePort(), readerPort: await freePort() }
      : undefined;
    const forwarded = [pgPort, apiPort, ...(router ? [router.writerPort, router.readerPort] : [])];
    const forwarders = address
      ? await Promise.all(forwarded.map((port) => new SwitchableProxy({ host: hostIp, port }, port).start()))
      : [];
    const layout = {
      ...rootedLayout(dir, process.execPath),
      ...(adopted ? { dataDir: adopted.dataDir } : {}),
    };
    const volume =
      this.options.dataVolumeMb && !adopted
        ? new DataVolume(layout.dataDir, this.options.dataVolumeMb)
        : undefined;
    volume?.mount(resolvePgUser('postgres'));
    const node: LocalNode = {
      name,
      dir,
      layout,
      unit: new LocalUnit(layout.unitFile, `${basename(this.dir)}.${name}`),
      dataDir: layout.dataDir,
      stateDir: layout.stateDir,
      configPath: layout.configFile,
      logPath: join(dir, 'agent.log'),
      pgPort,
      apiPort,
      ...(router ? { router } : {}),
      dynamo,
      peerApi,
      ...(address ? { network: { ...address, forwarders } } : {}),
      ...(volume ? { volume } : {}),
    };
    node.unit.netns = address?.netns;
    // The host's certificate, as its boot issues it on EC2 (pgwarden-agent issue-certificate).
    const pgUser = resolvePgUser('postgres');
    await writeHostCertificate({
      authority: await this.authority(),
      dir: layout.tlsDir,
      name,
      ips: [...new Set(['127.0.0.1', hostIp])],
      dnsNames: ['localhost'],
      owner: pgUser,
    });
    const security = hostSecurityConfig(layout);
    const config: AgentConfigInput = {
      scope: this.scope,
      name,
      restapi: {
        listen: `${hostIp}:${apiPort}`,
        connect_address: `${outside}:${peerApi.port}`,
        ...(this.options.restapiTls
          ? {
              certfile: tlsFiles(layout.tlsDir).cert,
              keyfile: tlsFiles(layout.tlsDir).key,
              cafile: tlsFiles(layout.tlsDir).ca,
              verify_client: 'optional' as const,
              authentication: { username: 'patroni', password: this.password },
            }
          : {}),
      },
      postgresql: {
        listen: `${hostIp}:${pgPort}`,
        data_dir: node.dataDir,
        parameters: {
          shared_buffers: '16MB',
          max_connections: 40,
          ...security.parameters,
          ...this.options.pgParameters,
        },
        authentication: security.authentication,
      },
      tags,
      ...(router
        ? {
            router: {
              enabled: true,
              listen: hostIp,
              writer_port: router.writerPort,
              reader_port: router.readerPort,
            },
          }
        : {}),
      dynamodb: { table: this.table, endpoint: dynamo.endpoint },
      bootstrap: {
        post_bootstrap: security.post_bootstrap,
        dcs: {
          ...this.profile.dcs,
          ...(this.options.sync ? { synchronous_mode: true } : {}),
          ...this.options.dcs,
        },
      },
      state_dir: node.stateDir,
      log: { level: (this.options.logLevel ?? 'info') as 'info' },
    };
    // The passwords reach the agent as they do on EC2: through agent.env, not the YAML.
    const files = hostFiles(layout, {
      config: stringify(config),
      secrets: {
        superuser: this.password,
        replication: this.password,
        rewind: this.password,
        app: this.password,
        failsafe: this.failsafeSecret,
      },
    });
    installHost(layout, files, this.options.agentBundle ?? AGENT_BUNDLE, pgUser);
    installLocalSystemctl(join(dir, 'usr/local/sbin/systemctl'), name, join(this.dir, LOCAL_CLOUD_SOCKET));
    this.nodes.set(name, node);
    return node;
  }

  node(name: string): LocalNode {
    const node = this.nodes.get(name);
    if (!node)
      throw new Error(`no node ${JSON.stringify(name)} (nodes: ${[...this.nodes.keys()].join(', ')})`);
    return node;
  }

  /** The node as a local host, for the local command bus and fencer. */
  host(member: string): LocalHost | undefined {
    const node = this.nodes.get(member);
    if (!node) return undefined;
    return {
      name: member,
      root: node.dir,
      isUp: () => !node.down,
      ...(node.network
        ? { netns: node.network.netns, isReachable: () => this.network?.isLinkUp(member) ?? true }
        : {}),
      livePids: () => [...this.hostPids(member), ...this.commandBus.runningOn(member)],
      markDown: () => {
        node.down = true;
        node.downBy = 'fencing';
      },
    };
  }

  /**
   * Starts a node's agent (which starts its PostgreSQL): a host coming up. The agent runs from
   * its systemd unit as systemd runs it: as `postgres`, with the unit's environment.
   */
  startAgent(name: string, env: Readonly<Record<string, string>> = {}): void {
    const node = this.node(name);
    if (processAlive(node.pid)) return;
    node.down = false;
    node.downBy = undefined;
    const log = openSync(node.logPath, 'a');
    node.pid = node.unit.start(log, env);
  }

  /** Kills the agent's process group (not PostgreSQL, which runs in its own). */
  stopAgent(name: string, signal: NodeJS.Signals = 'SIGKILL'): number | undefined {
    const node = this.node(name);
    const pid = node.pid;
    if (processAlive(pid)) {
      try {
        process.kill(-pid, signal);
      } catch {}
    }
    node.pid = undefined;
    return pid;
  }

  postmasterPid(name: string): number | undefined {
    try {
      const pid = Number(
        readFileSync(join(this.node(name).dataDir, 'postmaster.pid'), 'utf8').split('\n')[0],
      );
      return processAlive(pid) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * The host's processes: its agent's unit (its control group), its postmaster, and everything
   * any of them started that still runs.
   */
  hostPids(name: string): number[] {
    const node = this.node(name);
    const roots = [...new Set([node.pid, this.postmasterPid(name), ...node.unit.pids()])].filter(
      processAlive,
    );
    return [...new Set([...roots, ...descendants(roots)])];
  }

  /**
   * A host crash: SIGKILL the agent and the postmaster together (and whatever they started:
   * pg_ctl, backups, actions). Returns the agent's and the postmaster's PIDs. A PostgreSQL that an
   * interrupted pg_ctl still brings up is killed too, while the host stays down.
   */
  killHost(name: string): number[] {
    const node = this.node(name);
    node.down = true;
    node.downBy ??= 'crash';
    const pm = this.postmasterPid(name);
    const agent = node.pid;
    const all = this.hostPids(name);
    this.stopAgent(name, 'SIGKILL');
    for (const pid of all) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    for (const delay of [300, 1000, 2500]) {
      setTimeout(() => {
        const late = node.down && !processAlive(node.pid) ? this.postmasterPid(name) : undefined;
        if (late) process.kill(late, 'SIGKILL');
      }, delay).unref();
    }
    return [agent, pm].filter((p): p is number => p !== undefined && all.includes(p));
  }

  /** A host's network cut off entirely (its link down: DynamoDB, peers, clients), or back. */
  partition(name: string, cut = true): void {
    if (!this.network) throw new Error('partition: this topology has no host network (hostNetwork)');
    this.network.setLink(name, !cut);
  }

  /**
   * Drops a host's traffic with some of its peers, at its own packet filter: both ways, or only
   * what arrives from them (asymmetric). `peers` empty lifts it.
   */
  cutFromPeers(name: string, peers: readonly string[], direction: 'both' | 'inbound' = 'both'): void {
    if (!this.network) throw new Error('cutFromPeers: this topology has no host network (hostNetwork)');
    this.network.block(
      name,
      peers.map((p) => this.network!.address(p).ip),
      direction,
    );
  }

  /** The controller (every invocation) loses DynamoDB, or gets it back. */
  isolateController(isolated = true): void {
    if (isolated) this.controllerDynamo?.isolate();
    else this.controllerDynamo?.heal();
  }

  /**
   * DynamoDB has a bad day for everyone (every agent and the controller): slow by `latencyMs`
   * each way, or failing `errorRate` of its requests with HTTP 500. heal() and isolateController(false) end it.
   */
  degradeStore(options: { latencyMs?: number; errorRate?: number; random?: () => number }): void {
    for (const node of this.nodes.values()) node.dynamo.degrade(options);
    this.controllerDynamo?.degrade(options);
  }

  /** The node's agent loses DynamoDB (connections dropped, new ones unanswered). */
  isolate(name: string): void {
    this.node(name).dynamo.isolate();
  }

  /** The other members can no longer reach this node's REST API (or can again). */
  cutApi(name: string, cut = true): void {
    if (cut) this.node(name).peerApi.isolate();
    else this.node(name).peerApi.heal();
  }

  heal(name: string): void {
    this.node(name).dynamo.heal();
  }

  /**
   * `systemctl restart pgwarden-agent` on a local host, as systemd does it: every process of the
   * unit gets SIGINT (KillMode=control-group; PostgreSQL does a fast shutdown), SIGKILL after
   * TimeoutStopSec (30 s), then ExecStart again; returns once the agent answers (Type=notify).
   */
  async restartUnit(name: string, unit: string): Promise<void> {
    if (unit !== 'pgwarden-agent') throw new Error(`${name}: no unit ${unit} on a local host`);
    const node = this.node(name);
    const pids = this.hostPids(name);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGINT');
      } catch {}
    }
    const gone = await waitFor('the unit to stop', 30_000, async () => !pids.some(processAlive), 50).catch(
      () => false,
    );
    if (gone === false) for (const pid of pids.filter(processAlive)) process.kill(pid, 'SIGKILL');
    node.pid = undefined;
    this.startAgent(name);
    await waitFor(`${name}'s agent to answer`, 60_000, async () => {
      const res = await fetch(`http://127.0.0.1:${node.apiPort}/liveness`, {
        signal: AbortSignal.timeout(1000),
      }).catch(() => undefined);
      return res !== undefined;
    });
  }

  /**
   * The host is replaced by a new instance with an empty volume (CDK: a new launch-template
   * version, docs/operations.md): the old one is gone, its data and state directories are empty,
   * its other files are what the user data writes (the same here). Start it with startAgent(): it
   * joins as a replica by itself.
   */
  async replaceHost(name: string): Promise<void> {
    const node = this.node(name);
    const pids = this.killHost(name);
    await waitFor(`${name}'s processes to exit`, 10_000, async () => !pids.some(processAlive), 20);
    for (const dir of [node.dataDir, node.stateDir])
      for (const entry of readdirSync(dir)) rmSync(join(dir, entry), { recursive: true, force: true });
  }

  /**
   * A host whose wall clock is `offsetSeconds` off (negative: slow), as a drop-in of its agent's
   * unit would set it (libfaketime; the monotonic clock stays true, as on a real host). Takes
   * effect at the agent's next start; 0 removes it. Host clocks must never matter (DESIGN §3).
   */
  skewClock(name: string, offsetSeconds: number): void {
    const dir = `${this.node(name).unit.unitFile}.d`;
    const file = join(dir, 'clock-skew.conf');
    if (offsetSeconds === 0) {
      rmSync(file, { force: true });
      return;
    }
    if (!existsSync(FAKETIME_LIBRARY))
      throw new Error(`skewClock needs libfaketime (${FAKETIME_LIBRARY}): apt-get install faketime`);
    mkdirSync(dir, { recursive: true });
    const sign = offsetSeconds > 0 ? '+' : '-';
    writeFileSync(
      file,
      `[Service]\nEnvironment=LD_PRELOAD=${FAKETIME_LIBRARY} FAKETIME=${sign}${Math.abs(offsetSeconds)}s FAKETIME_DONT_FAKE_MONOTONIC=1\n`,
    );
  }

  async api(name: string, path: string, method = 'GET'): Promise<{ status: number; body: unknown }> {
    const port = this.node(name).apiPort;
    const { status, text } = this.options.restapiTls
      ? await httpsGet(`https://127.0.0.1:${port}${path}`, method, readFileSync(this.login.ca!, 'utf8'))
      : await fetch(`http://127.0.0.1:${port}${path}`, { method, signal: AbortSignal.timeout(3000) }).then(
          async (res) => ({ status: res.status, text: await res.text() }),
        );
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {}
    return { status, body };
  }

  async waitForRole(name: string, path: '/primary' | '/replica', timeoutMs = 60_000): Promise<void> {
    await waitFor(
      `${name} ${path} = 200`,
      timeoutMs,
      async () => (await this.api(name, path)).status === 200,
    );
  }

  /**
   * Starts every agent, the first one first, and waits (`timeoutMs` in all, less than a test's
   * limit so that a slow node is named) until it is primary and the others are streaming
   * replicas. `progress` hears each step.
   */
  async startAll(timeoutMs = 90_000, progress: (line: string) => void = () => {}): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const left = () => Math.max(1, deadline - Date.now());
    const [first, ...others] = [...this.nodes.keys()];
    const adopt = this.options.adopt !== undefined;
    progress(
      adopt
        ? `${first}: starting its agent; it adopts ${this.node(first!).dataDir} as the primary and takes the lease`
        : `${first}: starting its agent; it initializes the cluster (initdb) and takes the lease`,
    );
    this.startAgent(first!);
    await this.waitForRole(first!, '/primary', left());
    progress(`${first}: primary`);
    // An adopted cluster has its own roles: the topology's application role is added, as the
    // post_bootstrap script would have made it.
    if (adopt) await this.createAppRole(first!);
    for (const name of others) {
      progress(
        adopt
          ? `${name}: starting its agent; it adopts ${this.node(name).dataDir} as a replica (no base backup)`
          : `${name}: starting its agent; it clones the primary (pg_basebackup)`,
      );
      this.startAgent(name);
    }
    for (const name of others) {
      await this.waitForRole(name, '/replica', left());
      progress(`${name}: streaming replica`);
    }
  }

  /**
   * Runs the host's post_bootstrap script (it creates the application role when missing) on an
   * adopted primary, as the agent runs it: as postgres, the superuser's URL over the socket the
   * server listens on, the password from the host's secrets.
   */
  private async createAppRole(name: string): Promise<void> {
    const node = this.node(name);
    const socket = this.socketDir(name);
    const url = `postgresql://postgres@${encodeURIComponent(socket)}:${node.pgPort}/postgres`;
    const pgUser = resolvePgUser('postgres');
    const run = spawnSync(node.layout.postBootstrap, [url], {
      encoding: 'utf8',
      cwd: '/',
      env: { PATH: process.env.PATH, PGWARDEN_APP_PASSWORD: this.password },
      ...(pgUser ? { uid: pgUser.uid, gid: pgUser.gid } : {}),
    });
    if (run.status !== 0) throw new Error(`${name}: creating the application role: ${run.stderr}`);
  }

  /** The socket directory a node's running server listens in (its postmaster.pid), else the agent's. */
  socketDir(name: string): string {
    const node = this.node(name);
    try {
      return (
        readFileSync(join(node.dataDir, 'postmaster.pid'), 'utf8').split('\n')[4]?.trim() || node.stateDir
      );
    } catch {
      return node.stateDir;
    }
  }

  /**
   * The controller as Lambda runs it (DESIGN §8): invocations of the real handler in processes
   * of their own on the profile's schedule, each SIGKILLed at its timeout, reaching DynamoDB
   * directly and SSM/EC2/SNS through this topology's local cloud. With `inProcess` (or a
   * `store` to inject faults into), one endless loop in this process instead.
   */
  startController(
    options: {
      tickMs?: number;
      store?: CoordinationStore;
      name?: string;
      logLevel?: string;
      inProcess?: boolean;
      schedule?: InvocationSchedule;
      /** SSM as this controller sees it (to inject failures at the port); in-process only. */
      bus?: CommandBus;
    } = {},
  ): RunningController {
    if (!options.inProcess && !options.store && !options.bus) return this.startLambda(options);
    const logger = new Logger({
      serviceName: options.name ?? 'controller',
      logLevel: (options.logLevel ?? process.env.PGWARDEN_CONTROLLER_LOG ?? 'INFO') as 'INFO',
    });
    const notifier = new LogNotifier(logger);
    const controller = new Controller({
      store: options.store ?? this.store,
      bus: options.bus ?? this.commandBus,
      fencer: this.fencer,
      notifier,
      logger,
      clock: () => Date.now(),
    });
    let stopped = false;
    const loop = runControllerLoop(controller, {
      tickMs: options.tickMs ?? this.profile.tickMs,
      remainingMs: () => (stopped ? 0 : Number.MAX_SAFE_INTEGER),
    });
    const running: RunningController = {
      notifier,
      stop: async () => {
        stopped = true;
        await loop;
        this.controllers = this.controllers.filter((c) => c !== running);
      },
    };
    this.controllers.push(running);
    return running;
  }

  private startLambda(options: {
    tickMs?: number;
    name?: string;
    logLevel?: string;
    schedule?: InvocationSchedule;
  }): RunningController {
    const schedule = options.schedule ?? this.profile.schedule;
    const lambda = new LocalLambda({
      schedule,
      log: join(this.dir, `${options.name ?? 'controller'}.log`),
      environment: {
        ...controllerEnvironment({
          table: this.table,
          tickSeconds: (options.tickMs ?? this.profile.tickMs) / 1000,
          schedule,
          clusters: [this.scope],
        }),
        // The function's role credentials and region; DynamoDB and the other services are local.
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        PGWARDEN_AWS_ENDPOINT: this.controllerDynamo?.endpoint ?? this.backend.endpoint,
        PGWARDEN_LOCAL_CLOUD: join(this.dir, LOCAL_CLOUD_SOCKET),
        POWERTOOLS_LOG_LEVEL: options.logLevel ?? process.env.PGWARDEN_CONTROLLER_LOG ?? 'INFO',
      },
    }).start();
    const running: RunningController = {
      notifier: this.cloudNotifier!,
      lambda,
      stop: async () => {
        await lambda.stop();
        this.controllers = this.controllers.filter((c) => c !== running);
      },
    };
    this.controllers.push(running);
    return running;
  }

  /** HAProxy as the NLB: writer → `/primary`, reader → `/replica`, with the profile's checks. */
  async startEndpoint(ports: Partial<EndpointPorts> = {}, binary = 'haproxy'): Promise<EndpointPorts> {
    const full: EndpointPorts = {
      host: ports.host ?? '127.0.0.1',
      writerPort: ports.writerPort || (await freePort()),
      readerPort: ports.readerPort || (await freePort()),
    };
    const haproxy = new HaproxyEndpoint(join(this.dir, 'haproxy.cfg'), binary);
    await haproxy.start(
      full,
      [...this.nodes.values()].map((n) => ({
        name: n.name,
        host: '127.0.0.1',
        pgPort: n.pgPort,
        apiPort: n.apiPort,
        ...(n.router ? { router: n.router } : {}),
      })),
      {
        ...this.profile.healthCheck,
        // As the stack sets it: replicas beyond maximum_lag_on_failover leave the reader endpoint.
        readerMaxLagBytes: parseClusterConfig({ ...this.profile.dcs, ...this.options.dcs })
          .maximum_lag_on_failover,
      },
    );
    this.endpointProcess = haproxy;
    this.endpointPorts = full;
    return full;
  }

  get endpoint(): (EndpointPorts & { pid: number | undefined }) | undefined {
    return this.endpointPorts && { ...this.endpointPorts, pid: this.endpointProcess?.pid };
  }

  /**
   * Stops everything this topology started, by PID: controllers, HAProxy, agents (SIGTERM) and
   * their PostgreSQL (fast shutdown, then SIGKILL after `graceMs`), the proxies, dynalite.
   * Returns what it stopped, one line each.
   */
  async stop(options: { graceMs?: number; crash?: boolean } = {}): Promise<string[]> {
    const stopped: string[] = [];
    for (const c of [...this.controllers]) await c.stop();
    await this.cloud?.close();
    if (this.endpointProcess?.pid) {
      const pid = this.endpointProcess.pid;
      await this.endpointProcess.stop();
      stopped.push(`haproxy (pid ${pid})`);
    }
    const names = [...this.nodes.keys()];
    if (options.crash) {
      for (const name of names) {
        const pids = this.killHost(name);
        if (pids.length) stopped.push(`${name}: killed pids ${pids.join(', ')}`);
      }
    } else {
      const lines = await Promise.all(names.map((n) => this.stopHost(n, options.graceMs ?? 10_000)));
      stopped.push(...lines.flat());
    }
    for (const node of this.nodes.values()) {
      await node.dynamo.stop();
      await node.peerApi.stop();
      for (const f of node.network?.forwarders ?? []) await f.stop();
      node.unit.release();
    }
    await this.controllerDynamo?.stop();
    this.network?.destroy();
    for (const node of this.nodes.values()) node.volume?.unmount();
    if (this.backend.embedded) {
      // Let requests that already reached dynalite finish before its database closes.
      await new Promise((r) => setTimeout(r, 300));
      await this.backend.stop();
      stopped.push('dynalite (in the supervisor)');
    }
    return stopped;
  }

  /** An orderly host stop: the agent first (SIGTERM), then PostgreSQL (fast shutdown). */
  async stopHost(name: string, graceMs = 10_000): Promise<string[]> {
    const node = this.node(name);
    node.down = true;
    node.downBy = 'stop';
    const lines: string[] = [];
    const agent = this.stopAgent(name, 'SIGTERM');
    if (agent !== undefined) {
      await waitFor(`agent ${agent} to exit`, graceMs, async () => !processAlive(agent)).catch(() => {
        process.kill(-agent, 'SIGKILL');
      });
      lines.push(`${name}: agent (pid ${agent})`);
    }
    // Twice: a pg_ctl the agent had begun may bring a postmaster up just after the first look.
    for (const settle of [0, 500]) {
      await new Promise((r) => setTimeout(r, settle));
      const pm = this.postmasterPid(name);
      if (pm === undefined) continue;
      process.kill(pm, 'SIGINT');
      await waitFor(`postmaster ${pm} to exit`, graceMs, async () => !processAlive(pm)).catch(() => {
        process.kill(pm, 'SIGKILL');
      });
      lines.push(`${name}: postgres (pid ${pm})`);
    }
    return lines;
  }

  /** Stops everything at once (a crash) and removes the directory unless told to keep it. */
  async destroy(keep = process.env.PGWARDEN_KEEP_TEST_DIRS !== undefined): Promise<void> {
    await this.stop({ crash: true });
    // A pg_ctl interrupted by the crash may still bring a postmaster up: sweep once more.
    await new Promise((r) => setTimeout(r, 1000));
    for (const name of this.nodes.keys()) this.killHost(name);
    await new Promise((r) => setTimeout(r, 200));
    for (const node of this.nodes.values()) {
      node.unit.release();
      node.volume?.unmount();
    }
    this.network?.destroy();
    if (!keep && existsSync(this.dir)) rmSync(this.dir, { recursive: true, force: true });
  }
}
