import { storedClusterConfig } from '../../core/config/cluster-config.ts';
import { receivedLsn } from '../../core/decide/candidates.ts';
import type { Member } from '../../core/model/items.ts';
import type { ClusterSnapshot } from '../../core/model/snapshot.ts';

/** One row of `pgwarden list`, with patronictl's field names and role words. */
export interface MemberRow {
  readonly Cluster: string;
  readonly Member: string;
  readonly Host: string;
  readonly Role: string;
  readonly State: string;
  readonly TL: number | null;
  readonly 'Lag in MB': number | null;
  readonly 'Pending restart': string;
  readonly Tags: Record<string, unknown>;
  readonly upstream: string | null;
}

export const LIST_COLUMNS = [
  'Cluster',
  'Member',
  'Host',
  'Role',
  'State',
  'TL',
  'Lag in MB',
  'Pending restart',
  'Tags',
] as const;

const TAG_DEFAULTS: Record<string, unknown> = {
  nofailover: false,
  failover_priority: 1,
  noloadbalance: false,
  nosync: false,
  clonefrom: false,
};

export function hostOf(member: Member): string {
  const url = new URL(member.conn_url);
  return `${url.hostname}:${url.port || 5432}`;
}

function ttlSeconds(snapshot: ClusterSnapshot): number {
  return storedClusterConfig(snapshot.config?.data).config.ttl;
}

/** Rows for every member. `now` (this machine's clock) only marks heartbeats that look stale. */
export function memberRows(snapshot: ClusterSnapshot, now: number): MemberRow[] {
  const leader = snapshot.leader;
  const staleAfter = ttlSeconds(snapshot) * 2000;
  return snapshot.members.map((m) => {
    const isLeader = leader?.holder === m.name && !leader.released;
    const role = isLeader
      ? 'Leader'
      : leader?.sync.includes(m.name)
        ? 'Sync Standby'
        : m.role === 'replica'
          ? 'Replica'
          : m.role;
    let state: string =
      m.state === 'running' && m.role === 'replica' && m.receiver_state === 'streaming'
        ? 'streaming'
        : m.state;
    // The primary keeps its lease by failsafe pings: DynamoDB is out of its reach (DESIGN §3). It
    // cannot say so itself then; the members it pings do, in their heartbeats.
    const promisedBy = snapshot.members.filter(
      (o) => o.failsafe_promise?.holder === m.name && o.failsafe_promise.term === leader?.term,
    ).length;
    if (isLeader && (m.failsafe_active || promisedBy > 0))
      state = `${state} (failsafe${promisedBy ? `: promised by ${promisedBy}` : ''})`;
    if (now - m.heartbeat_at > staleAfter)
      state = `${state} (no heartbeat for ${Math.round((now - m.heartbeat_at) / 1000)} s)`;
    const received = receivedLsn(m);
    const lag =
      !isLeader && leader && received !== null ? Math.max(0, leader.lsn - received) / 1048576 : null;
    const tags = Object.fromEntries(Object.entries(m.tags).filter(([k, v]) => TAG_DEFAULTS[k] !== v));
    return {
      Cluster: snapshot.cluster,
      Member: m.name,
      Host: hostOf(m),
      Role: role,
      State: state,
      TL: m.timeline,
      'Lag in MB': lag === null ? null : Math.round(lag * 10) / 10,
      'Pending restart': m.pending_restart ? '*' : '',
      Tags: tags,
      upstream: m.upstream,
    };
  });
}
