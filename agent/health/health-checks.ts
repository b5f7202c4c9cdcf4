import type { AgentConfig } from '../../core/config/agent-config.ts';
import { shownTags } from '../../core/config/agent-config.ts';
import { parseByteSize } from '../../core/config/units.ts';
import { formatLsn } from '../../core/format.ts';
import type { AgentStatus } from '../daemon/agent-status.ts';
import { memberRole, memberState } from '../daemon/build-member.ts';
import { AGENT_VERSION } from '../version.ts';

export interface HealthAnswer {
  readonly status: number;
  readonly body: unknown;
  /** Patroni answers these with the status line only (HAProxy reads nothing more). */
  readonly statusOnly?: boolean;
  /** Something about the request pgwarden accepted as Patroni does but wants said (a header). */
  readonly warning?: string;
}

export const PRIMARY_PATHS = ['/primary', '/master', '/leader', '/read-write'];

/** Primary holding a locally valid lease (or paused) and accepting connections. */
export function isServingPrimary(s: AgentStatus): boolean {
  const running = s.observation.reachable && s.observation.inRecovery === false;
  return running && !s.fencing && (s.leaseValid || s.clusterConfig.pause) && s.local?.want === 'primary';
}

function isRunningReplica(s: AgentStatus): boolean {
  return s.observation.reachable && s.observation.inRecovery === true;
}

/** Patroni's `state` words for pgwarden's member states. */
const PATRONI_STATES: Record<string, string> = {
  running: 'running',
  starting: 'starting',
  bootstrapping: 'initializing new cluster',
  unreachable: 'unknown',
  fenced: 'stopped',
  stopped: 'stopped',
  crashed: 'crashed',
};

function pgState(s: AgentStatus): string {
  return memberState({ ...s, rvn: '', now: 0, versions: { agent: AGENT_VERSION } });
}

/** Patroni's replication_state of a replica: streaming, or in archive recovery. */
function replicationState(s: AgentStatus): string | undefined {
  if (!isRunningReplica(s)) return undefined;
  return s.observation.receiverState === 'streaming' ? 'streaming' : 'in archive recovery';
}

/** The primary's last known WAL position (the lease's), as Patroni's `cluster.status.last_lsn`. */
function leaderOptime(s: AgentStatus): number {
  return s.snapshot?.leader?.lsn ?? 0;
}

/**
 * The member's status as Patroni 4's /patroni has it (keys present only when they apply, as
 * Patroni leaves them out), plus pgwarden's own: `lease`, `decision`, `patroni.product`.
 */
export function patroniStatus(s: AgentStatus, config: AgentConfig): Record<string, unknown> {
  const obs = s.observation;
  const state = pgState(s);
  const body: Record<string, unknown> = { state: PATRONI_STATES[state] ?? state };
  if (obs.reachable) {
    body.postmaster_start_time = obs.postmasterStartTime;
    body.role = obs.inRecovery ? 'replica' : 'primary';
    body.server_version = obs.serverVersionNum;
    body.xlog = obs.inRecovery
      ? {
          received_location: obs.writtenLsn ?? obs.receiveLsn ?? obs.replayLsn ?? 0,
          replayed_location: obs.replayLsn ?? 0,
          replayed_timestamp: obs.replayTimestamp ?? null,
          paused: obs.replayPaused ?? false,
        }
      : { location: obs.writeLsn ?? 0 };
    if (obs.inRecovery && s.clusterConfig.synchronous_mode && s.snapshot?.leader?.sync.includes(config.name))
      body.sync_standby = true;
    body.timeline = obs.timeline;
    const replication = replicationState(s);
    if (replication) body.replication_state = replication;
    if (obs.replication && obs.replication.length > 0)
      body.replication = obs.replication.map((r) => ({
        usename: r.usename ?? config.postgresql.authentication.replication.username,
        application_name: r.name,
        client_addr: r.client_addr ?? null,
        state: r.state,
        sync_state: r.sync_state,
        sync_priority: r.sync_priority ?? 0,
      }));
  } else {
    body.role = memberRole(s) === 'unknown' ? 'uninitialized' : memberRole(s);
  }
  if (s.clusterConfig.pause) body.pause = true;
  if (!s.snapshot?.leader || s.snapshot.leader.released) body.cluster_unlocked = true;
  if (s.failsafeActive) body.failsafe_mode_is_active = true;
  body.dcs_last_seen = s.lastStoreSuccessAt ? Math.floor(s.lastStoreSuccessAt / 1000) : 0;
  const tags = shownTags(config);
  if (Object.keys(tags).length > 0) body.tags = tags;
  if (obs.systemIdentifier) body.database_system_identifier = obs.systemIdentifier;
  if (obs.pendingRestart) {
    body.pending_restart = true;
    body.pending_restart_reason = obs.pendingRestartReason ?? {};
  }
  body.patroni = { version: AGENT_VERSION, scope: config.scope, name: config.name, product: 'pgwarden' };
  body.lease = {
    holder: s.snapshot?.leader?.holder,
    term: s.snapshot?.leader?.term,
    valid_ms: Math.round(s.leaseRemainingMs),
  };
  if (s.decision) body.decision = s.decision;
  return body;
}

/** Patroni 4's GET /cluster (cluster_as_json), from the agent's last consistent snapshot. */
export function clusterJson(s: AgentStatus, config: AgentConfig): Record<string, unknown> {
  const leader = s.snapshot?.leader && !s.snapshot.leader.released ? s.snapshot.leader : undefined;
  const clusterLsn = leader?.lsn ?? 0;
  const members = [...(s.snapshot?.members ?? [])]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((m) => {
      const role =
        m.name === leader?.holder
          ? 'leader'
          : s.clusterConfig.synchronous_mode && leader?.sync.includes(m.name)
            ? 'sync_standby'
            : 'replica';
      const replicationState =
        m.role === 'replica' && m.state === 'running'
          ? m.receiver_state === 'streaming'
            ? 'streaming'
            : 'in archive recovery'
          : undefined;
      const url = new URL(m.conn_url);
      const member: Record<string, unknown> = {
        name: m.name,
        role,
        state: (role !== 'leader' ? replicationState : undefined) ?? PATRONI_STATES[m.state] ?? m.state,
        api_url: m.api_url,
        host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: Number(url.port || 5432),
      };
      if (m.timeline !== null) member.timeline = m.timeline;
      if (m.pending_restart) member.pending_restart = true;
      const tags = m.shown_tags ?? {};
      if (Object.keys(tags).length > 0) member.tags = tags;
      if (m.name !== leader?.holder) {
        const lsns = {
          receive_: m.receive_lsn,
          replay_: m.replay_lsn,
          '': maxOf(m.receive_lsn, m.replay_lsn),
        };
        for (const [prefix, lsn] of Object.entries(lsns)) {
          if (!lsn) {
            member[`${prefix}lsn`] = 'unknown';
            member[`${prefix}lag`] = 'unknown';
          } else {
            member[`${prefix}lsn`] = formatLsn(lsn);
            member[`${prefix}lag`] = Math.max(0, clusterLsn - lsn);
          }
        }
      }
      return member;
    });
  const body: Record<string, unknown> = { members };
  if (s.clusterConfig.pause) body.pause = true;
  body.scope = config.scope;
  return body;
}

function maxOf(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}

/** Patroni's `?lag=`: bytes or a size with a unit; anything else means no bound (and a warning). */
function lagBound(query: URLSearchParams): { max: number; warning?: string } {
  const value = query.get('lag');
  if (value === null) return { max: Number.POSITIVE_INFINITY };
  const max = parseByteSize(value);
  if (max !== undefined) return { max };
  return {
    max: Number.POSITIVE_INFINITY,
    warning: `lag=${JSON.stringify(value)} is not a size (e.g. 1048576, 16kB, 10MB): ignored, as Patroni ignores it`,
  };
}

/**
 * Answers one health request from the daemon's last status, routed as Patroni 4 routes it: no
 * I/O, so it answers in time even when PostgreSQL or DynamoDB hang. Paths without an endpoint of
 * their own are health checks matched by the words in them (`/` is the primary check), and fail
 * with 503 when nothing matches.
 */
export function answerHealth(
  path: string,
  query: URLSearchParams,
  s: AgentStatus,
  config: AgentConfig,
  nowMonotonic: number,
  method: 'GET' | 'HEAD' | 'OPTIONS' = 'GET',
): HealthAnswer {
  // HEAD and OPTIONS (HAProxy's `option httpchk`) are health checks answered by status alone.
  if (method !== 'GET') {
    const { status } = healthCheck(path === '/' ? '/primary' : path, query, s, config);
    return { status, body: '', statusOnly: true };
  }
  return answerGet(path, query, s, config, nowMonotonic);
}

function answerGet(
  path: string,
  query: URLSearchParams,
  s: AgentStatus,
  config: AgentConfig,
  nowMonotonic: number,
): HealthAnswer {
  switch (path) {
    case '/patroni':
      return { status: 200, body: patroniStatus(s, config) };
    case '/cluster':
      return { status: 200, body: clusterJson(s, config) };
    case '/history':
      return { status: 200, body: historyLines(s) };
    case '/config':
      return s.snapshot?.config
        ? { status: 200, body: s.snapshot.config.data }
        : { status: 502, body: { error: 'no dynamic configuration in the table yet' } };
    case '/liveness':
      return { status: liveness(s, nowMonotonic) ? 200 : 503, body: '', statusOnly: true };
    case '/readiness': {
      const { max, warning } = lagBound(query);
      const failure = readinessFailure(s, query, Number.isFinite(max) ? max : undefined);
      return { status: failure ? 503 : 200, body: '', statusOnly: true, ...(warning ? { warning } : {}) };
    }
    case '/failsafe':
      // Patroni's GET /failsafe: the members a failsafe round would ping (S), by name and API URL.
      return { status: 200, body: Object.fromEntries(s.failsafeMembers.map((m) => [m.name, m.api_url])) };
    default: {
      const { status, warning } = healthCheck(path === '/' ? '/primary' : path, query, s, config);
      return { status, body: patroniStatus(s, config), ...(warning ? { warning } : {}) };
    }
  }
}

/** Patroni's do_GET: the status code of a health-check path. */
function healthCheck(
  path: string,
  query: URLSearchParams,
  s: AgentStatus,
  config: AgentConfig,
): { status: number; warning?: string } {
  const { max, warning } = lagBound(query);
  const obs = s.observation;
  const lagging = leaderOptime(s) > 0 && leaderOptime(s) > (obs.replayLsn ?? 0) + max;
  const wantedState = query.get('replication_state');
  const stateMatches = wantedState === null || replicationState(s) === wantedState;
  const replicaCode =
    !config.tags.noloadbalance && !lagging && isRunningReplica(s) && pgState(s) === 'running' && stateMatches
      ? 200
      : 503;
  const primaryCode = isServingPrimary(s) ? 200 : 503;
  const sync = s.clusterConfig.synchronous_mode && (s.snapshot?.leader?.sync.includes(config.name) ?? false);
  let status = 503;
  let ignoreTags = false;
  if (path.includes('standby_leader') || path.includes('standby-leader')) {
    // pgwarden has no standby clusters: nobody is a standby leader.
    ignoreTags = true;
  } else if (
    path.includes('leader') ||
    path.includes('master') ||
    path.includes('primary') ||
    path.includes('read-write')
  ) {
    status = primaryCode;
    ignoreTags = true;
  } else if (path.includes('replica')) {
    status = replicaCode;
  } else if (path.includes('read-only') && !path.includes('sync') && !path.includes('quorum')) {
    status = primaryCode === 200 ? 200 : replicaCode;
  } else if (path.includes('health')) {
    status = pgState(s) === 'running' ? 200 : 503;
  } else if (s.snapshot) {
    if ((path === '/sync' || path === '/synchronous') && sync) status = replicaCode;
    else if ((path === '/async' || path === '/asynchronous') && !sync) status = replicaCode;
    else if (path === '/read-only-quorum' && primaryCode === 200) status = 200;
    else if (path === '/read-only-sync' || path === '/read-only-synchronous')
      status = primaryCode === 200 ? 200 : sync ? replicaCode : 503;
  }
  if (!ignoreTags && status === 200) {
    // The tags as Patroni publishes them: a boolean tag that is false is not there at all.
    const tags = shownTags(config);
    for (const [key, value] of query) {
      if (!key.startsWith('tag_')) continue;
      const tag = tags[key.slice(4)];
      if (
        tag === undefined ||
        tag === null ||
        (typeof tag === 'string' ? tag : String(tag).toLowerCase()) !== value
      ) {
        status = 503;
        break;
      }
    }
  }
  return { status, ...(warning ? { warning } : {}) };
}

/** Patroni's /liveness: the loop ran within ttl on a primary (2 × ttl on a replica); always when paused. */
function liveness(s: AgentStatus, nowMonotonic: number): boolean {
  if (s.clusterConfig.pause) return true;
  const primary = s.observation.reachable && s.observation.inRecovery === false;
  const threshold = s.clusterConfig.ttl * 1000 * (primary ? 1 : 2);
  return s.lastCycleAt !== undefined && nowMonotonic - s.lastCycleAt < threshold;
}

/** Patroni's /readiness: the leader, or a streaming replica within the lag bound (`mode=apply|write`). */
function readinessFailure(
  s: AgentStatus,
  query: URLSearchParams,
  maxLag: number | undefined,
): string | undefined {
  if (isServingPrimary(s)) return undefined;
  if (pgState(s) !== 'running') return 'PostgreSQL is not running';
  if (replicationState(s) !== 'streaming') return 'PostgreSQL replication state is not streaming';
  if (!s.snapshot) return s.failsafeActive ? undefined : 'DCS is not accessible';
  const mode = query.get('mode') === 'write' ? 'write' : 'apply';
  const position =
    mode === 'write'
      ? (s.observation.writtenLsn ?? s.observation.receiveLsn ?? 0)
      : (s.observation.replayLsn ?? 0);
  const lag = leaderOptime(s) - position;
  const bound = maxLag ?? s.clusterConfig.maximum_lag_on_failover;
  return lag > bound ? `Replication ${mode} lag ${lag} exceeds maximum allowable ${bound}` : undefined;
}

/**
 * Patroni's /history lines, [timeline, lsn, reason, timestamp, new leader], one per change of
 * primary (bootstrap rows have none). pgwarden's terms stand for timelines: each promotion starts
 * one of each (the line names the timeline that ended, as Patroni's does).
 */
function historyLines(s: AgentStatus): unknown[] {
  return (s.snapshot?.history ?? [])
    .filter((h) => h.kind !== 'bootstrap')
    .map((h) => [
      h.term - 1,
      h.lsn ?? 0,
      h.reason,
      new Date(h.at).toISOString().replace('Z', '+00:00'),
      h.new,
    ]);
}
