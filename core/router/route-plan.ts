import type { Leader, Member } from '../model/items.ts';

/** A PostgreSQL server as the routers address it. */
export interface PlannedTarget {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

/** What the writer listener should do, as the cluster's items say. */
export type WriterPlan =
  | { readonly kind: 'route'; readonly target: PlannedTarget; readonly term: number; readonly why: string }
  /** A holder that does not serve yet (promotion under way, a clean stop): connections wait. */
  | { readonly kind: 'hold'; readonly term: number; readonly why: string }
  | { readonly kind: 'refuse'; readonly why: string };

export interface RoutePlan {
  readonly writer: WriterPlan;
  /** Fresh, streaming replicas within the lag bound; the primary when there is none. */
  readonly readers: readonly PlannedTarget[];
  /** Why the readers are what they are (logged when it changes). */
  readonly readersWhy: string;
}

export interface RoutePlanInput {
  readonly leader: Leader | undefined;
  readonly members: readonly Member[];
  /** Members whose heartbeat moved within the last ttl, as this agent has watched them. */
  readonly fresh: ReadonlySet<string>;
  /** Replicas further behind the primary than this (bytes) take no reads. */
  readonly maxLagBytes: number;
}

/** host and port of a member's PostgreSQL, from its `conn_url`. */
export function targetOf(member: Pick<Member, 'name' | 'conn_url'>): PlannedTarget {
  const url = new URL(member.conn_url);
  return {
    name: member.name,
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(url.port || 5432),
  };
}

/**
 * Where the routers send connections (issue #17), from one snapshot: writes to the lease holder
 * once it reports a running primary; reads to fresh streaming replicas within `maxLagBytes` of
 * it. A lease is never judged expired here (the agent's clock is not the lease's): a holder is
 * routed to until the lease moves, so failsafe keeps the database writable through the routers.
 */
export function planRoutes(input: RoutePlanInput): RoutePlan {
  const { leader, members } = input;
  const holder = leader ? members.find((m) => m.name === leader.holder) : undefined;
  let writer: WriterPlan;
  if (!leader) writer = { kind: 'refuse', why: 'the cluster has no leader lease' };
  else if (leader.released)
    writer = { kind: 'hold', term: leader.term, why: `${leader.holder} released its lease` };
  else if (holder?.role === 'primary' && holder.state === 'running')
    writer = {
      kind: 'route',
      target: targetOf(holder),
      term: leader.term,
      why: `${holder.name} holds the lease at term ${leader.term} and serves as primary`,
    };
  else
    writer = {
      kind: 'hold',
      term: leader.term,
      why: `${leader.holder} holds the lease at term ${leader.term} but is not a running primary yet`,
    };
  const primaryLsn = Math.max(leader?.lsn ?? 0, holder?.write_lsn ?? 0);
  const readers = members.filter(
    (m) =>
      m.name !== leader?.holder &&
      m.role === 'replica' &&
      m.state === 'running' &&
      m.receiver_state === 'streaming' &&
      input.fresh.has(m.name) &&
      m.tags.noloadbalance !== true &&
      primaryLsn - (m.replay_lsn ?? 0) <= input.maxLagBytes,
  );
  if (readers.length > 0)
    return {
      writer,
      readers: readers.map(targetOf),
      readersWhy: `streaming replicas within ${input.maxLagBytes} bytes: ${readers.map((m) => m.name).join(', ')}`,
    };
  return {
    writer,
    readers: writer.kind === 'route' ? [writer.target] : [],
    readersWhy:
      writer.kind === 'route'
        ? `no replica streams within ${input.maxLagBytes} bytes: reads go to the primary`
        : 'no replica streams within the lag bound and no primary serves',
  };
}
