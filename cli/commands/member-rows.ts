import { formatLsn } from '../../core/format.ts';
import type { Member } from '../../core/model/items.ts';
import type { ClusterSnapshot } from '../../core/model/snapshot.ts';
import { type HeartbeatAge, heartbeatAges } from './heartbeat-watch.ts';

/** One row of `pgwarden list`, with patronictl 4's field names and role words. */
export interface MemberRow {
  readonly Cluster: string;
  readonly Member: string;
  readonly Host: string;
  readonly Role: string;
  readonly State: string;
  readonly TL: number | null;
  /** LSNs as PostgreSQL prints them; lags in whole MB behind the leader; '' for the leader. */
  readonly 'Receive LSN': string;
  readonly 'Receive Lag': number | '';
  readonly 'Replay LSN': string;
  readonly 'Replay Lag': number | '';
  readonly 'Pending restart': string;
  readonly 'Pending restart reason': string;
  readonly 'Scheduled restart': string;
  readonly Tags: Record<string, unknown>;
  readonly upstream: string | null;
  /** The member's port, for patronictl's choice of showing host:port. */
  readonly port: number | null;
}

/** patronictl list's columns (Patroni 4), before the extended ones. */
export const LIST_COLUMNS = [
  'Cluster',
  'Member',
  'Host',
  'Role',
  'State',
  'TL',
  'Receive LSN',
  'Receive Lag',
  'Replay LSN',
  'Replay Lag',
] as const;

/** Shown with -e, or when any member has a value for them (patronictl's rule). */
export const EXTENDED_COLUMNS = [
  'Pending restart',
  'Pending restart reason',
  'Scheduled restart',
  'Tags',
] as const;

/** The words users read for roles, in `list`, `topology` and `local status` (patronictl's). */
export const ROLE_WORDS = { leader: 'Leader', sync: 'Sync Standby', replica: 'Replica' } as const;

/** Patroni's tag defaults: a tag at its default is not shown unless the member says it was set. */
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

function endpointOf(member: Member): { host: string; port: number } {
  const url = new URL(member.conn_url);
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port || 5432) };
}

/** The tags patronictl would show: as the member configured them, else those off their default. */
function shownTags(m: Member): Record<string, unknown> {
  if (m.shown_tags) return m.shown_tags;
  return Object.fromEntries(Object.entries(m.tags).filter(([k, v]) => TAG_DEFAULTS[k] !== v));
}

/**
 * A member's state as people should read it: a stale heartbeat is `unknown`, never its last
 * role's state; an operation in flight says `promoting`/`demoting`; a running primary that does
 * not hold the lease says so instead of posing as a second primary.
 */
function stateOf(snapshot: ClusterSnapshot, m: Member, age: HeartbeatAge | undefined): string {
  const leader = snapshot.leader;
  const isLeader = leader?.holder === m.name && !leader.released;
  // The primary keeps its lease by failsafe pings: DynamoDB is out of its reach (DESIGN §3). It
  // cannot say so itself then (its heartbeat goes stale); the members it pings do, in theirs.
  const promisedBy = snapshot.members.filter(
    (o) => o.failsafe_promise?.holder === m.name && o.failsafe_promise.term === leader?.term,
  ).length;
  const failsafe =
    isLeader && (m.failsafe_active || promisedBy > 0)
      ? ` (failsafe${promisedBy ? `: promised by ${promisedBy}` : ''})`
      : '';
  const silence = age?.stale ? ` (no heartbeat for ${Math.round((age.unchangedMs ?? 0) / 1000)} s)` : '';
  if (age?.stale) return failsafe ? `${m.state}${failsafe}${silence}` : `unknown${silence}`;
  const op = snapshot.op;
  if (op?.to === m.name && op.step !== 'repoint') return 'promoting';
  if (op?.kind === 'switchover' && op.from === m.name && op.step !== 'repoint') return 'demoting';
  if (m.role === 'primary' && m.state === 'running' && !isLeader)
    return 'running as primary without the lease';
  const state =
    m.state === 'running' && m.role === 'replica' && m.receiver_state === 'streaming' ? 'streaming' : m.state;
  return `${state}${failsafe}`;
}

/**
 * Rows for every member, and for every member item that does not parse (its state names the
 * attribute at fault). `watched`: the CLI's own repeated reads (HeartbeatWatch), if any.
 */
export function memberRows(snapshot: ClusterSnapshot, watched?: ReadonlyMap<string, number>): MemberRow[] {
  const leader = snapshot.leader;
  const ages = heartbeatAges(snapshot, watched);
  const endpoints = snapshot.members.map(endpointOf);
  // patronictl shows host:port when a member runs on another port than 5432 or two share a host.
  const withPort =
    endpoints.some((e) => e.port !== 5432) || new Set(endpoints.map((e) => e.host)).size < endpoints.length;
  const mb = (bytes: number) => Math.round(bytes / 1048576);
  const rows: MemberRow[] = snapshot.members.map((m, i) => {
    const isLeader = leader?.holder === m.name && !leader.released;
    const role = isLeader
      ? ROLE_WORDS.leader
      : leader?.sync.includes(m.name)
        ? ROLE_WORDS.sync
        : ROLE_WORDS.replica;
    const lsnCell = (lsn: number | null) => (isLeader || lsn === null ? '' : formatLsn(lsn));
    const lagCell = (lsn: number | null): number | '' =>
      isLeader || lsn === null || !leader ? '' : mb(Math.max(0, leader.lsn - lsn));
    const { host, port } = endpoints[i]!;
    return {
      Cluster: snapshot.cluster,
      Member: m.name,
      Host: withPort ? `${host}:${port}` : host,
      Role: role,
      State: stateOf(snapshot, m, ages.get(m.name)),
      TL: m.timeline,
      'Receive LSN': lsnCell(m.receive_lsn),
      'Receive Lag': lagCell(m.receive_lsn),
      'Replay LSN': lsnCell(m.replay_lsn),
      'Replay Lag': lagCell(m.replay_lsn),
      'Pending restart': m.pending_restart ? '*' : '',
      'Pending restart reason': '',
      'Scheduled restart': scheduledRestart(snapshot, m.name),
      Tags: shownTags(m),
      upstream: m.upstream,
      port,
    };
  });
  for (const bad of snapshot.malformed) {
    if (!bad.sk.startsWith('member#')) continue;
    rows.push({
      Cluster: snapshot.cluster,
      Member: bad.sk.slice('member#'.length),
      Host: '',
      Role: '',
      State: `malformed item: ${bad.detail}`,
      TL: null,
      'Receive LSN': '',
      'Receive Lag': '',
      'Replay LSN': '',
      'Replay Lag': '',
      'Pending restart': '',
      'Pending restart reason': '',
      'Scheduled restart': '',
      Tags: {},
      upstream: null,
      port: null,
    });
  }
  return rows;
}

/** A restart of `member` the operator scheduled and the controller has not carried out yet. */
function scheduledRestart(snapshot: ClusterSnapshot, member: string): string {
  const intent = snapshot.intent;
  if (!intent || intent.outcome || intent.kind !== 'restart' || intent.to !== member || !intent.scheduled_at)
    return '';
  return new Date(intent.scheduled_at).toISOString();
}

/** The columns patronictl would print: the fixed ones, and the extended ones when asked or set. */
export function listColumns(rows: readonly MemberRow[], extended: boolean): string[] {
  const has: Record<(typeof EXTENDED_COLUMNS)[number], boolean> = {
    'Pending restart': rows.some((r) => r['Pending restart'] !== ''),
    'Pending restart reason': rows.some((r) => r['Pending restart reason'] !== ''),
    'Scheduled restart': rows.some((r) => r['Scheduled restart'] !== ''),
    Tags: rows.some((r) => Object.keys(r.Tags).length > 0),
  };
  return [...LIST_COLUMNS, ...EXTENDED_COLUMNS.filter((c) => extended || has[c])];
}

/**
 * What holds for the whole cluster, repeated on every row of `list -f json|yaml|tsv` as
 * `Cluster` is (patronictl's rows stay as they are; these keys appear only when they apply).
 */
export function clusterFacts(snapshot: ClusterSnapshot): Record<string, string> {
  const facts: Record<string, string> = {};
  const data = snapshot.config?.data as { pause?: boolean } | undefined;
  if (data?.pause) facts['Maintenance mode'] = 'on';
  const op = snapshot.op;
  if (op) facts.Operation = `${op.kind} ${op.from} -> ${op.to} (step ${op.step})`;
  if (!snapshot.leader || snapshot.leader.released) facts.Leader = 'none: the lease is free';
  const refusal = snapshot.observer?.refusal;
  if (refusal)
    facts['Failover refused'] = `${refusal.message} (since ${new Date(refusal.since).toISOString()})`;
  return facts;
}
