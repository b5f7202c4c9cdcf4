import type { ClusterConfigInput } from '../config/cluster-config.ts';
import type {
  HistoryRow,
  Initialize,
  Intent,
  Leader,
  Member,
  Observer,
  Op,
  OpCommand,
} from '../model/items.ts';
import type { ClusterSnapshot } from '../model/snapshot.ts';

/** What a renewal writes: the holder's position, and where its timeline began. */
export interface LeaseRenewal {
  readonly holder: string;
  readonly term: number;
  readonly ttl: number;
  readonly lsn: number;
  readonly timeline: number;
  /** Where `timeline` branched off the one before (null on timeline 1); unchanged when absent. */
  readonly timelineSwitchLsn?: number | null;
  readonly renewedAt: number;
}

/**
 * The coordination store (the role etcd plays for Patroni). Every write is one single-item
 * conditional write; reads that decide anything are consistent.
 *
 * Errors, for every method: `ConditionFailedError` when a condition did not hold (someone
 * else wrote first; not retryable as is), `StoreUnavailableError` when the store could not be
 * reached or failed transiently (retryable). Time budget: one request, bounded by the client's
 * request timeout (DynamoDB adapter: `requestTimeoutMs`, default 1000 ms, a few retries inside).
 */
export interface CoordinationStore {
  /**
   * One consistent Query of the cluster's partition. Malformed items are skipped and listed in
   * `malformed`; they never make the call fail.
   */
  getSnapshot(cluster: string): Promise<ClusterSnapshot>;

  /** Consistent read of the leader item; undefined when there is none. */
  getLeader(cluster: string): Promise<Leader | undefined>;

  /** Every registered cluster name (one Query of the registry partition). */
  listClusters(): Promise<string[]>;

  /** Adds the cluster to the registry. Idempotent. */
  registerCluster(cluster: string, by: string, now: number): Promise<void>;

  /** Removes every item of the cluster and its registry row. Not atomic: safe to repeat. */
  removeCluster(cluster: string): Promise<number>;

  /** Writes the agent's own heartbeat item (unconditional: only that agent writes it). */
  putMember(cluster: string, member: Member): Promise<void>;

  /** Deletes a member item (a host removed for good). Idempotent. */
  deleteMember(cluster: string, name: string): Promise<void>;

  /** Claims the right to run initdb. True for exactly one caller; false when already claimed. */
  claimInitialize(cluster: string, init: Initialize): Promise<boolean>;

  /** Fills in the system identifier after initdb, if `by` still is the initializer. */
  completeInitialize(cluster: string, by: string, systemIdentifier: string): Promise<void>;

  /** Creates the first lease (term 1) for the initializer; ConditionFailed if a leader exists. */
  createLeader(
    cluster: string,
    lease: { holder: string; ttl: number; lsn: number; timeline: number },
  ): Promise<Leader>;

  /**
   * Renews the lease: new rvn, ttl, LSN and timeline, IF holder = `holder` AND term = `term`.
   * ConditionFailed means the lease is lost: the caller must fence at once.
   */
  renewLease(cluster: string, lease: LeaseRenewal): Promise<Leader>;

  /**
   * Gives the lease up (`released` = true, new rvn) IF holder and term match, so the controller
   * fails over without waiting out the ttl.
   */
  releaseLease(cluster: string, lease: { holder: string; term: number }): Promise<void>;

  /**
   * Failover takeover: holder = `to`, term = `term + 1`, new rvn, sync cleared, IF rvn = `rvn`
   * AND term = `term` (or, with no `rvn`, IF there is no leader item). The old holder can never
   * renew after this succeeds.
   */
  takeOverLease(
    cluster: string,
    takeover: { to: string; term: number; rvn?: string; ttl: number },
  ): Promise<Leader>;

  /**
   * Switchover hand-over: holder = `to`, term + 1, IF holder = `from` AND term = `term`. `sync`
   * (default none) are the standbys the new primary will wait for: recorded before it promotes.
   */
  handOverLease(
    cluster: string,
    handover: { from: string; to: string; term: number; ttl: number; sync?: readonly string[] },
  ): Promise<Leader>;

  /** Records the synchronous standbys IF holder and term match (new rvn). */
  recordSync(
    cluster: string,
    sync: { holder: string; term: number; standbys: readonly string[] },
  ): Promise<void>;

  /** The config item's data and version; version 0 and `{}` when it was never written. */
  getConfig(cluster: string): Promise<{ version: number; data: Record<string, unknown> }>;

  /** Writes the config IF its stored version is `expectedVersion` (0: IF absent). Returns the new version. */
  putConfig(
    cluster: string,
    data: ClusterConfigInput | Record<string, unknown>,
    expectedVersion: number,
    by: string,
    now: number,
  ): Promise<number>;

  /** Stores an operator intent; with `onlyIfAbsent`, ConditionFailed when one is pending (no outcome yet). */
  putIntent(cluster: string, intent: Intent, options?: { onlyIfAbsent?: boolean }): Promise<void>;

  /** Deletes the intent IF it still has this id. False when it was already gone or replaced. */
  deleteIntent(cluster: string, id: string): Promise<boolean>;

  /** Records the controller's outcome on the intent IF it still has this id. False otherwise. */
  resolveIntent(
    cluster: string,
    id: string,
    outcome: { ok: boolean; message: string; at: number },
  ): Promise<boolean>;

  /** Creates the op item IF none exists. */
  beginOp(cluster: string, op: Op): Promise<void>;

  /** Replaces the op item IF its stored version is `op.version - 1`. */
  updateOp(cluster: string, op: Op): Promise<void>;

  /**
   * Notes the command the operation's current step sent, IF the op item is still `op` (same id
   * and version); the version does not change, so the step's own update still applies. Lets
   * the next invocation read that command's result instead of sending it again (DESIGN §6).
   * `null` forgets it (the command ended in a way that must be tried again).
   */
  recordOpCommand(cluster: string, op: Op, command: OpCommand | null): Promise<void>;

  /** Deletes the op item IF its stored version is `op.version`. */
  endOp(cluster: string, op: Op): Promise<void>;

  /** Stores the observer item IF its stored version is `observer.version`; returns the new version. */
  putObserver(cluster: string, observer: Observer): Promise<number>;

  /** Appends a history row IF none exists for its term. False when it already existed. */
  appendHistory(cluster: string, row: HistoryRow): Promise<boolean>;
}
