import type { ClusterConfig } from '../config/cluster-config.ts';
import { compareNames, formatBytes, formatLsn } from '../format.ts';
import type { Observations } from '../lease/observe.ts';
import type { Leader, Member } from '../model/items.ts';

export interface Exclusion {
  readonly name: string;
  readonly reason: string;
}

export interface CandidateSelection {
  /** Eligible members, best first: highest received LSN, then failover_priority, then name. */
  readonly eligible: readonly Member[];
  /** Every other member (but the old primary) and why it cannot be promoted. */
  readonly excluded: readonly Exclusion[];
}

export interface SelectionInput {
  readonly members: readonly Member[];
  readonly leader?: Leader;
  readonly observations: Observations;
  readonly config: ClusterConfig;
}

export interface SelectionOptions {
  /** The primary being replaced: never a candidate, never listed. */
  readonly oldPrimary?: string;
  /** Members this operation must not pick again. */
  readonly exclude?: readonly string[];
  /** Switchover: the candidate catches up before promotion, so lag does not exclude it. */
  readonly ignoreLag?: boolean;
}

/** The member's most advanced received position: receive LSN, or replay LSN when not streaming. */
export function receivedLsn(member: Member): number | null {
  if (member.receive_lsn !== null && member.replay_lsn !== null)
    return Math.max(member.receive_lsn, member.replay_lsn);
  return member.receive_lsn ?? member.replay_lsn;
}

/** Why `member` cannot be promoted, or undefined when it can (DESIGN §4, candidate selection). */
export function exclusionReason(
  member: Member,
  input: SelectionInput,
  options: SelectionOptions,
): string | undefined {
  const { config, leader, observations } = input;
  if (options.exclude?.includes(member.name)) return 'failed to promote earlier in this operation';
  const seen = observations.members[member.name];
  if (!seen?.fresh) {
    const age = seen ? `${(seen.unchangedMs / 1000).toFixed(1)} s` : 'ever';
    return `heartbeat unchanged for ${age} (>= ttl ${config.ttl} s)`;
  }
  if (member.state !== 'running') return `PostgreSQL is ${member.state}`;
  if (member.role !== 'replica') return `role is ${member.role}, not replica`;
  if (member.tags.nofailover) return 'tagged nofailover';
  if (member.tags.failover_priority <= 0) return 'failover_priority is 0';
  const expectedTimeline = leader?.timeline;
  if (config.check_timeline && expectedTimeline !== undefined && member.timeline !== expectedTimeline) {
    return `timeline ${member.timeline ?? 'unknown'}, expected ${expectedTimeline} (check_timeline)`;
  }
  // Behind the lease's timeline, a member has not followed the current primary yet. Up to the
  // point where that timeline branched off its own, its WAL is the current timeline's; past it (a
  // demoted old primary not rewound yet, or a replica that streamed from it) the WAL diverged and
  // its position only looks ahead. So its lag is counted from the branch point: the current
  // timeline's writes it lacks. It is a candidate only one timeline behind with that point known.
  // (Found by the fault campaign, issue #18; whatever check_timeline says.)
  const position = leaseTimelinePosition(member, input);
  if (typeof position === 'string') return position;
  const recordedSync = leader?.sync.includes(member.name) ?? false;
  if (config.synchronous_mode && !recordedSync)
    return 'not a recorded synchronous standby (synchronous_mode)';
  if (position === null) return 'reports no received or replayed LSN';
  if (!options.ignoreLag && !(config.synchronous_mode && recordedSync)) {
    const lag = Math.max(0, (leader?.lsn ?? 0) - position);
    if (lag > config.maximum_lag_on_failover) {
      const left =
        position < (receivedLsn(member) ?? 0)
          ? ` (it left timeline ${leader?.timeline} at ${formatLsn(position)})`
          : '';
      return `lag ${formatBytes(lag)}${left} > maximum_lag_on_failover ${formatBytes(config.maximum_lag_on_failover)}`;
    }
  }
  return undefined;
}

/**
 * How far a member holds the lease's timeline: its received position, or — one timeline behind —
 * no further than where the lease's timeline branched off (the lease keeps that point while its
 * holder is gone; else the holder's heartbeat). A string: why it cannot be known.
 */
export function leaseTimelinePosition(
  member: Member,
  input: Pick<SelectionInput, 'members' | 'leader'>,
): number | null | string {
  const received = receivedLsn(member);
  const expected = input.leader?.timeline;
  if (expected === undefined || member.timeline === null || member.timeline >= expected) return received;
  const holder = input.members.find((m) => m.name === input.leader!.holder);
  const branch =
    input.leader!.timeline_switch_lsn ?? (holder?.timeline === expected ? holder.timeline_switch_lsn : null);
  if (member.timeline === expected - 1 && branch !== null)
    return received === null ? null : Math.min(received, branch);
  const why = branch === null ? 'where it branched off is unknown' : 'more than one timeline behind';
  return `timeline ${member.timeline} behind the lease's ${expected} (${why}): its WAL may have diverged`;
}

/** Ranks every member but the old primary; pure and deterministic (ties broken by name). */
export function selectCandidates(input: SelectionInput, options: SelectionOptions = {}): CandidateSelection {
  const eligible: Member[] = [];
  const excluded: Exclusion[] = [];
  for (const member of input.members) {
    if (member.name === options.oldPrimary) continue;
    const reason = exclusionReason(member, input, options);
    if (reason === undefined) eligible.push(member);
    else excluded.push({ name: member.name, reason });
  }
  // By how much of the lease's timeline each holds (a diverged position does not count).
  const held = (m: Member) => {
    const p = leaseTimelinePosition(m, input);
    return typeof p === 'number' ? p : 0;
  };
  eligible.sort(
    (a, b) =>
      held(b) - held(a) ||
      b.tags.failover_priority - a.tags.failover_priority ||
      compareNames(a.name, b.name),
  );
  return { eligible, excluded };
}

/** `node2: lag 3.1 MB > ...; node3: tagged nofailover` — the refusal sentence. */
export function describeExclusions(excluded: readonly Exclusion[]): string {
  if (excluded.length === 0) return 'no other member is registered';
  return excluded.map((e) => `${e.name}: ${e.reason}`).join('; ');
}
