import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { storedClusterConfig } from '../../core/config/cluster-config.ts';
import { AckedWriter, lostWalBytes } from '../../local/acked-writer.ts';
import { timelineOverlaps } from '../../local/commit-log.ts';
import { hostNetworkUnavailable } from '../../local/host-network.ts';
import { LocalTopology } from '../../local/local-topology.ts';
import { type LoopbackLogin, loopbackClient } from '../../local/loopback-client.ts';
import { processAlive, processStartTime, waitFor } from '../../local/wait-for.ts';
import { WritableInvariant } from '../../local/writable-invariant.ts';
import {
  FAULT_KINDS,
  type FaultKind,
  injectFault,
  mayOverlap,
  NETWORK_FAULTS,
  seededRandom,
  VOLUME_FAULTS,
} from './faults.ts';

export interface CampaignOptions {
  readonly faults: number;
  readonly seed: number;
  readonly sync?: boolean;
  /** Fault kinds to draw from. @default every kind */
  readonly kinds?: readonly FaultKind[];
  /** How often a second fault joins the first while it holds (0..1). @default 0.3 */
  readonly overlap?: number;
  /** Longest a fault stays before it heals. @default 8000 */
  readonly maxFaultMs?: number;
  /** Longest the cluster may take to recover after a heal. @default 60000 */
  readonly recoveryMs?: number;
  /** A deliberately broken agent build (the checkers must then report a violation). */
  readonly agentBundle?: string;
  /**
   * Hosts in network namespaces (real partitions). @default when this machine allows it; without
   * them the network faults are not drawn, and the report says why.
   */
  readonly hostNetwork?: boolean;
  /** A router on every host, HAProxy in front of the routers (issue #17). @default false */
  readonly routers?: boolean;
  readonly log?: (line: string) => void;
}

export interface FaultRecord {
  readonly n: number;
  readonly kind: FaultKind;
  readonly target: string;
  readonly at: number;
  readonly heldMs: number;
  /** From the heal to a serving primary with every other node streaming; undefined: never. */
  readonly recoveryMs: number | undefined;
  /** A second fault injected while this one held, healed before it. */
  readonly overlapping?: { readonly kind: FaultKind; readonly target: string; readonly afterMs: number };
}

export interface CampaignReport {
  readonly seed: number;
  readonly mode: 'synchronous' | 'asynchronous';
  /** Where the hosts' traffic ran: their own namespaces, or loopback (and why). */
  readonly network: string;
  readonly faults: readonly FaultRecord[];
  readonly byKind: Record<string, { count: number; recoveryP50Ms: number; recoveryMaxMs: number }>;
  readonly acked: number;
  readonly lost: number;
  readonly lostBytes: number;
  readonly failovers: number;
  readonly longestWriteGapMs: number;
  readonly secondsWithoutWrite: number;
  readonly readerFailures: number;
  readonly invariantSamples: number;
  readonly violations: readonly {
    readonly what: string;
    readonly at?: number;
    readonly detail: string;
    /** The faults that held (or were recovering) within 10 s of it: the timeline around it. */
    readonly around?: readonly string[];
  }[];
  readonly durationMs: number;
}

const median = (xs: number[]) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
};

/** A reader through the reader endpoint: counts queries that fail. */
function startReader(port: number, login: LoopbackLogin) {
  let running = true;
  let failures = 0;
  const loop = (async () => {
    while (running) {
      const client = loopbackClient(port, login, { connectMs: 1000, queryMs: 2000 });
      try {
        await client.connect();
        await client.query('SELECT 1');
      } catch {
        failures += 1;
      } finally {
        await client.end().catch(() => {});
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    get failures() {
      return failures;
    },
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/**
 * Watches the lease item the whole campaign: its term never goes down, and its holder never
 * changes without a new term (DESIGN §3: a term names one holder). A lease renewed without its
 * condition breaks this at once.
 */
function startLeaseMonitor(t: LocalTopology) {
  let running = true;
  const violations: { at: number; detail: string }[] = [];
  let last: { holder: string; term: number } | undefined;
  const loop = (async () => {
    while (running) {
      const leader = await t.store.getLeader(t.scope).catch(() => undefined);
      if (leader && last) {
        if (leader.term < last.term)
          violations.push({
            at: Date.now(),
            detail: `term went down: ${last.holder}@${last.term} -> ${leader.holder}@${leader.term}`,
          });
        else if (leader.term === last.term && leader.holder !== last.holder)
          violations.push({
            at: Date.now(),
            detail: `holder changed at term ${leader.term}: ${last.holder} -> ${leader.holder}`,
          });
      }
      if (leader) last = { holder: leader.holder, term: leader.term };
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    violations,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/** Until a lease holder serves writes and every other node streams from it; the time it took. */
/**
 * How long until the cluster is whole again (a serving primary holding the lease, no operation,
 * every other node streaming and caught up), or, past `boundMs`, what was still wrong.
 */
async function recovered(t: LocalTopology, boundMs: number): Promise<number | string> {
  const started = Date.now();
  const missing = (why: string) => {
    throw new Error(why);
  };
  try {
    await waitFor(
      'recovery',
      boundMs,
      async () => {
        const snapshot = await t.store.getSnapshot(t.scope);
        const leader = snapshot.leader;
        if (!leader || leader.released) return missing('no lease holder');
        if (snapshot.op)
          return missing(
            `operation ${snapshot.op.kind} ${snapshot.op.from} -> ${snapshot.op.to} at ${snapshot.op.step}`,
          );
        if ((await t.api(leader.holder, '/primary').catch(() => ({ status: 0 }))).status !== 200)
          return missing(
            `${leader.holder} holds the lease (term ${leader.term}) and does not serve as primary`,
          );
        for (const name of t.nodes.keys()) {
          if (name === leader.holder) continue;
          // Streaming and caught up: a cut connection can still say streaming until its timeout.
          const res = await t
            .api(name, '/replica?replication_state=streaming&lag=1MB')
            .catch(() => ({ status: 0 }));
          if (res.status !== 200) {
            const m = snapshot.members.find((x) => x.name === name);
            const seen = m
              ? `${m.role} ${m.state}, upstream ${m.upstream ?? 'none'}, receiver ${m.receiver_state ?? 'none'}, timeline ${m.timeline}`
              : 'no member record';
            return missing(
              `${name} is not a streaming replica of ${leader.holder} (${seen}${t.node(name).down ? ', host down' : ''})`,
            );
          }
        }
        return true;
      },
      250,
    );
    return Date.now() - started;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * A Jepsen-style campaign on a local topology (issue #18): a seeded nemesis injects `faults`
 * faults one after the other, each healed after a random time, while two writers (through the
 * writer endpoint and straight to the nodes) and a reader run and the invariant checker samples
 * every node and a monitor watches the lease (its term never goes down, a holder per term).
 * Checked at the end: never two writable nodes, acknowledged writes on the final
 * primary (synchronous) or within maximum_lag_on_failover per failover (asynchronous), one
 * history row per term, every node streaming, and no process of the harness left behind.
 */
export async function runCampaign(options: CampaignOptions): Promise<CampaignReport> {
  const log = options.log ?? (() => {});
  const random = seededRandom(options.seed);
  const unavailable = hostNetworkUnavailable();
  const hostNetwork = options.hostNetwork ?? unavailable === undefined;
  if (hostNetwork && unavailable) throw new Error(`hostNetwork: ${unavailable}`);
  const network = hostNetwork ? 'network namespaces' : `loopback (${unavailable ?? 'not asked for'})`;
  // Data volumes that can fill up need root, as the host network does.
  const volumes = hostNetwork;
  const kinds = (options.kinds ?? FAULT_KINDS).filter(
    (k) => (hostNetwork || !NETWORK_FAULTS.includes(k)) && (volumes || !VOLUME_FAULTS.includes(k)),
  );
  if (!hostNetwork)
    log(
      `hosts share this machine's loopback: ${unavailable ?? 'hostNetwork off'}; the network faults are not drawn`,
    );
  if (kinds.length === 0) throw new Error('no fault kind left to draw (the network faults need hostNetwork)');
  const dir = mkdtempSync('/tmp/pgwarden-chaos-');
  chmodSync(dir, 0o755);
  const startedAt = Date.now();
  const violations: { what: string; at?: number; detail: string }[] = [];
  const records: FaultRecord[] = [];
  const t = await LocalTopology.create({
    dir,
    nodes: 3,
    profile: 'fast',
    scope: 'chaos',
    logLevel: 'warn',
    sync: options.sync ?? false,
    hostNetwork,
    routers: options.routers ?? false,
    ...(volumes ? { dataVolumeMb: 1536 } : {}),
    ...(options.agentBundle ? { agentBundle: options.agentBundle } : {}),
  });
  // Interrupted (Ctrl-C, a timeout): stop everything the topology started before exiting. The
  // signal may come twice (to the whole process group, and relayed by npm and tsx): the second
  // must not end the process before the first has cleaned up.
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping the topology`);
    void t
      .destroy(false)
      .catch(() => {})
      .finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Each process by PID and start time: a PID reused by another process later is not a leftover.
  const pidsSeen = new Map<string, { pid: number; started: number | undefined }>();
  const remember = () => {
    for (const name of t.nodes.keys())
      for (const pid of t.hostPids(name)) {
        const started = processStartTime(pid);
        pidsSeen.set(`${pid}@${started}`, { pid, started });
      }
  };
  try {
    const endpoint = await t.startEndpoint();
    await t.startAll();
    const controller = t.startController({ logLevel: 'ERROR' });
    const first = await t.store.getLeader(t.scope);
    const setup = loopbackClient(t.node(first!.holder).pgPort, t.login);
    await setup.connect();
    await setup.query('CREATE TABLE acks (id int PRIMARY KEY)');
    await setup.end();
    const ready = await recovered(t, 60_000);
    if (typeof ready === 'string') throw new Error(`the topology did not become healthy: ${ready}`);
    const invariant = new WritableInvariant(t).start();
    const viaEndpoint = new AckedWriter({ ports: [endpoint.writerPort], login: t.login }).start();
    const direct = new AckedWriter({
      ports: [...t.nodes.values()].map((n) => n.pgPort),
      login: t.login,
      firstId: 10_000_000,
    }).start();
    const reader = startReader(endpoint.readerPort, t.login);
    const lease = startLeaseMonitor(t);
    for (let n = 1; n <= options.faults; n += 1) {
      remember();
      const kind = kinds[Math.floor(random() * kinds.length)]!;
      const primary = (await t.store.getLeader(t.scope).catch(() => undefined))?.holder;
      const at = Date.now();
      const context = {
        topology: t,
        primary,
        controller,
        random,
        request: async (which: 'switchover' | 'failover', to?: string) => {
          await t.store.putIntent(
            t.scope,
            {
              id: randomUUID(),
              kind: which,
              ...(primary ? { from: primary } : {}),
              ...(to ? { to } : {}),
              requested_by: 'chaos',
              requested_at: Date.now(),
            },
            { onlyIfAbsent: true },
          );
        },
      };
      const fault = await injectFault(kind, context);
      const heldMs = 1000 + Math.floor(random() * ((options.maxFaultMs ?? 8000) - 1000));
      // Sometimes a second fault joins while the first holds (another switch), healed first.
      let second: { fault: Awaited<ReturnType<typeof injectFault>>; afterMs: number } | undefined;
      const candidates = kinds.filter((k) => mayOverlap(kind, k));
      if (candidates.length > 0 && random() < (options.overlap ?? 0.3)) {
        const afterMs = Math.floor(random() * heldMs * 0.6);
        await new Promise((r) => setTimeout(r, afterMs));
        const other = candidates[Math.floor(random() * candidates.length)]!;
        const now = (await t.store.getLeader(t.scope).catch(() => undefined))?.holder;
        second = { fault: await injectFault(other, { ...context, primary: now }), afterMs };
        await new Promise((r) => setTimeout(r, heldMs - afterMs));
      } else await new Promise((r) => setTimeout(r, heldMs));
      remember();
      await second?.fault.heal();
      await fault.heal();
      const recovery = await recovered(t, options.recoveryMs ?? 60_000);
      const recoveryMs = typeof recovery === 'number' ? recovery : undefined;
      const overlapping = second && {
        kind: second.fault.kind,
        target: second.fault.target,
        afterMs: second.afterMs,
      };
      records.push({
        n,
        kind,
        target: fault.target,
        at,
        heldMs,
        recoveryMs,
        ...(overlapping ? { overlapping } : {}),
      });
      const also = overlapping
        ? ` (+ ${overlapping.kind} on ${overlapping.target} after ${overlapping.afterMs} ms)`
        : '';
      log(
        `fault ${n}/${options.faults}: ${kind} on ${fault.target}${also} for ${heldMs} ms, recovered ${recoveryMs === undefined ? 'NEVER' : `in ${recoveryMs} ms`}`,
      );
      if (recoveryMs === undefined) {
        violations.push({
          what: 'no recovery',
          at: Date.now(),
          detail: `${kind} on ${fault.target}: ${recovery}`,
        });
        for (const name of t.nodes.keys())
          if (t.node(name).down || !processAlive(t.node(name).pid)) t.startAgent(name);
        await recovered(t, options.recoveryMs ?? 60_000);
      }
    }
    await Promise.all([viaEndpoint.stop(), direct.stop(), reader.stop(), invariant.stop(), lease.stop()]);
    for (const v of lease.violations) violations.push({ what: 'lease', at: v.at, detail: v.detail });
    for (const v of invariant.violations)
      violations.push({ what: 'two writable nodes', at: v.at, detail: v.writable.join(', ') });
    // The commit log: no commit on a timeline began after a later timeline had committed one.
    for (const o of timelineOverlaps([...viaEndpoint.acks, ...direct.acks]))
      violations.push({
        what: 'two timelines accepting commits',
        at: o.earlier.at,
        detail: `write ${o.earlier.id} committed on timeline ${o.earlier.timeline} (sent ${new Date(o.earlier.sentAt).toISOString()}) after write ${o.later.id} had committed on timeline ${o.later.timeline} (at ${new Date(o.later.at).toISOString()})`,
      });
    const snapshot = await t.store.getSnapshot(t.scope);
    const leader = snapshot.leader!;
    const final = loopbackClient(t.node(leader.holder).pgPort, t.login);
    await final.connect();
    const present = new Set((await final.query<{ id: number }>('SELECT id FROM acks')).rows.map((r) => r.id));
    await final.end();
    const lost = [...viaEndpoint.lost(present), ...direct.lost(present)];
    const terms = snapshot.history.map((h) => h.term);
    if (new Set(terms).size !== terms.length)
      violations.push({ what: 'history', detail: `terms repeated: ${terms.join(', ')}` });
    const failovers = snapshot.history.filter((h) => h.kind === 'failover').length;
    const { config } = storedClusterConfig(snapshot.config?.data);
    const lostBytes = lostWalBytes(lost);
    if (options.sync && lost.length > 0)
      violations.push({
        what: 'lost writes (synchronous)',
        detail: `${lost.length} acknowledged writes missing`,
      });
    if (!options.sync && lostBytes > config.maximum_lag_on_failover * Math.max(1, failovers))
      violations.push({
        what: 'lost writes beyond maximum_lag_on_failover',
        detail: `${lostBytes} bytes over ${failovers} failover(s)`,
      });
    const healthy = await recovered(t, 60_000);
    if (typeof healthy === 'string') violations.push({ what: 'not healthy at the end', detail: healthy });
    const acks = [...viaEndpoint.acks, ...direct.acks].sort((a, b) => a.at - b.at);
    const end = Date.now();
    let silent = 0;
    for (let s = startedAt; s < end; s += 1000)
      if (!acks.some((a) => a.at >= s && a.at < s + 1000)) silent += 1;
    const byKind: CampaignReport['byKind'] = {};
    for (const kind of new Set(records.map((r) => r.kind))) {
      const times = records
        .filter((r) => r.kind === kind && r.recoveryMs !== undefined)
        .map((r) => r.recoveryMs!);
      byKind[kind] = {
        count: records.filter((r) => r.kind === kind).length,
        recoveryP50Ms: median(times),
        recoveryMaxMs: times.length ? Math.max(...times) : 0,
      };
    }
    remember();
    await t.stop();
    const left = [...pidsSeen.values()]
      .filter(({ pid, started }) => processAlive(pid) && processStartTime(pid) === started)
      .map(({ pid }) => pid);
    if (left.length > 0) violations.push({ what: 'processes left behind', detail: left.join(', ') });
    const leftovers = [
      ...(t.network?.leftovers() ?? []),
      ...[...t.nodes.values()].filter((n) => n.volume?.isMounted()).map((n) => `${n.name}'s data volume`),
    ];
    if (leftovers.length > 0)
      violations.push({ what: 'network or volumes left behind', detail: leftovers.join(', ') });
    return {
      seed: options.seed,
      mode: options.sync ? 'synchronous' : 'asynchronous',
      network,
      faults: records,
      byKind,
      acked: acks.length,
      lost: lost.length,
      lostBytes,
      failovers,
      longestWriteGapMs: viaEndpoint.longestGap(startedAt, end),
      secondsWithoutWrite: silent,
      readerFailures: reader.failures,
      invariantSamples: invariant.samples,
      violations: violations.map((v) =>
        v.at === undefined ? v : { ...v, around: faultsAround(records, v.at) },
      ),
      durationMs: Date.now() - startedAt,
    };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await t.stop().catch(() => []);
    if (process.env.PGWARDEN_KEEP_TEST_DIRS === undefined) rmSync(dir, { recursive: true, force: true });
  }
}

/** The faults active (held, or recovering) within 10 s of `at`, oldest first. */
function faultsAround(records: readonly FaultRecord[], at: number): string[] {
  const margin = 10_000;
  return records
    .filter((r) => r.at - margin <= at && at <= r.at + r.heldMs + (r.recoveryMs ?? 60_000) + margin)
    .map(
      (r) =>
        `#${r.n} ${r.kind} on ${r.target} at ${new Date(r.at).toISOString()} for ${r.heldMs} ms${r.overlapping ? ` (+ ${r.overlapping.kind} on ${r.overlapping.target})` : ''}`,
    );
}

/** The report as a short Markdown table. */
export function reportMarkdown(r: CampaignReport): string {
  const rows = Object.entries(r.byKind).map(
    ([kind, k]) =>
      `| ${kind} | ${k.count} | ${(k.recoveryP50Ms / 1000).toFixed(1)} | ${(k.recoveryMaxMs / 1000).toFixed(1)} |`,
  );
  return [
    `Seed ${r.seed}, ${r.mode}, hosts on ${r.network}, ${r.faults.length} faults in ${Math.round(r.durationMs / 1000)} s: ${r.acked} writes acknowledged, ${r.lost} lost (${r.lostBytes} bytes of WAL), ${r.failovers} failovers, longest write gap through the endpoint ${(r.longestWriteGapMs / 1000).toFixed(1)} s, ${r.readerFailures} failed reads, ${r.invariantSamples} invariant samples, **${r.violations.length} violations**.`,
    '',
    '| fault | count | recovery p50 s | recovery max s |',
    '| --- | ---: | ---: | ---: |',
    ...rows,
    ...(r.violations.length
      ? [
          '',
          ...r.violations.map(
            (v) =>
              `- ${v.what}${v.at ? ` at ${new Date(v.at).toISOString()}` : ''}: ${v.detail}${v.around?.length ? ` — around it: ${v.around.join('; ')}` : ''}`,
          ),
        ]
      : []),
  ].join('\n');
}
