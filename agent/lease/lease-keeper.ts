import type { ClusterConfig } from '../../core/config/cluster-config.ts';
import { ConditionFailedError } from '../../core/errors.ts';
import { isLeaseLocallyValid, localLeaseDeadline } from '../../core/lease/lease-deadline.ts';
import type { CoordinationStore } from '../../core/store/coordination-store.ts';

export type LeaseLossReason = 'taken' | 'deadline';

export interface LeaseKeeperOptions {
  readonly store: CoordinationStore;
  readonly cluster: string;
  readonly member: string;
  /** Monotonic milliseconds (performance.now in production). */
  readonly monotonic: () => number;
  readonly wallClock: () => number;
  /** Called once per loss: the lease was taken (ConditionalCheckFailed) or its local deadline passed. */
  readonly onLost: (reason: LeaseLossReason, detail: string) => void;
}

/**
 * Holds the leader lease on the primary (DESIGN §3). The local deadline runs from when the
 * renewal *began*; a timer fires at the deadline, independent of any request still in flight.
 */
export class LeaseKeeper {
  private deadline: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private heldTerm: number | undefined;
  private lastSuccessAt: number | undefined;
  private inFlight: { term: number; result: Promise<'renewed' | 'lost' | 'error'> } | undefined;
  private lastBegan = Number.NEGATIVE_INFINITY;
  private lastRenewedBegan = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: LeaseKeeperOptions) {}

  /** Milliseconds since the last renewal began (Infinity before the first). */
  sinceRenewalBegan(now = this.options.monotonic()): number {
    return now - this.lastBegan;
  }

  /** Milliseconds since the last *successful* renewal began (Infinity before the first). */
  sinceRenewed(now = this.options.monotonic()): number {
    return now - this.lastRenewedBegan;
  }

  get term(): number | undefined {
    return this.heldTerm;
  }

  /** Milliseconds of local validity left (0 when invalid). */
  remainingMs(now = this.options.monotonic()): number {
    return this.isValid(now) ? this.deadline! - now : 0;
  }

  isValid(now = this.options.monotonic()): boolean {
    return isLeaseLocallyValid(this.deadline, now);
  }

  lastSuccess(): number | undefined {
    return this.lastSuccessAt;
  }

  /**
   * One renewal attempt. `renewed`: valid until the new deadline. `lost`: someone else holds it
   * (onLost already called). `error`: the store failed; the deadline is unchanged and the timer
   * will fence if no later attempt succeeds.
   */
  renew(
    term: number,
    config: Pick<ClusterConfig, 'ttl' | 'safety_margin'>,
    position: { lsn: number; timeline: number; timelineSwitchLsn?: number | null },
  ): Promise<'renewed' | 'lost' | 'error'> {
    // One at a time: a caller arriving meanwhile for the same term shares the renewal in flight.
    if (this.inFlight?.term === term) return this.inFlight.result;
    this.lastBegan = this.options.monotonic();
    const result = this.attempt(this.lastBegan, term, config, position).finally(() => {
      if (this.inFlight?.result === result) this.inFlight = undefined;
    });
    this.inFlight = { term, result };
    return result;
  }

  /** `t0`: when the renewal began, where its local deadline counts from (DESIGN §3). */
  private async attempt(
    t0: number,
    term: number,
    config: Pick<ClusterConfig, 'ttl' | 'safety_margin'>,
    position: { lsn: number; timeline: number; timelineSwitchLsn?: number | null },
  ): Promise<'renewed' | 'lost' | 'error'> {
    try {
      await this.options.store.renewLease(this.options.cluster, {
        holder: this.options.member,
        term,
        ttl: config.ttl,
        lsn: position.lsn,
        timeline: position.timeline,
        ...(position.timelineSwitchLsn === undefined
          ? {}
          : { timelineSwitchLsn: position.timelineSwitchLsn }),
        renewedAt: this.options.wallClock(),
      });
    } catch (error) {
      if (error instanceof ConditionFailedError) {
        this.lose('taken', error.message);
        return 'lost';
      }
      return 'error';
    }
    if (this.heldTerm !== undefined && this.heldTerm !== term) this.clear();
    this.heldTerm = term;
    this.lastSuccessAt = this.options.wallClock();
    this.lastRenewedBegan = Math.max(this.lastRenewedBegan, t0);
    this.arm(localLeaseDeadline(t0, config));
    return 'renewed';
  }

  /**
   * Failsafe (DESIGN §3): every member of S answered a ping round that began at `t1`, so the
   * lease held at `term` is locally valid until `t1 + ttl - safety_margin`, as after a renewal.
   * Returns false when this keeper does not hold the lease at `term` (nothing is extended).
   */
  extend(term: number, t1: number, config: Pick<ClusterConfig, 'ttl' | 'safety_margin'>): boolean {
    if (this.heldTerm !== term || !this.isValid()) return false;
    this.arm(localLeaseDeadline(t1, config));
    return true;
  }

  private arm(deadline: number): void {
    if (this.deadline !== undefined && deadline <= this.deadline) return;
    this.deadline = deadline;
    this.schedule();
  }

  /** Timers may fire a little early against the monotonic clock: re-arm until truly past. */
  private schedule(): void {
    clearTimeout(this.timer);
    if (this.deadline === undefined) return;
    this.timer = setTimeout(
      () => {
        if (this.isValid()) this.schedule();
        else this.lose('deadline', 'the lease was not renewed before its local deadline');
      },
      Math.max(1, Math.ceil(this.deadline - this.options.monotonic())),
    );
    this.timer.unref?.();
  }

  private lose(reason: LeaseLossReason, detail: string): void {
    const held = this.heldTerm !== undefined;
    this.clear();
    if (held) this.options.onLost(reason, detail);
  }

  /** Forget the lease without calling onLost (demoted, released, or shutting down). */
  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.deadline = undefined;
    this.heldTerm = undefined;
  }
}
