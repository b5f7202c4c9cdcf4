import type { Logger } from '@aws-lambda-powertools/logger';
import type { ClusterConfig } from '../../core/config/cluster-config.ts';
import type { ClusterSnapshot } from '../../core/model/snapshot.ts';
import { restapiAuthorization, restapiClientOptions } from '../health/restapi-tls.ts';
import type { LeaseKeeper } from '../lease/lease-keeper.ts';
import type { AgentRuntime } from '../runtime.ts';
import { failsafeRound, type PingTransport } from './failsafe-round.ts';

/**
 * The primary side of failsafe (DESIGN §3). It keeps, from every consistent snapshot the agent
 * reads, when each member's heartbeat last changed (on the monotonic clock): S is the members
 * whose heartbeat changed within a ttl of the last snapshot. When a renewal fails for another
 * reason than a lost condition, a round pings every member of S (at most one round a
 * loop_wait); if all of them accept, the lease is valid again from the round's start.
 */
export class FailsafePrimary {
  private readonly seen = new Map<string, { rvn: string; at: number }>();
  private snapshot: ClusterSnapshot | undefined;
  private snapshotAt = Number.NEGATIVE_INFINITY;
  private lastRoundAt = Number.NEGATIVE_INFINITY;
  private round: Promise<void> | undefined;
  private activeSince: number | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: {
      readonly cluster: string;
      readonly me: string;
      readonly secret: string | undefined;
      readonly lease: LeaseKeeper;
      readonly monotonic: () => number;
      readonly wallClock: () => number;
      readonly logger: Logger;
      /** TLS and Basic auth of the members' REST APIs (Patroni's restapi settings). */
      readonly transport?: PingTransport;
    },
  ) {}

  /** The lease is kept by pings right now (shown in /patroni, metrics and the heartbeat). */
  get active(): boolean {
    return this.activeSince !== undefined;
  }

  /** A consistent snapshot was read at `now`. */
  observe(snapshot: ClusterSnapshot, now = this.deps.monotonic()): void {
    this.snapshot = snapshot;
    this.snapshotAt = now;
    for (const m of snapshot.members) {
      const known = this.seen.get(m.name);
      if (known?.rvn !== m.rvn) this.seen.set(m.name, { rvn: m.rvn, at: now });
    }
  }

  /** S: the other members that were fresh in the last consistent snapshot. */
  members(config: Pick<ClusterConfig, 'ttl'>): { name: string; api_url: string }[] {
    return (this.snapshot?.members ?? []).filter((m) => {
      const seen = this.seen.get(m.name);
      return m.name !== this.deps.me && seen !== undefined && this.snapshotAt - seen.at < config.ttl * 1000;
    });
  }

  /**
   * Watches the renewals on a timer of its own (a renewal hanging in its retries must not hold it
   * up): one that has not succeeded for 1.5 loop_waits has failed, other than by a lost condition
   * (which fences at once), and starts a round, well before the local deadline. `term` names the
   * lease this primary holds, or undefined when it is not (or no longer) primary.
   */
  start(term: () => number | undefined, config: () => ClusterConfig): void {
    const every = Math.max(100, (config().loop_wait * 1000) / 4);
    this.timer = setInterval(() => {
      const held = term();
      const cfg = config();
      if (held === undefined || !this.deps.lease.isValid()) return;
      if (this.deps.lease.sinceRenewed() > 1.5 * cfg.loop_wait * 1000) void this.overdue(held, cfg);
    }, every);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** What a renewal attempt at `term` came to: a success ends failsafe, a lost condition too. */
  afterRenewal(result: 'renewed' | 'lost' | 'error', term: number): void {
    if (result === 'error') return;
    if (result === 'renewed' && this.activeSince !== undefined)
      this.deps.logger.warn('left failsafe: the lease renews through DynamoDB again', { term });
    this.activeSince = undefined;
  }

  /** A round for the lease at `term` (at most one a loop_wait, one at a time). */
  private async overdue(term: number, config: ClusterConfig): Promise<void> {
    if (!config.failsafe_mode || config.pause) return;
    if (!this.deps.secret) {
      this.deps.logger.warn(
        'failsafe_mode is on but no failsafe secret is configured: fencing at the deadline',
      );
      return;
    }
    if (this.round) return this.round;
    if (this.deps.monotonic() - this.lastRoundAt < config.loop_wait * 1000) return;
    this.round = this.runRound(term, config).finally(() => {
      this.round = undefined;
    });
    return this.round;
  }

  private async runRound(term: number, config: ClusterConfig): Promise<void> {
    const t1 = this.deps.monotonic();
    this.lastRoundAt = t1;
    const members = this.members(config);
    const ping = {
      cluster: this.deps.cluster,
      term,
      from: this.deps.me,
      sent_at: Math.max(1, Math.round(this.deps.wallClock())),
    };
    const { answered, missing } = await failsafeRound(
      members,
      ping,
      this.deps.secret!,
      Math.max(200, Math.min(2000, config.loop_wait * 1000)),
      this.deps.transport,
    );
    if (missing.length > 0) {
      this.deps.logger.error(
        'failsafe: not every member answered; the lease is not extended and this primary fences at its deadline',
        {
          term,
          answered,
          missing,
        },
      );
      return;
    }
    if (!this.deps.lease.extend(term, t1, config)) return;
    if (this.activeSince === undefined) {
      this.activeSince = t1;
      this.deps.logger.warn(
        'entered failsafe: DynamoDB is out of reach, every member answered; staying primary',
        {
          term,
          members: answered,
        },
      );
    }
  }
}

/** The primary side of failsafe for this agent: its cluster, secret and the REST API's TLS and auth. */
export function failsafePrimaryOf(
  rt: Pick<AgentRuntime, 'config' | 'logger'>,
  lease: LeaseKeeper,
  monotonic: () => number,
  wallClock: () => number,
): FailsafePrimary {
  return new FailsafePrimary({
    cluster: rt.config.scope,
    me: rt.config.name,
    secret: rt.config.failsafe.secret,
    lease,
    monotonic,
    wallClock,
    logger: rt.logger,
    transport: {
      tls: restapiClientOptions(rt.config.restapi),
      authorization: restapiAuthorization(rt.config.restapi),
    },
  });
}
