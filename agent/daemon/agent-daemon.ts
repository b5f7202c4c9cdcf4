import { randomUUID } from 'node:crypto';
import type { FSWatcher } from 'node:fs';
import { performance } from 'node:perf_hooks';
import {
  type AgentDecision,
  type AgentEvent,
  type AgentFacts,
  type AgentMemory,
  decideAgent,
  INITIAL_MEMORY,
} from '../../core/agent/agent-decision.ts';
import { AGENT_RULES } from '../../core/agent/agent-rules.ts';
import type { ClusterConfig } from '../../core/config/cluster-config.ts';
import type { ClusterSnapshot } from '../../core/model/snapshot.ts';
import { runCallback } from '../callbacks.ts';
import { type FailsafePrimary, failsafePrimaryOf } from '../failsafe/failsafe-primary.ts';
import { LeaseKeeper, type LeaseLossReason } from '../lease/lease-keeper.ts';
import type { PgObservation } from '../postgres/pg-observer.ts';
import { SlotKeeper } from '../postgres/replication-slots.ts';
import { startAsPrimary } from '../postgres/start-as.ts';
import { type AgentRuntime, clusterConfigOf } from '../runtime.ts';
import { actionLockHolder } from '../state/action-lock.ts';
import { readLastAction } from '../state/last-action.ts';
import { type LocalState, readLocalState } from '../state/local-state.ts';
import { startRequested } from '../state/start-request.ts';
import { cycleBudgetMs } from '../systemd/watchdog.ts';
import { AGENT_VERSION } from '../version.ts';
import type { AgentStatus, DaemonOptions } from './agent-status.ts';
import { initializationPending, prepareDirectories } from './bootstrap.ts';
import { buildMember, type MemberFacts, memberRole, memberState } from './build-member.ts';
import { cyclePeriodMs } from './cycle-period.ts';
import { DecisionLog } from './decision-log.ts';
import { FirstStart } from './first-start.ts';
import { LoopSleep } from './loop-sleep.ts';
import { PostgresStarter } from './postgres-starter.ts';
import { fenceMyself, releaseLease } from './self-fence.ts';
import { watchStateDir } from './state-dir-watch.ts';

export type { AgentStatus, DaemonOptions } from './agent-status.ts';

/**
 * The agent's loop (DESIGN §5): observe PostgreSQL, read the cluster, keep the lease when
 * primary, keep PostgreSQL in the role the local state names, heartbeat. It makes no
 * cluster-wide decision: roles change only through actions (or self-fencing).
 */
export class AgentDaemon {
  private readonly lease: LeaseKeeper;
  private readonly monotonic: () => number;
  private readonly wallClock: () => number;
  private snapshot: ClusterSnapshot | undefined;
  private local: LocalState | undefined;
  private observation: PgObservation = { at: 0, reachable: false, error: 'not observed yet' };
  private postmasterAlive = false;
  private readonly starter: PostgresStarter;
  /** What the rules remember between decisions (agent-decision.ts). */
  private memory: AgentMemory = INITIAL_MEMORY;
  private readonly decisions: DecisionLog;
  private readonly firstStart: FirstStart;
  private lastCycleAt: number | undefined;
  private lastStoreSuccessAt: number | undefined;
  private pgVersion: string | undefined;
  private readonly loopSleep = new LoopSleep();
  private watcher: FSWatcher | undefined;
  private stopped = false;
  private readonly slots: SlotKeeper;
  private lastActionComplaint: string | undefined;
  private readonly failsafe: FailsafePrimary;
  private parsedConfig: { from: ClusterSnapshot | undefined; config: ClusterConfig } | undefined;
  private keeperTimer: NodeJS.Timeout | undefined;
  private cycleStartedAt: number | undefined;
  private readonly onSnapshot: DaemonOptions['onSnapshot'];

  constructor(
    private readonly rt: AgentRuntime,
    options: DaemonOptions = {},
  ) {
    this.onSnapshot = options.onSnapshot;
    this.monotonic = options.monotonic ?? (() => performance.now());
    this.wallClock = options.wallClock ?? (() => Date.now());
    this.lease = new LeaseKeeper({
      store: rt.store,
      cluster: rt.config.scope,
      member: rt.config.name,
      monotonic: this.monotonic,
      wallClock: this.wallClock,
      onLost: (reason, detail) => this.onLeaseLost(reason, detail),
    });
    this.slots = new SlotKeeper(rt.observer, rt.config.name, rt.logger, this.monotonic);
    this.starter = new PostgresStarter(rt, () => this.loopSleep.wake());
    this.decisions = new DecisionLog(rt.logger, this.monotonic);
    this.failsafe = failsafePrimaryOf(rt, this.lease, this.monotonic, this.wallClock);
    this.firstStart = new FirstStart(
      rt,
      {
        renewInitialLease: (term, position) => this.lease.renew(term, this.clusterConfig, position),
        wallClock: this.wallClock,
      },
      this.monotonic,
    );
  }

  /** Parsed once per snapshot: health requests and every step of a cycle read it. */
  get clusterConfig(): ClusterConfig {
    const cached = this.parsedConfig;
    if (cached && cached.from === this.snapshot) return cached.config;
    const config = clusterConfigOf(this.snapshot, this.rt.config);
    this.parsedConfig = { from: this.snapshot, config };
    return config;
  }

  status(): AgentStatus {
    return {
      observation: this.observation,
      local: this.local,
      snapshot: this.snapshot,
      clusterConfig: this.clusterConfig,
      leaseValid: this.lease.isValid() && !this.memory.fencing,
      leaseRemainingMs: this.lease.remainingMs(),
      fencing: this.memory.fencing,
      decision: this.decisions.last,
      postmasterAlive: this.postmasterAlive,
      bootstrapping: this.firstStart.busy,
      starting: this.starter.busy,
      lastCycleAt: this.lastCycleAt,
      lastStoreSuccessAt: this.lastStoreSuccessAt,
      pgVersion: this.pgVersion,
      failsafeActive: this.failsafe.active,
      failsafeMembers: this.failsafe.members(this.clusterConfig),
    };
  }

  /** Runs until stop(): bootstrap when the data directory is empty, then a cycle every loop_wait. */
  async run(): Promise<void> {
    await prepareDirectories(this.rt);
    this.pgVersion = await this.rt.postgres.version().catch(() => undefined);
    this.watcher = watchStateDir(this.rt.paths, () => this.loopSleep.wake());
    this.scheduleRenewalKeeper();
    this.failsafe.start(
      () =>
        !this.stopped && !this.memory.fencing && this.local?.want === 'primary' ? this.local.term : undefined,
      () => this.clusterConfig,
    );
    while (!this.stopped) {
      const started = this.monotonic();
      this.cycleStartedAt = started;
      let retrySoon = false;
      try {
        retrySoon = await this.cycle();
      } catch (error) {
        this.rt.logger.error('cycle failed', { error: error as Error });
      }
      this.cycleStartedAt = undefined;
      const period = cyclePeriodMs(this.snapshot, this.rt.config.name, this.clusterConfig, {
        retrySoon,
        now: Date.now(),
      });
      await this.loopSleep.sleep(Math.max(50, period - (this.monotonic() - started)));
    }
  }

  /**
   * Runs the next cycle now (a switchover began: the router's pause notice). The cycle sees the
   * operation and heartbeats every 250 ms, so the hand-over does not wait a loop_wait for this
   * member's report of the final LSN.
   */
  wake(): void {
    this.loopSleep.wake();
  }

  /** False once a cycle has run past its budget (the systemd watchdog is then withheld). */
  healthy(): boolean {
    if (this.cycleStartedAt === undefined) return true;
    const budget = cycleBudgetMs(this.firstStart.busy, this.clusterConfig.primary_stop_timeout);
    return this.monotonic() - this.cycleStartedAt <= budget;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.keeperTimer);
    this.failsafe.stop();
    this.watcher?.close();
    this.lease.clear();
    this.loopSleep.wake();
    this.rt.observer.close();
  }

  /** One cycle. Returns true when something should be retried sooner than loop_wait. */
  async cycle(): Promise<boolean> {
    const rt = this.rt;
    let fresh = false;
    try {
      this.snapshot = await rt.store.getSnapshot(rt.config.scope);
      this.lastStoreSuccessAt = this.wallClock();
      this.failsafe.observe(this.snapshot);
      fresh = true;
      this.onSnapshot?.(this.snapshot, this.clusterConfig);
    } catch (error) {
      rt.logger.warn('cannot read the cluster from DynamoDB', { error: (error as Error).message });
    }
    const dataDirEmpty = await rt.postgres.isDataDirEmpty();
    const file = await readLocalState(rt.paths.localState);
    if (file) this.local = file;
    this.observation = await rt.observer.observe(this.wallClock());
    this.postmasterAlive = (await rt.postgres.postmasterPid()) !== undefined;
    const actionBusy = (await actionLockHolder(rt.paths.actionLock)) !== undefined;
    const leader = this.snapshot?.leader;
    const promise = await rt.promises.inForce().catch(() => undefined);
    let facts: AgentFacts = {
      ...this.knownFacts(),
      local: file,
      bootstrapPending: fresh && initializationPending(this.snapshot, rt.config.name),
      dataDirEmpty,
      actionBusy,
      startRequested: actionBusy && (await startRequested(rt.paths.startRequest)),
      ...(promise ? { promise } : {}),
      leaseHeldAtTerm:
        fresh && leader?.holder === rt.config.name && leader.term === file?.term && leader.released !== true,
    };
    let retrySoon = false;
    for (let round = 0; round < 3; round++) {
      const decision = this.decide('cycle', facts);
      const learned = await this.perform(decision);
      retrySoon ||= decision.retrySoon === true;
      if (!decision.again) break;
      facts = { ...facts, ...learned, failsafeActive: this.failsafe.active, now: this.monotonic() };
    }
    await this.heartbeat(promise);
    this.lastCycleAt = this.monotonic();
    return retrySoon;
  }

  /** The facts the daemon knows without new I/O; each event adds what it reads. */
  private knownFacts(): AgentFacts {
    const cfg = this.clusterConfig;
    return {
      now: this.monotonic(),
      bootstrapPending: false,
      dataDirEmpty: false,
      local: this.local,
      actionBusy: false,
      startRequested: false,
      pg: {
        reachable: this.observation.reachable,
        inRecovery: this.observation.inRecovery,
        postmasterAlive: this.postmasterAlive,
        starting: this.starter.busy,
      },
      leaseHeldAtTerm: false,
      sinceRenewalBeganMs: this.lease.sinceRenewalBegan(),
      leaseRemainingMs: this.lease.remainingMs(),
      failsafeActive: this.failsafe.active,
      bootstrapping: this.firstStart.busy,
      config: {
        pause: cfg.pause,
        loop_wait: cfg.loop_wait,
        primary_start_timeout: cfg.primary_start_timeout,
        use_slots: cfg.postgresql.use_slots,
      },
    };
  }

  /** The table decides; the memory moves at once (a fence answers 503 from this instant). */
  private decide(event: AgentEvent, facts: AgentFacts): AgentDecision {
    const decision = decideAgent(AGENT_RULES, event, facts, this.memory);
    this.memory = decision.memory;
    this.decisions.record(event, decision, facts.local?.term);
    return decision;
  }

  /** The I/O of one decision, in order; returns what it learned for the next decision. */
  private async perform(decision: AgentDecision): Promise<Partial<AgentFacts>> {
    const rt = this.rt;
    const cfg = this.clusterConfig;
    const learned: { -readonly [K in keyof AgentFacts]?: AgentFacts[K] } = {};
    for (const step of decision.steps) {
      const local = this.local;
      switch (step.kind) {
        case 'bootstrap':
          this.local =
            (await this.firstStart.bootstrap(this.snapshot, cfg, () => this.heartbeat())) ?? this.local;
          break;
        case 'adopt-data-directory':
          this.local = (await this.firstStart.adopt(this.snapshot, cfg)) ?? this.local;
          learned.local = this.local;
          break;
        case 'renew-lease':
          if (local) learned.renewal = await this.renewLease(local);
          learned.leaseRemainingMs = this.lease.remainingMs();
          break;
        case 'forget-lease':
          this.lease.clear();
          break;
        case 'fence':
          this.lease.clear();
          this.local = await fenceMyself(rt, cfg, step.why, local);
          this.loopSleep.wake();
          break;
        case 'release-lease':
          if (local) await releaseLease(rt, local.term);
          break;
        case 'keep-slots':
          if (this.snapshot) await this.slots.keep(this.snapshot.members.map((m) => m.name));
          break;
        case 'start-primary': {
          const standbys = local?.sync_standbys ?? [];
          this.starter.launch(() => startAsPrimary(rt, cfg, standbys), step.callback, 'primary');
          break;
        }
        case 'start-replica':
          if (local) this.starter.replica(local, this.snapshot, cfg, step.why);
          break;
        case 'stop-rogue-primary':
          await rt.postgres.beginFastShutdown();
          if (await rt.postgres.stop(cfg.primary_stop_timeout * 1000)) runCallback(rt, 'on_stop', 'primary');
          break;
        case 'stop-postgres':
          if (await rt.postgres.stop(cfg.primary_stop_timeout * 1000))
            runCallback(rt, 'on_stop', this.observation.inRecovery === false ? 'primary' : 'replica');
          break;
      }
    }
    return learned;
  }

  /**
   * A renewal (DESIGN §3) at the position PostgreSQL last reported; one in flight at a time. A
   * renewal that failed other than by a lost condition may start a failsafe round.
   */
  private async renewLease(local: LocalState): Promise<'renewed' | 'lost' | 'error'> {
    const obs = this.observation;
    const result = await this.lease.renew(local.term, this.clusterConfig, {
      lsn: obs.writeLsn ?? this.snapshot?.leader?.lsn ?? 0,
      timeline: obs.timeline ?? this.snapshot?.leader?.timeline ?? 1,
      // Where its timeline began: kept in the lease for when this primary is gone (candidates).
      ...(obs.reachable && obs.inRecovery === false
        ? { timelineSwitchLsn: obs.timelineSwitchLsn ?? null }
        : {}),
    });
    this.failsafe.afterRenewal(result, local.term);
    return result;
  }

  /**
   * Renewal every loop_wait even while a cycle is stuck on PostgreSQL (its queries may take their
   * whole timeout, twice): the renewal-timer rules renew when the cycle has not for a loop_wait.
   */
  private scheduleRenewalKeeper(): void {
    if (this.stopped) return;
    const every = Math.max(100, (this.clusterConfig.loop_wait * 1000) / 2);
    this.keeperTimer = setTimeout(() => {
      this.keepRenewing()
        .catch((error) => this.rt.logger.warn('lease keeper failed', { error: (error as Error).message }))
        .finally(() => this.scheduleRenewalKeeper());
    }, every);
  }

  private async keepRenewing(): Promise<void> {
    const file = await readLocalState(this.rt.paths.localState);
    let facts: AgentFacts = {
      ...this.knownFacts(),
      local: file,
      actionBusy: (await actionLockHolder(this.rt.paths.actionLock)) !== undefined,
      localChangedSinceCycle: file?.want !== this.local?.want || file?.term !== this.local?.term,
    };
    for (let round = 0; round < 2; round++) {
      const decision = this.decide('renewal-timer', facts);
      facts = { ...facts, ...(await this.perform(decision)) };
      if (!decision.again) return;
    }
  }

  private onLeaseLost(reason: LeaseLossReason, detail: string): void {
    const decision = this.decide('lease-lost', { ...this.knownFacts(), leaseLoss: { reason, detail } });
    void this.perform(decision).catch((error) =>
      this.rt.logger.error('self-fencing failed', { error: (error as Error).message }),
    );
  }

  /** `promise`: the failsafe promise in force, as this cycle read it. */
  private async heartbeat(promise?: MemberFacts['promise']): Promise<void> {
    // Said once per distinct problem, not every heartbeat.
    let complaint: string | undefined;
    const lastAction = await readLastAction(this.rt.paths.lastAction, (why) => {
      complaint = why;
      if (why !== this.lastActionComplaint)
        this.rt.logger.warn('the last action outcome file is not readable; not reported', { error: why });
    });
    this.lastActionComplaint = complaint;
    const facts = {
      observation: this.observation,
      local: this.local,
      postmasterAlive: this.postmasterAlive,
      bootstrapping: this.firstStart.busy,
      starting: this.starter.busy,
      rvn: randomUUID(),
      now: this.wallClock(),
      versions: { agent: AGENT_VERSION, ...(this.pgVersion ? { postgres: this.pgVersion } : {}) },
      paused: this.clusterConfig.pause,
      ...(promise ? { promise } : {}),
      failsafeActive: this.failsafe.active,
      ...(lastAction ? { lastAction } : {}),
      ...(this.observation.systemIdentifier ? { systemIdentifier: this.observation.systemIdentifier } : {}),
    };
    try {
      await this.rt.store.putMember(this.rt.config.scope, buildMember(this.rt.config, facts));
      this.lastStoreSuccessAt = this.wallClock();
    } catch (error) {
      this.rt.logger.warn('heartbeat failed', {
        error: (error as Error).message,
        role: memberRole(facts),
        state: memberState(facts),
      });
    }
  }
}
