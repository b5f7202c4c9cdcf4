import type { LocalTopology, RunningController } from '../../local/local-topology.ts';
import { descendants, processAlive } from '../../local/wait-for.ts';

/** A seeded pseudo-random source (mulberry32): the same seed gives the same campaign. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const FAULT_KINDS = [
  'host-crash',
  'agent-kill',
  'agent-pause',
  'postgres-pause',
  'node-cut-from-store',
  'store-down',
  'store-slow',
  'store-errors',
  'primary-api-cut',
  'controller-crash',
  'two-controllers',
  'clock-skew',
  'switchover-during-fault',
  'replication-cut',
  'node-partition',
  'inbound-cut',
  'disk-full',
  'operator-request',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** The faults that need hosts with networks of their own (LocalTopology hostNetwork). */
export const NETWORK_FAULTS: readonly FaultKind[] = ['replication-cut', 'node-partition', 'inbound-cut'];
/** The faults that need data directories on volumes of their own (LocalTopology dataVolumeMb). */
export const VOLUME_FAULTS: readonly FaultKind[] = ['disk-full'];

/** Kinds that act on the same switch (one heals the other's): never drawn to overlap each other. */
const GROUPS: readonly (readonly FaultKind[])[] = [
  ['node-cut-from-store', 'store-down', 'store-slow', 'store-errors'],
  ['replication-cut', 'inbound-cut'],
  ['agent-pause', 'switchover-during-fault'],
  ['clock-skew', 'agent-kill', 'host-crash'],
];

/** Whether fault `b` may be injected while `a` holds. */
export function mayOverlap(a: FaultKind, b: FaultKind): boolean {
  return a !== b && !GROUPS.some((g) => g.includes(a) && g.includes(b));
}

/** What the campaign gives a fault: the topology, who is primary, the controller, a request to make. */
export interface FaultContext {
  readonly topology: LocalTopology;
  readonly primary: string | undefined;
  readonly controller: RunningController;
  readonly random: () => number;
  /** Asks for a switchover or a failover, as `pgwarden switchover/failover --force` do (an intent). */
  readonly request: (kind: 'switchover' | 'failover', to?: string) => Promise<void>;
}

/** One injected fault: what it hit, and how to heal it. */
export interface InjectedFault {
  readonly kind: FaultKind;
  readonly target: string;
  heal(): Promise<void>;
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {}
  }
}

/**
 * Injects one fault of `kind`. Faults act on the parts as they run (DESIGN §8): a host crash
 * kills the unit's control group, a pause SIGSTOPs processes, a cut drops a node's path to
 * DynamoDB (its own proxy) or its REST API (the peers' proxy), a skewed clock restarts the agent
 * under libfaketime. With hosts in network namespaces, replication itself is cut at the
 * primary's packet filter, a host loses its link (a full partition), or a host stops hearing one
 * peer (asymmetric); without them those faults are not drawn.
 */
export async function injectFault(kind: FaultKind, ctx: FaultContext): Promise<InjectedFault> {
  const t = ctx.topology;
  const names = [...t.nodes.keys()];
  const up = names.filter((n) => !t.node(n).down);
  const anyNode = pick(ctx.random, up.length > 0 ? up : names);
  const primaryOr = ctx.primary && up.includes(ctx.primary) ? ctx.primary : anyNode;
  const target = ctx.random() < 0.6 ? primaryOr : anyNode;
  switch (kind) {
    case 'host-crash': {
      t.killHost(target);
      return { kind, target, heal: async () => t.startAgent(target) };
    }
    case 'agent-kill': {
      t.stopAgent(target, 'SIGKILL');
      return { kind, target, heal: async () => t.startAgent(target) };
    }
    case 'agent-pause': {
      const pid = t.node(target).pid;
      const pids = pid && processAlive(pid) ? [pid] : [];
      signalAll(pids, 'SIGSTOP');
      return { kind, target, heal: async () => signalAll(pids, 'SIGCONT') };
    }
    case 'postgres-pause': {
      const pm = t.postmasterPid(target);
      const pids = pm ? [pm, ...descendants([pm])] : [];
      signalAll(pids, 'SIGSTOP');
      return { kind, target, heal: async () => signalAll(pids, 'SIGCONT') };
    }
    case 'node-cut-from-store': {
      t.isolate(target);
      return { kind, target, heal: async () => t.heal(target) };
    }
    case 'store-down': {
      for (const n of names) t.isolate(n);
      t.isolateController(true);
      return {
        kind,
        target: 'everyone',
        heal: async () => {
          for (const n of names) t.heal(n);
          t.isolateController(false);
        },
      };
    }
    case 'store-slow':
    case 'store-errors': {
      const options =
        kind === 'store-slow'
          ? { latencyMs: 200 + Math.floor(ctx.random() * 1800) }
          : { errorRate: 0.3 + ctx.random() * 0.6, random: ctx.random };
      t.degradeStore(options);
      return {
        kind,
        target: kind === 'store-slow' ? `everyone (+${options.latencyMs} ms)` : 'everyone (errors)',
        heal: async () => {
          for (const n of names) t.heal(n);
          t.isolateController(false);
        },
      };
    }
    case 'primary-api-cut': {
      t.cutApi(primaryOr, true);
      return { kind, target: primaryOr, heal: async () => t.cutApi(primaryOr, false) };
    }
    case 'controller-crash': {
      ctx.controller.lambda?.crash();
      return { kind, target: 'controller', heal: async () => {} };
    }
    case 'two-controllers': {
      // A second controller, as an operator running `pgwarden controller run` beside the function.
      const second = t.startController({ name: 'chaos-second', logLevel: 'ERROR' });
      return { kind, target: 'controller', heal: () => second.stop() };
    }
    case 'clock-skew': {
      const offset = (ctx.random() < 0.5 ? -1 : 1) * (60 + Math.floor(ctx.random() * 600));
      t.skewClock(target, offset);
      t.stopAgent(target, 'SIGKILL');
      t.startAgent(target);
      return {
        kind,
        target: `${target} (${offset} s)`,
        heal: async () => {
          t.skewClock(target, 0);
          t.stopAgent(target, 'SIGKILL');
          t.startAgent(target);
        },
      };
    }
    case 'replication-cut': {
      // The primary and its replicas no longer reach each other; DynamoDB and clients still do.
      const primary = ctx.primary && up.includes(ctx.primary) ? ctx.primary : anyNode;
      const peers = names.filter((n) => n !== primary);
      t.cutFromPeers(primary, peers);
      return { kind, target: primary, heal: async () => t.cutFromPeers(primary, []) };
    }
    case 'node-partition': {
      t.partition(target);
      return {
        kind,
        target,
        heal: async () => {
          t.partition(target, false);
          // Fenced meanwhile (an EC2 stop), the host comes back when it is started again.
          if (t.node(target).down) t.startAgent(target);
        },
      };
    }
    case 'inbound-cut': {
      // Asymmetric: the target hears nothing from one peer; what it sends still leaves.
      const others = names.filter((n) => n !== target);
      const deaf = pick(ctx.random, others);
      t.cutFromPeers(target, [deaf], 'inbound');
      return { kind, target: `${target} (from ${deaf})`, heal: async () => t.cutFromPeers(target, []) };
    }
    case 'disk-full': {
      const volume = t.node(target).volume;
      if (!volume) throw new Error('disk-full: the hosts have no data volumes (dataVolumeMb)');
      volume.fill();
      return { kind, target, heal: async () => volume.free() };
    }
    case 'switchover-during-fault': {
      // A switchover asked while a replica is paused: the controller must pick around it.
      const replicas = up.filter((n) => n !== ctx.primary);
      const paused = replicas.length > 0 ? pick(ctx.random, replicas) : anyNode;
      const pid = t.node(paused).pid;
      const pids = pid && processAlive(pid) ? [pid] : [];
      signalAll(pids, 'SIGSTOP');
      await ctx.request('switchover').catch(() => {});
      return { kind, target: paused, heal: async () => signalAll(pids, 'SIGCONT') };
    }
    case 'operator-request': {
      // An operator's switchover or failover (to a replica chosen at random), whatever else holds.
      const which = ctx.random() < 0.5 ? 'switchover' : 'failover';
      const replicas = up.filter((n) => n !== ctx.primary);
      const to = replicas.length > 0 ? pick(ctx.random, replicas) : undefined;
      await ctx.request(which, to).catch(() => {});
      return { kind, target: `${which}${to ? ` to ${to}` : ''}`, heal: async () => {} };
    }
  }
}
