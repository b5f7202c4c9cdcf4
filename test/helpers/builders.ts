import {
  type ClusterConfig,
  type ClusterConfigInput,
  DEFAULT_CLUSTER_CONFIG,
  parseClusterConfig,
} from '../../core/config/cluster-config.ts';
import type { Observations } from '../../core/lease/observe.ts';
import type { Leader, Member, Op } from '../../core/model/items.ts';
import type { ClusterSnapshot } from '../../core/model/snapshot.ts';

export const T0 = 1_700_000_000_000;
const MB = 1024 * 1024;

export function buildMember(name: string, overrides: Partial<Member> = {}): Member {
  return {
    name,
    role: 'replica',
    state: 'running',
    timeline: 1,
    timeline_switch_lsn: null,
    write_lsn: null,
    receive_lsn: 10 * MB,
    replay_lsn: 10 * MB,
    receiver_state: 'streaming',
    upstream: 'n1',
    sync_standbys: [],
    replication: [],
    pending_restart: false,
    paused: false,
    failsafe_active: false,
    tags: { nofailover: false, failover_priority: 1, noloadbalance: false, nosync: false, clonefrom: false },
    api_url: `http://127.0.0.1:8008/${name}`,
    conn_url: `postgres://127.0.0.1:5432/${name}`,
    versions: { agent: '0.1.0', postgres: '15' },
    rvn: `${name}-rvn`,
    heartbeat_at: T0,
    ...overrides,
  };
}

export function buildPrimary(name: string, overrides: Partial<Member> = {}): Member {
  return buildMember(name, {
    role: 'primary',
    upstream: null,
    receiver_state: null,
    receive_lsn: null,
    replay_lsn: null,
    write_lsn: 10 * MB,
    ...overrides,
  });
}

export function buildLeader(overrides: Partial<Leader> = {}): Leader {
  return {
    holder: 'n1',
    term: 3,
    rvn: 'leader-rvn',
    ttl: 10,
    sync: [],
    lsn: 10 * MB,
    timeline: 1,
    released: false,
    ...overrides,
  };
}

export function buildOp(overrides: Partial<Op> = {}): Op {
  return {
    id: 'c:4:failover',
    kind: 'failover',
    step: 'takeover',
    from: 'n1',
    to: 'n2',
    term: 3,
    observed_rvn: 'leader-rvn',
    excluded: [],
    attempts: 0,
    started_at: T0,
    step_started_at: T0,
    timings: { detected: T0 },
    reason: 'test',
    rule: 160,
    version: 1,
    ...overrides,
  };
}

export interface ScenarioOptions {
  readonly members?: readonly Member[];
  readonly leader?: Leader | null;
  readonly op?: Op;
  readonly config?: ClusterConfigInput;
  readonly stale?: readonly string[];
  readonly leaderExpired?: boolean;
  readonly intent?: ClusterSnapshot['intent'];
  readonly notice?: string;
  readonly history?: ClusterSnapshot['history'];
}

export interface Scenario {
  readonly snapshot: ClusterSnapshot;
  readonly observations: Observations;
  readonly config: ClusterConfig;
  readonly now: number;
}

/** A cluster snapshot plus the controller's conclusions about it, without going through time. */
export function scenario(options: ScenarioOptions = {}): Scenario {
  const members = options.members ?? [buildPrimary('n1'), buildMember('n2'), buildMember('n3')];
  const leader = options.leader === null ? undefined : (options.leader ?? buildLeader());
  const config = options.config ? parseClusterConfig(options.config) : DEFAULT_CLUSTER_CONFIG;
  const now = T0 + 60_000;
  const snapshot: ClusterSnapshot = {
    cluster: 'c',
    members,
    history: options.history ?? [],
    malformed: [],
    initialize: { by: 'n1', at: T0 },
    ...(leader ? { leader } : {}),
    ...(options.op ? { op: options.op } : {}),
    ...(options.intent ? { intent: options.intent } : {}),
  };
  const observations: Observations = {
    now,
    ...(leader
      ? {
          leader: {
            rvn: leader.rvn,
            firstSeen: options.leaderExpired ? now - 11_000 : now - 1000,
            unchangedMs: options.leaderExpired ? 11_000 : 1000,
            expired: leader.released || options.leaderExpired === true,
          },
        }
      : {}),
    members: Object.fromEntries(
      members.map((m) => [
        m.name,
        options.stale?.includes(m.name)
          ? { unchangedMs: 12_000, fresh: false }
          : { unchangedMs: 500, fresh: true },
      ]),
    ),
    ...(options.notice ? { notice: options.notice } : {}),
    rejoinRequested: {},
  };
  return { snapshot, observations, config, now };
}

/** The primary n1's host crashed: its lease and heartbeat stopped changing a ttl ago. */
export function clusterWithExpiredLease(options: ScenarioOptions = {}): Scenario {
  return scenario({ stale: ['n1'], leaderExpired: true, ...options });
}

export { MB };
