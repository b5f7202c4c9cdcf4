import { z } from 'zod';
import { tagsSchema } from '../config/agent-config.ts';
import { memberName } from '../config/units.ts';
import { PgState, Role } from '../constants.ts';

const lsn = z.number({ error: 'an LSN as a byte position' }).int().nonnegative();
const term = z.number({ error: 'a term number' }).int().min(0);
const epochMs = z.number({ error: 'a time in epoch milliseconds' }).nonnegative();
const rvn = z.string({ error: 'a record version (UUID)' }).min(1);

/**
 * `leader`: the lease. `term` is the fencing token (+1 on every change of holder), `rvn` a fresh
 * UUID on every write. `released` marks a lease given up by its holder (no ttl wait needed).
 */
export const leaderSchema = z.object({
  holder: memberName,
  term: term.min(1),
  rvn,
  ttl: z.number().positive(),
  sync: z.array(memberName).default([]),
  lsn: lsn.default(0),
  timeline: z.number().int().min(1).optional(),
  /** Where `timeline` branched off the one before, as the holder's history file says (DESIGN §4). */
  timeline_switch_lsn: lsn.nullable().optional(),
  released: z.boolean().default(false),
  renewed_at: epochMs.optional(),
});
export type Leader = z.output<typeof leaderSchema>;

/** One standby as the primary sees it in pg_stat_replication. */
export const replicationRowSchema = z.object({
  name: z.string(),
  state: z.string(),
  sync_state: z.string(),
  flush_lsn: lsn.nullable(),
  replay_lsn: lsn.nullable(),
  /** What Patroni's /patroni shows of the walsender: role, client address, sync priority. */
  usename: z.string().optional(),
  client_addr: z.string().optional(),
  sync_priority: z.number().int().optional(),
});
export type ReplicationRow = z.output<typeof replicationRowSchema>;

/**
 * The outcome of the last action run on a member, as its heartbeat reports it: the controller
 * sees a rejoin it did not wait for fail, and asks again instead of waiting out command_timeout.
 * `at` is the host's clock: compared only for equality, never with the controller's.
 */
export const lastActionSchema = z.object({
  action: z.string(),
  term: z.number().int().min(0),
  leader: z.string().optional(),
  ok: z.boolean(),
  message: z.string().optional(),
  at: epochMs,
});
export type LastAction = z.output<typeof lastActionSchema>;

/** `member#<name>`: an agent's heartbeat. Host times in it are informational only. */
export const memberSchema = z.object({
  name: memberName,
  role: z.enum(Object.values(Role) as [Role, ...Role[]]),
  state: z.enum(Object.values(PgState) as [PgState, ...PgState[]]),
  timeline: z.number().int().min(1).nullable().default(null),
  /** Primary: the LSN at which its timeline branched off the previous one (null on timeline 1). */
  timeline_switch_lsn: lsn.nullable().default(null),
  write_lsn: lsn.nullable().default(null),
  receive_lsn: lsn.nullable().default(null),
  replay_lsn: lsn.nullable().default(null),
  receiver_state: z.string().nullable().default(null),
  /** The member this replica streams from, when known. */
  upstream: z.string().nullable().default(null),
  /** Primary only: the standbys named in synchronous_standby_names right now. */
  sync_standbys: z.array(z.string()).default([]),
  replication: z.array(replicationRowSchema).default([]),
  pending_restart: z.boolean().default(false),
  /** The agent has seen `pause: true` in the cluster config. */
  paused: z.boolean().default(false),
  tags: tagsSchema,
  /** The tags as configured, filtered as Patroni shows them (boolean tags only when true). */
  shown_tags: z.record(z.string(), z.unknown()).optional(),
  api_url: z.string(),
  conn_url: z.string(),
  instance_id: z.string().optional(),
  versions: z.object({ postgres: z.string().optional(), agent: z.string() }),
  system_identifier: z.string().optional(),
  /** The highest term at which this agent has fenced itself. */
  fenced_term: term.optional(),
  /** A failsafe promise in force: no promotion of this member before `remaining_ms` from its heartbeat. */
  failsafe_promise: z
    .object({ holder: memberName, term: term, remaining_ms: z.number().nonnegative() })
    .optional(),
  /** Primary only: its lease is kept by failsafe pings, DynamoDB being out of reach. */
  last_action: lastActionSchema.optional().catch(undefined),
  failsafe_active: z.boolean().default(false),
  rvn,
  heartbeat_at: epochMs,
});
export type Member = z.output<typeof memberSchema>;

/** `config`: the dynamic cluster configuration as written, and its version for compare-and-set. */
export const configItemSchema = z.object({
  version: z.number().int().min(1),
  data: z.record(z.string(), z.unknown()),
  updated_by: z.string().optional(),
  updated_at: epochMs.optional(),
});
export type ConfigItem = z.output<typeof configItemSchema>;

export const IntentKind = {
  switchover: 'switchover',
  failover: 'failover',
  restart: 'restart',
  reinit: 'reinit',
} as const;
export type IntentKind = (typeof IntentKind)[keyof typeof IntentKind];

/** `intent`: an operator's pending switchover or failover request. */
export const intentSchema = z.object({
  id: z.string().min(1),
  kind: z.enum(['switchover', 'failover', 'restart', 'reinit', 'reload']),
  from: memberName.optional(),
  to: memberName.optional(),
  scheduled_at: epochMs.optional(),
  requested_by: z.string(),
  requested_at: epochMs,
  /** Set by the controller when it is done with the intent: what happened. */
  outcome: z.object({ ok: z.boolean(), message: z.string(), at: epochMs }).optional(),
});
export type Intent = z.output<typeof intentSchema>;

export const OP_STEPS = ['takeover', 'fence', 'promote', 'repoint', 'demote', 'catchup'] as const;
export type OpStep = (typeof OP_STEPS)[number];

/** The last command result the controller recorded in the operation. */
export const commandOutcomeSchema = z.object({
  action: z.string(),
  member: z.string(),
  ok: z.boolean(),
  lsn: lsn.optional(),
  timeline: z.number().int().optional(),
  message: z.string().optional(),
  at: epochMs,
});
export type CommandOutcome = z.output<typeof commandOutcomeSchema>;

/** `op`: the controller's in-flight operation; every change is a compare-and-set on `version`. */
/** The command an operation's step sent and waits for (read again by the next invocation). */
export const opCommandSchema = z.object({
  id: z.string().min(1),
  step: z.string(),
  action: z.string(),
  member: memberName,
  term: term,
  sent_at: epochMs,
});
export type OpCommand = z.output<typeof opCommandSchema>;

export const opSchema = z.object({
  id: z.string().min(1),
  kind: z.enum(['failover', 'switchover']),
  step: z.enum(OP_STEPS),
  from: memberName,
  to: memberName,
  /** Term of the lease when the operation began; the new primary holds `term + 1`. */
  term: term,
  observed_rvn: rvn.optional(),
  /** Members never to pick again in this operation (a failed promotion, say). */
  excluded: z.array(memberName).default([]),
  fenced: z.object({ how: z.string(), at: epochMs }).optional(),
  /** Last LSN of the old primary: its lease LSN (failover) or its clean-stop LSN (switchover). */
  lsn: lsn.optional(),
  last_result: commandOutcomeSchema.optional(),
  command: opCommandSchema.optional(),
  attempts: z.number().int().nonnegative().default(0),
  started_at: epochMs,
  step_started_at: epochMs,
  timings: z.record(z.string(), epochMs).default({}),
  reason: z.string(),
  rule: z.number().int(),
  intent_id: z.string().optional(),
  version: z.number().int().min(1),
});
export type Op = z.output<typeof opSchema>;

const observation = z.object({ rvn, first_seen: epochMs });
export type Observation = z.output<typeof observation>;

/** `observer`: when the controller first saw each record version, on its own clock. */
export const observerSchema = z.object({
  leader: observation.optional(),
  members: z.record(z.string(), observation).default({}),
  /** Key of the last refusal notified, so one refusal is notified once. */
  notice: z.string().optional(),
  /** The failover refusal in force (shown by `list` and `history`) and since when. */
  refusal: z.object({ message: z.string(), since: epochMs }).optional(),
  /**
   * When the controller last asked a member to rejoin, and which primary at which term (`target`):
   * the same request is not repeated within command_timeout; a new target is asked at once.
   * A bare number (before 0.6) reads as a request with no target.
   */
  rejoin_requested: z
    .record(
      z.string(),
      z.union([
        // `seen`: the member's last_action.at when it was asked (a failure reported since is news).
        z.object({ at: epochMs, target: z.string(), seen: z.number().optional() }),
        epochMs.transform((at) => ({ at, target: '' })),
      ]),
    )
    .default({}),
  /** When a controller last made these observations (its clock). */
  observed_at: epochMs.optional(),
  /** Malformed items already logged and notified (`<sort key>: <problem>`): each is said once. */
  malformed_reported: z.array(z.string()).default([]),
  version: z.number().int().min(0).default(0),
});
export type Observer = z.output<typeof observerSchema>;

/** `history#<term>`: one row per change of primary. */
export const historySchema = z.object({
  term: term,
  kind: z.enum(['bootstrap', 'failover', 'switchover']),
  old: memberName.optional(),
  new: memberName,
  reason: z.string(),
  rule: z.number().int(),
  lsn: lsn.optional(),
  at: epochMs,
  timings: z.record(z.string(), z.number()).default({}),
});
export type HistoryRow = z.output<typeof historySchema>;

/** `initialize`: who bootstrapped the cluster (exactly one initdb). */
export const initializeSchema = z.object({
  by: memberName,
  system_identifier: z.string().optional(),
  at: epochMs,
  /** An existing cluster was adopted in place (no initdb): a resumed initialization must not run post_bootstrap. */
  adopted: z.boolean().optional(),
});
export type Initialize = z.output<typeof initializeSchema>;

/** Registry row (`pk` = `#clusters`): one per cluster. */
export const registrySchema = z.object({
  cluster: memberName,
  registered_at: epochMs,
  registered_by: z.string().optional(),
});
export type RegistryRow = z.output<typeof registrySchema>;
