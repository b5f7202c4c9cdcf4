import type { ClusterConfig } from '../config/cluster-config.ts';
import type { Observations } from '../lease/observe.ts';
import type { Intent, Leader, Member, Op } from '../model/items.ts';
import type { ClusterSnapshot } from '../model/snapshot.ts';
import type { Decision } from './steps.ts';

/** What a matching rule returns; the driver adds the rule id. */
export type RuleOutcome = Omit<Decision, 'rule'>;

/** The state of the cluster's operation that a rule applies to. */
export type OpState =
  | 'any'
  | 'idle'
  | 'failover:takeover'
  | 'failover:fence'
  | 'failover:promote'
  | 'failover:repoint'
  | 'switchover:demote'
  | 'switchover:catchup'
  | 'switchover:promote'
  | 'switchover:repoint';

/** What every rule reads: one immutable snapshot, the controller's observations, the config. */
export interface RuleContext {
  readonly snapshot: ClusterSnapshot;
  readonly observations: Observations;
  readonly config: ClusterConfig;
  /** False when the stored config item was malformed and `config` holds the defaults. */
  readonly configValid: boolean;
  readonly now: number;
  readonly leader?: Leader;
  /** The member item of the lease holder, when it has one. */
  readonly holder?: Member;
  readonly op?: Op;
  /** The operator intent not yet resolved by the controller. */
  readonly pendingIntent: Intent | undefined;
  readonly state: OpState;
  member(name: string | undefined): Member | undefined;
  isFresh(name: string | undefined): boolean;
}

/** One row of the rule table: first match wins within the rows of the current state. */
export interface Rule {
  readonly id: number;
  readonly state: OpState;
  /** The condition in words, for the generated diagram and the docs. */
  readonly when: string;
  /** States this rule can move the operation to (diagram edges). */
  readonly next?: readonly OpState[];
  readonly decide: (ctx: RuleContext) => RuleOutcome | undefined;
}

export function opStateOf(op: Op | undefined): OpState {
  return op ? (`${op.kind}:${op.step}` as OpState) : 'idle';
}

export function buildContext(
  snapshot: ClusterSnapshot,
  observations: Observations,
  config: ClusterConfig,
  now: number,
  configValid = true,
): RuleContext {
  const byName = new Map(snapshot.members.map((m) => [m.name, m]));
  return {
    snapshot,
    observations,
    config,
    configValid,
    now,
    ...(snapshot.leader ? { leader: snapshot.leader } : {}),
    ...(snapshot.leader && byName.has(snapshot.leader.holder)
      ? { holder: byName.get(snapshot.leader.holder)! }
      : {}),
    ...(snapshot.op ? { op: snapshot.op } : {}),
    pendingIntent: snapshot.intent && !snapshot.intent.outcome ? snapshot.intent : undefined,
    state: opStateOf(snapshot.op),
    member: (name) => (name === undefined ? undefined : byName.get(name)),
    isFresh: (name) => (name === undefined ? false : observations.members[name]?.fresh === true),
  };
}
