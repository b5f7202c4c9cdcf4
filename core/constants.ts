/** Sort keys of the items of one cluster partition (DESIGN §2). */
export const ItemKey = {
  leader: 'leader',
  config: 'config',
  intent: 'intent',
  op: 'op',
  observer: 'observer',
  initialize: 'initialize',
  memberPrefix: 'member#',
  historyPrefix: 'history#',
} as const;

/** Partition key of the registry that lists every cluster. */
export const REGISTRY_PK = '#clusters';

export const Role = { primary: 'primary', replica: 'replica', unknown: 'unknown' } as const;
export type Role = (typeof Role)[keyof typeof Role];

/** PostgreSQL's state as the agent sees it. */
export const PgState = {
  running: 'running',
  starting: 'starting',
  stopped: 'stopped',
  crashed: 'crashed',
  fenced: 'fenced',
  unreachable: 'unreachable',
  bootstrapping: 'bootstrapping',
} as const;
export type PgState = (typeof PgState)[keyof typeof PgState];

/** Width of the sort key of history rows, so that they sort by term. */
export const HISTORY_TERM_DIGITS = 10;

export function memberKey(name: string): string {
  return `${ItemKey.memberPrefix}${name}`;
}

export function historyKey(term: number): string {
  return `${ItemKey.historyPrefix}${String(term).padStart(HISTORY_TERM_DIGITS, '0')}`;
}
