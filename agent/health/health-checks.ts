import type { AgentConfig } from '../../core/config/agent-config.ts';
import { parseByteSize } from '../../core/config/units.ts';
import { receivedLsn } from '../../core/decide/candidates.ts';
import type { AgentStatus } from '../daemon/agent-daemon.ts';
import { memberRole, memberState } from '../daemon/build-member.ts';
import { AGENT_VERSION } from '../version.ts';

export interface HealthAnswer {
  readonly status: number;
  readonly body: unknown;
}

export class BadHealthQueryError extends Error {}

export const PRIMARY_PATHS = ['/primary', '/master', '/leader', '/read-write'];

/** Primary holding a locally valid lease (or paused) and accepting connections. */
export function isServingPrimary(s: AgentStatus): boolean {
  const running = s.observation.reachable && s.observation.inRecovery === false;
  return running && !s.fencing && (s.leaseValid || s.clusterConfig.pause) && s.local?.want === 'primary';
}

function isRunningReplica(s: AgentStatus): boolean {
  return s.observation.reachable && s.observation.inRecovery === true;
}

function replicaLag(s: AgentStatus): number | undefined {
  const leaderLsn = s.snapshot?.leader?.lsn;
  const own = receivedLsn({
    receive_lsn: s.observation.receiveLsn ?? null,
    replay_lsn: s.observation.replayLsn ?? null,
  } as Parameters<typeof receivedLsn>[0]);
  if (leaderLsn === undefined || own === null) return undefined;
  return Math.max(0, leaderLsn - own);
}

/** Patroni's /replica filters: ?lag=, ?replication_state=, ?tag_<key>=<value>. */
function replicaFiltersPass(s: AgentStatus, config: AgentConfig, query: URLSearchParams): boolean {
  const lagParam = query.get('lag');
  if (lagParam !== null) {
    const max = parseByteSize(lagParam);
    if (max === undefined)
      throw new BadHealthQueryError(
        `lag: got ${JSON.stringify(lagParam)}, expected bytes like 1048576, 16kB or 10MB`,
      );
    const lag = replicaLag(s);
    if (lag === undefined || lag > max) return false;
  }
  const state = query.get('replication_state');
  if (state !== null && s.observation.receiverState !== state) return false;
  for (const [key, value] of query) {
    if (!key.startsWith('tag_')) continue;
    const tag = (config.tags as Record<string, unknown>)[key.slice(4)];
    if (String(tag) !== value) return false;
  }
  return true;
}

function patroniJson(s: AgentStatus, config: AgentConfig) {
  const obs = s.observation;
  const role = memberRole(s);
  return {
    state: memberState({ ...s, rvn: '', now: 0, versions: { agent: AGENT_VERSION } }),
    // Patroni 4's words (3.x said master).
    role,
    server_version: s.pgVersion,
    timeline: obs.timeline,
    xlog:
      obs.inRecovery === false
        ? { location: obs.writeLsn }
        : { received_location: obs.receiveLsn, replayed_location: obs.replayLsn },
    replication: obs.replication?.map((r) => ({
      application_name: r.name,
      state: r.state,
      sync_state: r.sync_state,
    })),
    sync_standby: s.snapshot?.leader?.sync.includes(config.name) ?? false,
    pause: s.clusterConfig.pause,
    failsafe_mode_is_active: s.failsafeActive,
    cluster_unlocked: !s.snapshot?.leader || s.snapshot.leader.released,
    lease: {
      holder: s.snapshot?.leader?.holder,
      term: s.snapshot?.leader?.term,
      valid_ms: Math.round(s.leaseRemainingMs),
    },
    decision: s.decision,
    dcs_last_seen: s.lastStoreSuccessAt ? Math.floor(s.lastStoreSuccessAt / 1000) : undefined,
    tags: config.tags,
    pending_restart: obs.pendingRestart,
    patroni: { version: AGENT_VERSION, scope: config.scope, name: config.name, product: 'pgwarden' },
  };
}

function clusterJson(s: AgentStatus, config: AgentConfig) {
  const leader = s.snapshot?.leader;
  return {
    scope: config.scope,
    members: (s.snapshot?.members ?? []).map((m) => ({
      name: m.name,
      role: m.name === leader?.holder ? 'leader' : leader?.sync.includes(m.name) ? 'sync_standby' : m.role,
      state: m.state,
      api_url: m.api_url,
      host: new URL(m.conn_url).hostname,
      port: Number(new URL(m.conn_url).port || 5432),
      timeline: m.timeline,
      lag: m.role === 'replica' && leader ? Math.max(0, leader.lsn - (receivedLsn(m) ?? 0)) : undefined,
      tags: m.tags,
    })),
    pause: s.clusterConfig.pause,
  };
}

/**
 * Answers one health request from the daemon's last status: no I/O, so it answers in time even
 * when PostgreSQL or DynamoDB hang. `liveness` fails when no cycle completed within a ttl.
 */
export function answerHealth(
  path: string,
  query: URLSearchParams,
  s: AgentStatus,
  config: AgentConfig,
  nowMonotonic: number,
): HealthAnswer {
  const code = (ok: boolean) => (ok ? 200 : 503);
  const body = () => patroniJson(s, config);
  const replicaOk = () =>
    isRunningReplica(s) && !config.tags.noloadbalance && replicaFiltersPass(s, config, query);
  const recordedSync = s.snapshot?.leader?.sync.includes(config.name) ?? false;
  if (PRIMARY_PATHS.includes(path)) return { status: code(isServingPrimary(s)), body: body() };
  switch (path) {
    case '/':
    case '/patroni':
      return { status: code(s.observation.reachable), body: body() };
    case '/replica':
      return { status: code(replicaOk()), body: body() };
    case '/read-only':
      return { status: code(isServingPrimary(s) || replicaOk()), body: body() };
    case '/synchronous':
    case '/sync':
      return { status: code(isRunningReplica(s) && recordedSync), body: body() };
    case '/asynchronous':
    case '/async':
      return { status: code(isRunningReplica(s) && !recordedSync), body: body() };
    case '/health':
      return { status: code(s.observation.reachable), body: body() };
    case '/liveness': {
      const fresh = s.lastCycleAt !== undefined && nowMonotonic - s.lastCycleAt < s.clusterConfig.ttl * 1000;
      return { status: code(fresh), body: { alive: fresh } };
    }
    case '/readiness':
      return {
        status: code(
          isServingPrimary(s) || (isRunningReplica(s) && s.observation.receiverState === 'streaming'),
        ),
        body: body(),
      };
    case '/cluster':
      return { status: 200, body: clusterJson(s, config) };
    case '/failsafe':
      // Patroni's GET /failsafe: the members a failsafe round would ping (S), by name and API URL.
      return { status: 200, body: Object.fromEntries(s.failsafeMembers.map((m) => [m.name, m.api_url])) };
    default:
      return { status: 404, body: { error: `no such endpoint: ${path}` } };
  }
}
