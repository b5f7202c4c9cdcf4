import type { ClusterConfig } from '../config/cluster-config.ts';
import type { Member, Observation, Observer } from '../model/items.ts';
import type { ClusterSnapshot } from '../model/snapshot.ts';

/** What the controller concludes from its observations at `now` (its own clock). */
export interface Observations {
  readonly now: number;
  readonly leader?: {
    readonly rvn: string;
    readonly firstSeen: number;
    /** How long the same rvn has been seen, in ms. */
    readonly unchangedMs: number;
    /** Same rvn seen for >= ttl, or the holder released it. */
    readonly expired: boolean;
  };
  /** Per member: whether its heartbeat changed within the last ttl. */
  readonly members: Readonly<Record<string, { readonly unchangedMs: number; readonly fresh: boolean }>>;
  readonly notice?: string;
  /** Rejoin requests in flight: the member, when, and the primary and term it was sent to. */
  readonly rejoinRequested: Readonly<Record<string, RejoinRequest>>;
}

export interface RejoinRequest {
  readonly at: number;
  /** `holder@term` (rejoinTarget). */
  readonly target: string;
  /** The member's last_action.at when it was asked (host clock, compared for equality only). */
  readonly seen?: number;
}

/** What a rejoin request is for: the primary to follow at its term. */
export function rejoinTarget(leader: string, term: number): string {
  return `${leader}@${term}`;
}

/** Keeps the first-seen time when the record version is unchanged; starts a new one otherwise. */
export function observeRecord(previous: Observation | undefined, rvn: string, now: number): Observation {
  return previous?.rvn === rvn ? previous : { rvn, first_seen: now };
}

/**
 * Updates the controller's observations with one snapshot (DESIGN §3: expiry is observed, not
 * computed from host clocks). Returns the observer item to store and the conclusions.
 * A lease seen for the first time is never expired: a new controller waits a full ttl.
 */
export function observeCluster(
  snapshot: ClusterSnapshot,
  config: Pick<ClusterConfig, 'ttl'>,
  now: number,
): { observer: Observer; observations: Observations } {
  const previous = snapshot.observer;
  const ttlMs = Math.max(config.ttl, snapshot.leader?.ttl ?? 0) * 1000;
  const leaderObs = snapshot.leader ? observeRecord(previous?.leader, snapshot.leader.rvn, now) : undefined;

  const memberObs: Record<string, Observation> = {};
  const members: Record<string, { unchangedMs: number; fresh: boolean }> = {};
  // A heartbeat first seen now was written at some time since the last look (any controller's):
  // for freshness assume the earliest, so that a controller back from being cut off does not take
  // the heartbeats written just before its blind spell for fresh ones.
  const since = previous?.observed_at ?? now;
  for (const member of snapshot.members) {
    const obs = observeRecord(previous?.members[member.name], member.rvn, since);
    memberObs[member.name] = obs;
    const unchangedMs = now - obs.first_seen;
    members[member.name] = { unchangedMs, fresh: unchangedMs < ttlMs };
  }

  // A member that went silent is not running the rejoin it was sent: it is asked again once back.
  const rejoinRequested = Object.fromEntries(
    Object.entries(previous?.rejoin_requested ?? {}).filter(([name]) => members[name]?.fresh === true),
  );
  const observer: Observer = {
    ...(leaderObs ? { leader: leaderObs } : {}),
    members: memberObs,
    ...(previous?.notice ? { notice: previous.notice } : {}),
    ...(previous?.refusal ? { refusal: previous.refusal } : {}),
    rejoin_requested: rejoinRequested,
    observed_at: now,
    malformed_reported: previous?.malformed_reported ?? [],
    version: previous?.version ?? 0,
  };
  const observations: Observations = {
    now,
    ...(leaderObs && snapshot.leader
      ? {
          leader: {
            rvn: leaderObs.rvn,
            firstSeen: leaderObs.first_seen,
            unchangedMs: now - leaderObs.first_seen,
            expired: snapshot.leader.released || now - leaderObs.first_seen >= ttlMs,
          },
        }
      : {}),
    members,
    ...(previous?.notice ? { notice: previous.notice } : {}),
    rejoinRequested,
  };
  return { observer, observations };
}

export function isMemberFresh(observations: Observations, member: Pick<Member, 'name'>): boolean {
  return observations.members[member.name]?.fresh ?? false;
}
