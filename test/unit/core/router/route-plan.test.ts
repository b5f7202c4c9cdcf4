import { describe, expect, it } from 'vitest';
import { planRoutes } from '../../../../core/router/route-plan.ts';
import { buildLeader, buildMember, buildPrimary } from '../../../helpers/builders.ts';

const MB = 1024 * 1024;
const members = [
  buildPrimary('n1', { conn_url: 'postgres://10.0.0.1:5432/postgres' }),
  buildMember('n2', { conn_url: 'postgres://10.0.0.2:5432/postgres' }),
  buildMember('n3', { conn_url: 'postgres://10.0.0.3:5432/postgres' }),
];
const all = new Set(['n1', 'n2', 'n3']);
const plan = (overrides: Partial<Parameters<typeof planRoutes>[0]> = {}) =>
  planRoutes({ leader: buildLeader(), members, fresh: all, maxLagBytes: MB, ...overrides });

describe('planRoutes', () => {
  it('routes writes to the lease holder serving as primary, reads to the streaming replicas', () => {
    const p = plan();
    expect(p.writer).toMatchObject({
      kind: 'route',
      term: 3,
      target: { name: 'n1', host: '10.0.0.1', port: 5432 },
    });
    expect(p.readers.map((r) => r.name)).toEqual(['n2', 'n3']);
  });

  it.each([
    ['a holder that is still a replica (promotion under way)', { holder: 'n2', term: 4 }, 'hold'],
    ['a released lease', { released: true }, 'hold'],
  ])('holds the writer for %s', (_what, leader, kind) => {
    expect(plan({ leader: buildLeader(leader) }).writer.kind).toBe(kind);
  });

  it('refuses writes when there is no lease at all', () => {
    expect(plan({ leader: undefined }).writer).toMatchObject({ kind: 'refuse' });
  });

  it('never judges the lease expired: a holder that stopped renewing is still routed to (failsafe)', () => {
    const stale = buildLeader({ renewed_at: 0 });
    expect(plan({ leader: stale, fresh: new Set(['n2', 'n3']) }).writer.kind).toBe('route');
  });

  it.each([
    ['lags beyond the bound', buildMember('n2', { replay_lsn: 8 * MB })],
    ['is not streaming', buildMember('n2', { receiver_state: 'stopped' })],
    [
      'is tagged noloadbalance',
      buildMember('n2', { tags: { ...buildMember('n2').tags, noloadbalance: true } }),
    ],
  ])('takes no reads to a replica that %s', (_what, n2) => {
    const p = plan({ members: [members[0]!, n2, members[2]!] });
    expect(p.readers.map((r) => r.name)).toEqual(['n3']);
  });

  it('takes no reads to a replica whose heartbeat stopped moving', () => {
    expect(plan({ fresh: new Set(['n1', 'n3']) }).readers.map((r) => r.name)).toEqual(['n3']);
  });

  it('sends reads to the primary when no replica qualifies, and nowhere when nothing serves', () => {
    const none = new Set(['n1']);
    expect(plan({ fresh: none }).readers.map((r) => r.name)).toEqual(['n1']);
    expect(plan({ fresh: none, leader: buildLeader({ holder: 'n2', term: 4 }) }).readers).toEqual([]);
  });
});
