/**
 * The agent's per-cycle decision as data (STYLE.md habit 2, pg_auto_failover's keeper
 * transitions): what it does with PostgreSQL and the lease is a pure function of what it has
 * observed; the daemon only gathers the facts and performs the steps.
 */

/** What woke the decision: the loop's cycle, the renewal timer, or the lease keeper's loss. */
export type AgentEvent = 'cycle' | 'renewal-timer' | 'lease-lost';

/** What this node should be (the local state file, written by actions and self-fencing). */
export interface AgentLocal {
  readonly want: 'primary' | 'replica' | 'stopped';
  readonly term: number;
  readonly stopped_reason?: 'fenced' | 'demoted' | 'bootstrap' | undefined;
}

/** Everything one decision reads; gathered by the daemon just before it decides. */
export interface AgentFacts {
  /** Milliseconds on the machine's monotonic clock. */
  readonly now: number;
  /** The store says this member's bootstrap is unfinished (only from a consistent read). */
  readonly bootstrapPending: boolean;
  /** The data directory is empty (no cluster in it, nothing being created there by an action). */
  readonly dataDirEmpty: boolean;
  /** The local state file; undefined when there is none. */
  readonly local: AgentLocal | undefined;
  /** An action process holds the action lock. */
  readonly actionBusy: boolean;
  /** The action holding the lock asked the daemon to start PostgreSQL. */
  readonly startRequested: boolean;
  readonly pg: {
    /** PostgreSQL answered this cycle's queries. */
    readonly reachable: boolean;
    readonly inRecovery: boolean | undefined;
    readonly postmasterAlive: boolean;
    /** The daemon's own start of PostgreSQL is under way. */
    readonly starting: boolean;
  };
  /** This cycle's consistent read shows the lease held by this member at the local term. */
  readonly leaseHeldAtTerm: boolean;
  /** The result of this decision's renewal, once it was made. */
  readonly renewal?: 'renewed' | 'lost' | 'error';
  /** The lease keeper's loss, for the `lease-lost` event. */
  readonly leaseLoss?: { readonly reason: 'taken' | 'deadline'; readonly detail: string };
  /** The local state file differs from the one the last cycle acted on (renewal timer). */
  readonly localChangedSinceCycle?: boolean;
  /** Milliseconds since the last renewal began (the renewal timer's test). */
  readonly sinceRenewalBeganMs: number;
  readonly leaseRemainingMs: number;
  readonly failsafeActive: boolean;
  /** The failsafe promise this member made and that is still in force (DESIGN §3). */
  readonly promise?: { readonly holder: string; readonly term: number; readonly remaining_ms: number };
  readonly bootstrapping: boolean;
  readonly config: {
    readonly pause: boolean;
    readonly loop_wait: number;
    readonly primary_start_timeout: number;
    readonly use_slots: boolean;
  };
}

/** What the agent remembers between decisions; each decision returns the next value. */
export interface AgentMemory {
  /** Self-fencing began: /primary answers 503, the lease is not relied on. */
  readonly fencing: boolean;
  /** Monotonic time since which PostgreSQL has been down while this member held the lease. */
  readonly troubleSince?: number;
}

export const INITIAL_MEMORY: AgentMemory = { fencing: false };

/** The I/O a decision asks of the daemon, in order. */
export type AgentStep =
  | { readonly kind: 'bootstrap' }
  | { readonly kind: 'adopt-data-directory' }
  | { readonly kind: 'renew-lease' }
  | { readonly kind: 'forget-lease' }
  | { readonly kind: 'fence'; readonly why: string }
  | { readonly kind: 'release-lease' }
  | { readonly kind: 'keep-slots' }
  | { readonly kind: 'start-primary'; readonly callback: 'on_start' | 'on_restart' }
  | { readonly kind: 'start-replica'; readonly why: string }
  | { readonly kind: 'stop-rogue-primary' }
  | { readonly kind: 'stop-postgres' };

export interface AgentDecision {
  readonly rule: number;
  readonly reason: string;
  readonly steps: readonly AgentStep[];
  /** How loud the reason is in the log: the daemon logs it when the rule or reason changes. */
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  /** Perform the steps, gather the facts again and decide again (renewal, adoption). */
  readonly again?: boolean;
  /** Look again sooner than loop_wait. */
  readonly retrySoon?: boolean;
  readonly memory: AgentMemory;
}

export type AgentOutcome = Omit<AgentDecision, 'rule' | 'memory' | 'level'> & {
  readonly level?: AgentDecision['level'];
  readonly memory?: AgentMemory;
};

/** One row of the agent's table: first match wins among the rows of the event. */
export interface AgentRule {
  readonly id: number;
  readonly on: AgentEvent;
  /** The condition in words, for the generated table in docs/rules.md. */
  readonly when: string;
  readonly decide: (facts: AgentFacts, memory: AgentMemory) => AgentOutcome | undefined;
}

/** Tries the rows of `event` in order; the first outcome is the decision. */
export function decideAgent(
  rules: readonly AgentRule[],
  event: AgentEvent,
  facts: AgentFacts,
  memory: AgentMemory,
): AgentDecision {
  for (const rule of rules) {
    if (rule.on !== event) continue;
    const outcome = rule.decide(facts, memory);
    if (outcome) return { level: 'debug', ...outcome, rule: rule.id, memory: outcome.memory ?? memory };
  }
  throw new Error(`no agent rule matched the ${event} event: the table must end with a catch-all row`);
}
