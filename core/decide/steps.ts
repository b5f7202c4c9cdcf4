import type { FencingMode } from '../config/cluster-config.ts';
import type { HistoryRow, Op } from '../model/items.ts';

/** The actions an agent runs when the command bus invokes it (DESIGN §5). */
export const AGENT_ACTIONS = [
  'promote',
  'demote',
  'fence',
  'rejoin',
  'reinit',
  'restart',
  'reload',
  'set-sync',
  'upgrade-agent',
] as const;
export type AgentAction = (typeof AGENT_ACTIONS)[number];

/** The kinds of notification (the SNS message attribute `type`). */
export const NOTIFY_EVENT_TYPES = [
  'primary_changed',
  'failover_refused',
  'operation_aborted',
  'split_brain_suspected',
  'failsafe_active',
  'malformed_item',
] as const;

/** What the controller notifies people of (SNS, or the local log). */
export interface NotifyEvent {
  readonly type: (typeof NOTIFY_EVENT_TYPES)[number];
  readonly cluster: string;
  readonly message: string;
  readonly term?: number;
}

/**
 * One thing the controller carries out. Steps of one decision run in order and stop at the
 * first failure; every write is conditional, so running a step twice is harmless.
 * `onSuccess` is the operation as it must be stored once the step has succeeded.
 */
export type Step =
  /** Create the `op` item; fails if one exists. */
  | { readonly kind: 'begin_op'; readonly op: Op }
  /** Replace the `op` item if its stored version is `op.version - 1`. */
  | { readonly kind: 'update_op'; readonly op: Op }
  /** Append the history row (if given, once per term) and delete the `op` item at `op.version`. */
  | { readonly kind: 'end_op'; readonly op: Op; readonly history?: HistoryRow }
  /** Leader to `to` at `term + 1`, if the lease still is at `rvn` and `term` (DESIGN §3). */
  | {
      readonly kind: 'take_over';
      readonly from?: string;
      readonly to: string;
      readonly term: number;
      readonly rvn?: string;
      readonly onSuccess?: Op;
    }
  /** Leader from `from` to `to` at `term + 1`, if `from` still holds it at `term` (switchover). */
  | {
      readonly kind: 'hand_over';
      readonly from: string;
      readonly to: string;
      readonly term: number;
      /** Standbys recorded at once for the new primary to wait for (synchronous_mode). */
      readonly sync?: readonly string[];
      readonly onSuccess?: Op;
    }
  /** Record the synchronous standbys in the leader item, if `holder` still holds it at `term`. */
  | {
      readonly kind: 'record_sync';
      readonly holder: string;
      readonly term: number;
      readonly standbys: readonly string[];
    }
  /** Run an agent action on one member through the command bus. */
  | {
      readonly kind: 'command';
      readonly action: AgentAction;
      readonly member: string;
      readonly term: number;
      readonly leader?: string;
      readonly standbys?: readonly string[];
      readonly onSuccess?: Op;
      /** The operation whose attempts count this command's failures. */
      readonly countsFor?: Op;
      /**
       * false: sent, not waited for. A rejoin's outcome shows in the member's heartbeats and the
       * next evaluation asks again if needed; waiting for it (a pg_rewind, a rebuild) would keep
       * the cluster's next evaluation, and so the detection of a new failure, waiting too.
       */
      readonly wait?: false;
    }
  /** Make sure a member can no longer accept writes, per the cluster's fencing mode. */
  | {
      readonly kind: 'fence';
      readonly member: string;
      readonly instanceId?: string;
      readonly term: number;
      readonly mode: FencingMode;
      readonly timeoutMs: number;
      readonly onSuccess?: Op;
      readonly countsFor?: Op;
    }
  /** Record the intent's outcome (ok, message) if it still has this id; it stays as a receipt. */
  | { readonly kind: 'resolve_intent'; readonly id: string; readonly ok: boolean; readonly message: string }
  | { readonly kind: 'notify'; readonly event: NotifyEvent };

export type StepKind = Step['kind'];

/** The outcome of one evaluation: which rule matched, why, and what to do. */
export interface Decision {
  readonly rule: number;
  readonly reason: string;
  readonly steps: readonly Step[];
  /** Refusal key to remember in the `observer` item (notify each refusal once); null clears it. */
  readonly notice?: string | null;
  /**
   * Members asked to rejoin now, with their target (rate limit kept in the `observer` item) and
   * `seen`, the member's last_action.at then (a failure reported after it is a new one).
   */
  readonly rejoinRequested?: readonly {
    readonly member: string;
    readonly target: string;
    readonly seen?: number;
  }[];
}
