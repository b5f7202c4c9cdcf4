import { type AgentConfig, shownTags } from '../../core/config/agent-config.ts';
import type { PgState, Role } from '../../core/constants.ts';
import type { LastAction, Member } from '../../core/model/items.ts';
import type { PgObservation } from '../postgres/pg-observer.ts';
import type { LocalState } from '../state/local-state.ts';

export interface MemberFacts {
  readonly observation: PgObservation;
  readonly local: LocalState | undefined;
  readonly postmasterAlive: boolean;
  readonly bootstrapping: boolean;
  readonly starting: boolean;
  readonly rvn: string;
  readonly now: number;
  readonly versions: { agent: string; postgres?: string };
  readonly systemIdentifier?: string;
  readonly paused?: boolean;
  /** The failsafe promise in force, with the milliseconds it has left. */
  readonly promise?: { holder: string; term: number; remaining_ms: number };
  /** This primary keeps its lease by failsafe pings. */
  readonly failsafeActive?: boolean;
  /** The outcome of the last action run here. */
  readonly lastAction?: LastAction;
}

export function memberRole(facts: Pick<MemberFacts, 'observation' | 'local'>): Role {
  if (facts.observation.reachable) return facts.observation.inRecovery ? 'replica' : 'primary';
  if (facts.local?.want === 'primary') return 'primary';
  if (facts.local?.want === 'replica') return 'replica';
  return 'unknown';
}

export function memberState(facts: MemberFacts): PgState {
  if (facts.bootstrapping) return 'bootstrapping';
  if (facts.observation.reachable) return 'running';
  if (facts.starting) return 'starting';
  if (facts.postmasterAlive) return 'unreachable';
  if (facts.local?.want === 'stopped') return facts.local.stopped_reason === 'fenced' ? 'fenced' : 'stopped';
  return 'crashed';
}

/** The heartbeat item for this member, from what the agent just observed. */
export function buildMember(config: AgentConfig, facts: MemberFacts): Member {
  const obs = facts.observation;
  const api = config.restapi.connect_address ?? config.restapi.listen;
  // Without connect_address, the first of listen's hosts (Patroni requires connect_address).
  const pg = config.postgresql.connect_address ?? config.postgresql.listen.replace(/,[^:]*(?=:\d+$)/, '');
  return {
    name: config.name,
    role: memberRole(facts),
    state: memberState(facts),
    timeline: obs.timeline ?? null,
    timeline_switch_lsn: obs.timelineSwitchLsn ?? null,
    write_lsn: obs.writeLsn ?? null,
    receive_lsn: obs.receiveLsn ?? null,
    replay_lsn: obs.replayLsn ?? null,
    receiver_state: obs.receiverState ?? null,
    upstream: facts.local?.want === 'replica' ? (facts.local.upstream ?? null) : null,
    sync_standbys: obs.inRecovery === false ? (obs.syncStandbys ?? []) : [],
    replication: obs.replication ?? [],
    pending_restart: obs.pendingRestart ?? false,
    paused: facts.paused ?? false,
    tags: config.tags,
    shown_tags: shownTags(config),
    api_url: `${config.restapi.certfile ? 'https' : 'http'}://${api}/patroni`,
    conn_url: `postgres://${pg}/postgres`,
    ...(config.instance_id ? { instance_id: config.instance_id } : {}),
    versions: facts.versions,
    ...(facts.systemIdentifier ? { system_identifier: facts.systemIdentifier } : {}),
    ...(facts.local?.stopped_reason === 'fenced' ? { fenced_term: facts.local.term } : {}),
    ...(facts.promise ? { failsafe_promise: facts.promise } : {}),
    ...(facts.lastAction ? { last_action: facts.lastAction } : {}),
    failsafe_active: facts.failsafeActive ?? false,
    rvn: facts.rvn,
    heartbeat_at: facts.now,
  };
}

/** host and port of a member's PostgreSQL from its `conn_url`. */
export function memberEndpoint(member: Pick<Member, 'conn_url'>): { host: string; port: number } {
  const url = new URL(member.conn_url);
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port || 5432) };
}
