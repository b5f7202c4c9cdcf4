import { randomUUID } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ClusterConfig } from '../../core/config/cluster-config.ts';
import type { ClusterSnapshot } from '../../core/model/snapshot.ts';
import { runCallback } from '../callbacks.ts';
import { FailsafePrimary } from '../failsafe/failsafe-primary.ts';
import { LeaseKeeper, type LeaseLossReason } from '../lease/lease-keeper.ts';
import { setStandbySignal } from '../postgres/pg-conf.ts';
import type { PgObservation } from '../postgres/pg-observer.ts';
import { SlotKeeper } from '../postgres/replication-slots.ts';
import { startAsPrimary, startAsReplica } from '../postgres/start-as.ts';
import { type AgentRuntime, clusterConfigOf } from '../runtime.ts';
import { actionLockHolder } from '../state/action-lock.ts';
import { type LocalState, readLocalState, writeLocalState } from '../state/local-state.ts';
import { startRequested } from '../state/start-request.ts';
import { cycleBudgetMs } from '../systemd/watchdog.ts';
import { AGENT_VERSION } from '../version.ts';
import type { AgentStatus, DaemonOptions } from './agent-status.ts';
import {
  adoptExistingData,
  bootstrapMember,
  initializationPending,
  prepareDirectories,
} from './bootstrap.ts';
import { buildMember, memberEndpoint, memberRole, memberState } from './build-member.ts';
import { cyclePeriodMs } from './cycle-period.ts';
import { PostgresStarter } from './postgres-starter.ts';

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
  private troubleSince: number | undefined;
  private fencing = false;
  private bootstrapping = false;
  private lastCycleAt: number | undefined;
  private lastStoreSuccessAt: number | undefined;
  private pgVersion: string | undefined;
  private wake: (() => void) | undefined;
  private watcher: FSWatcher | undefined;
  private stopped = false;
  private readonly slots: SlotKeeper;
  private readonly failsafe: FailsafePrimary;
  private parsedConfig: { from: ClusterSnapshot | undefined; config: ClusterConfig } | undefined;
  private keeperTimer: NodeJS.Timeout | undefined;
  private cycleStartedAt: number | undefined;

  constructor(
    private readonly rt: AgentRuntime,
    options: DaemonOptions = {},
  ) {
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
    this.starter = new PostgresStarter(rt, () => this.wake?.());
    this.failsafe = new FailsafePrimary({
      cluster: rt.config.scope,
      me: rt.config.name,
      secret: rt.config.failsafe.secret,
      lease: this.lease,
      monotonic: this.monotonic,
      wallClock: this.wallClock,
      logger: rt.logger,
    });
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
      leaseValid: this.lease.isValid() && !this.fencing,
      leaseRemainingMs: this.lease.remainingMs(),
      fencing: this.fencing,
      postmasterAlive: this.postmasterAlive,
      bootstrapping: this.bootstrapping,
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
    // Wake at once when an action finishes (lock removed) or changes the local state; nothing else
    // in the directory (PostgreSQL's log and socket live there too) may spin the loop.
    const wakeOn = new Set(
      [
        this.rt.paths.actionLock,
        this.rt.paths.localState,
        this.rt.paths.startRequest,
        // A new failsafe promise goes into the next heartbeat at once: the controller looks for it.
        this.rt.paths.failsafeFile,
      ].map((p) => basename(p)),
    );
    this.watcher = watch(this.rt.paths.stateDir, (_event, file) => {
      if (file && wakeOn.has(String(file))) this.wake?.();
    });
    this.watcher.on('error', () => {});
    this.scheduleRenewalKeeper();
    this.failsafe.start(
      () => (!this.stopped && !this.fencing && this.local?.want === 'primary' ? this.local.term : undefined),
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
      await this.sleep(Math.max(50, period - (this.monotonic() - started)));
    }
  }

  /** False once a cycle has run past its budget (the systemd watchdog is then withheld). */
  healthy(): boolean {
    if (this.cycleStartedAt === undefined) return true;
    const budget = cycleBudgetMs(this.bootstrapping, this.clusterConfig.primary_stop_timeout);
    return this.monotonic() - this.cycleStartedAt <= budget;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.keeperTimer);
    this.failsafe.stop();
    this.watcher?.close();
    this.lease.clear();
    this.wake?.();
    this.rt.observer.close();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
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
    } catch (error) {
      rt.logger.warn('cannot read the cluster from DynamoDB', { error: (error as Error).message });
    }
    const resume = fresh && initializationPending(this.snapshot, rt.config.name);
    if (resume || (!this.local && (await rt.postgres.isDataDirEmpty()))) {
      await this.bootstrap();
      return true;
    }
    this.local = (await readLocalState(rt.paths.localState)) ?? (await adoptExistingData(rt, this.snapshot));
    this.observation = await rt.observer.observe(this.wallClock());
    this.postmasterAlive = (await rt.postgres.postmasterPid()) !== undefined;
    let retrySoon = false;
    const busy = await actionLockHolder(rt.paths.actionLock);
    if (!busy) retrySoon = await this.reconcile();
    else if (await this.startWanted())
      this.starter.onRequest(this.local!, this.snapshot, this.clusterConfig, fresh);
    await this.heartbeat();
    this.lastCycleAt = this.monotonic();
    return retrySoon;
  }

  private async bootstrap(): Promise<void> {
    this.bootstrapping = true;
    try {
      await this.heartbeat();
      const result = await bootstrapMember(this.rt, this.snapshot, this.clusterConfig, {
        renewInitialLease: (term, position) => this.lease.renew(term, this.clusterConfig, position),
        wallClock: this.wallClock,
      });
      if (result) {
        this.local = result;
        this.rt.logger.info('bootstrap finished', { want: result.want, term: result.term });
      }
    } finally {
      this.bootstrapping = false;
    }
  }

  /** An action holding the lock asks for PostgreSQL, which is neither running nor starting. */
  private async startWanted(): Promise<boolean> {
    if (!this.local || this.postmasterAlive || this.starter.busy) return false;
    return startRequested(this.rt.paths.startRequest);
  }

  private async reconcile(): Promise<boolean> {
    const local = this.local;
    if (!local) return false;
    if (local.want === 'primary') return this.keepPrimary(local);
    // Demoted or told to follow: stop tracking the lease without fencing (a hand-over moves it).
    this.lease.clear();
    if (local.want === 'replica') return this.keepReplica(local);
    if (this.postmasterAlive && !this.starter.busy) {
      this.rt.logger.warn('PostgreSQL runs although this member must stay stopped; stopping it', {
        reason: local.stopped_reason,
      });
      await this.rt.postgres.stop(this.clusterConfig.primary_stop_timeout * 1000);
    }
    return false;
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
    });
    this.failsafe.afterRenewal(result, local.term);
    return result;
  }

  /**
   * Renewal every loop_wait even while a cycle is stuck on PostgreSQL (its queries may take their
   * whole timeout, twice): the keeper renews when the cycle has not for a loop_wait. It reads the
   * local state from its file and leaves the lease alone while an action holds the lock, as the
   * cycle does.
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
    if (this.fencing || this.bootstrapping || this.local?.want !== 'primary') return;
    if (this.lease.sinceRenewalBegan() < this.clusterConfig.loop_wait * 1000) return;
    if (await actionLockHolder(this.rt.paths.actionLock)) return;
    const local = await readLocalState(this.rt.paths.localState);
    if (local?.want !== 'primary' || local.term !== this.local?.term) return;
    const obs = this.observation;
    if (obs.reachable && obs.inRecovery) return;
    const result = await this.renewLease(local);
    if (result === 'lost' && !this.fencing) await this.fence('the lease is held by someone else', local);
  }

  private async keepPrimary(local: LocalState): Promise<boolean> {
    const obs = this.observation;
    const cfg = this.clusterConfig;
    if (obs.reachable && obs.inRecovery) return false;
    const result = await this.renewLease(local);
    if (result === 'lost') {
      if (!this.fencing) await this.fence('the lease is held by someone else', local);
      return false;
    }
    if (result === 'error') {
      this.rt.logger.warn('lease renewal failed; retrying until the local deadline', {
        term: local.term,
        remainingMs: Math.round(this.lease.remainingMs()),
      });
      return true;
    }
    this.fencing = false;
    if (obs.reachable) {
      this.troubleSince = undefined;
      if (cfg.postgresql.use_slots && this.snapshot) {
        await this.slots.keep(this.snapshot.members.map((m) => m.name));
      }
      return false;
    }
    // PostgreSQL is down or hung while we hold the lease: restart in place, for a bounded time.
    const now = this.monotonic();
    this.troubleSince ??= now;
    if (now - this.troubleSince >= cfg.primary_start_timeout * 1000 && !cfg.pause) {
      await this.releaseAfterCrash(local);
      return false;
    }
    if (!this.postmasterAlive && !this.starter.busy) {
      this.rt.logger.warn('PostgreSQL is not running on the primary; restarting it in place', {
        term: local.term,
      });
      this.starter.launch(() => startAsPrimary(this.rt, cfg, local.sync_standbys), 'on_restart', 'primary');
    }
    return false;
  }

  private async keepReplica(local: LocalState): Promise<boolean> {
    const obs = this.observation;
    if (obs.reachable && obs.inRecovery === false) {
      this.rt.logger.error('PostgreSQL runs as a primary but this member must be a replica; fencing it');
      await this.rt.postgres.beginFastShutdown();
      await this.rt.postgres.stop(this.clusterConfig.primary_stop_timeout * 1000);
      return true;
    }
    if (!this.postmasterAlive && !this.starter.busy)
      this.starter.replica(local, this.snapshot, this.clusterConfig, 'starting PostgreSQL as a replica');
    return false;
  }

  private onLeaseLost(reason: LeaseLossReason, detail: string): void {
    if (reason === 'deadline' && this.clusterConfig.pause) {
      this.rt.logger.warn('lease deadline passed, but the cluster is paused: not fencing', { detail });
      return;
    }
    const local = this.local;
    void this.fence(`lease lost (${reason}): ${detail}`, local).catch((error) =>
      this.rt.logger.error('self-fencing failed', { error: (error as Error).message }),
    );
  }

  /** Self-fencing (DESIGN §3): /primary answers 503 from this instant; PostgreSQL stops. */
  async fence(why: string, local: LocalState | undefined): Promise<void> {
    this.fencing = true;
    this.lease.clear();
    this.rt.logger.error('fencing myself', { reason: why, term: local?.term });
    await this.rt.postgres.beginFastShutdown();
    this.local = await writeLocalState(this.rt.paths.localState, {
      want: 'stopped',
      stopped_reason: 'fenced',
      term: local?.term ?? 0,
      sync_standbys: [],
      updated_by: 'agent:self-fence',
    });
    await setStandbySignal(this.rt.paths, this.rt.user, true);
    await this.rt.postgres.stop(this.clusterConfig.primary_stop_timeout * 1000);
    runCallback(this.rt.config, this.rt.logger, 'on_role_change', 'demoted');
    this.wake?.();
  }

  /** primary_start_timeout passed: fence and give the lease up so that failover need not wait a ttl. */
  private async releaseAfterCrash(local: LocalState): Promise<void> {
    await this.fence(`PostgreSQL did not come back within primary_start_timeout`, local);
    try {
      await this.rt.store.releaseLease(this.rt.config.scope, {
        holder: this.rt.config.name,
        term: local.term,
      });
      this.rt.logger.warn('released the lease', { term: local.term });
    } catch (error) {
      this.rt.logger.warn('could not release the lease (it will expire)', {
        error: (error as Error).message,
      });
    }
  }

  private async heartbeat(): Promise<void> {
    const promise = await this.rt.promises.inForce().catch(() => undefined);
    const facts = {
      observation: this.observation,
      local: this.local,
      postmasterAlive: this.postmasterAlive,
      bootstrapping: this.bootstrapping,
      starting: this.starter.busy,
      rvn: randomUUID(),
      now: this.wallClock(),
      versions: { agent: AGENT_VERSION, ...(this.pgVersion ? { postgres: this.pgVersion } : {}) },
      paused: this.clusterConfig.pause,
      ...(promise ? { promise } : {}),
      failsafeActive: this.failsafe.active,
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
