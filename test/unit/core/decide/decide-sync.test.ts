import { describe, expect, it } from 'vitest';
import { decide } from '../../../../core/decide/decide.ts';
import {
  buildLeader,
  buildMember,
  buildPrimary,
  MB,
  type Scenario,
  scenario,
} from '../../../helpers/builders.ts';

const run = (s: Scenario) => decide(s.snapshot, s.observations, s.config, s.now);
const row = (name: string, flush = 10 * MB) => ({
  name,
  state: 'streaming',
  sync_state: 'async',
  flush_lsn: flush,
  replay_lsn: flush,
});

function syncCluster(opts: {
  recorded: string[];
  actual: string[];
  rows?: ReturnType<typeof row>[];
  strict?: boolean;
  mode?: boolean;
}) {
  return scenario({
    config: { synchronous_mode: opts.mode ?? true, synchronous_mode_strict: opts.strict ?? false },
    leader: buildLeader({ sync: opts.recorded }),
    members: [
      buildPrimary('n1', {
        sync_standbys: opts.actual,
        replication: opts.rows ?? [row('n2', 11 * MB), row('n3')],
      }),
      buildMember('n2'),
      buildMember('n3'),
    ],
  });
}

describe('decide() in synchronous mode', () => {
  it('records a new synchronous standby, then makes PostgreSQL wait for it (rule 200)', () => {
    const decision = run(syncCluster({ recorded: [], actual: [] }));
    expect(decision.rule).toBe(200);
    expect(decision.steps).toEqual([
      { kind: 'record_sync', holder: 'n1', term: 3, standbys: ['n2'] },
      { kind: 'command', action: 'set-sync', member: 'n1', term: 3, standbys: ['n2'] },
    ]);
  });

  it('applies a recorded standby PostgreSQL does not wait for yet (rule 210)', () => {
    const decision = run(syncCluster({ recorded: ['n2'], actual: [] }));
    expect(decision.rule).toBe(210);
    expect(decision.steps).toEqual([
      { kind: 'command', action: 'set-sync', member: 'n1', term: 3, standbys: ['n2'] },
    ]);
  });

  it('when a standby goes away, changes PostgreSQL first (rule 210) and the record after (rule 220)', () => {
    const rows = [row('n3')];
    const first = run(syncCluster({ recorded: ['n2'], actual: ['n2'], rows }));
    expect(first.rule).toBe(200);
    expect(first.steps).toEqual([
      { kind: 'record_sync', holder: 'n1', term: 3, standbys: ['n2', 'n3'] },
      { kind: 'command', action: 'set-sync', member: 'n1', term: 3, standbys: ['n3'] },
    ]);
    const second = run(syncCluster({ recorded: ['n2', 'n3'], actual: ['n2'], rows }));
    expect(second.steps).toEqual([
      { kind: 'command', action: 'set-sync', member: 'n1', term: 3, standbys: ['n3'] },
    ]);
    const third = run(syncCluster({ recorded: ['n2', 'n3'], actual: ['n3'], rows }));
    expect(third.rule).toBe(220);
    expect(third.steps).toEqual([{ kind: 'record_sync', holder: 'n1', term: 3, standbys: ['n3'] }]);
  });

  it('keeps a recorded standby rather than churning to a more advanced one', () => {
    expect(run(syncCluster({ recorded: ['n3'], actual: ['n3'] })).rule).toBe(290);
  });

  it('blocks commits in strict mode when no standby is usable', () => {
    const decision = run(syncCluster({ recorded: [], actual: [], rows: [], strict: true }));
    expect(decision.steps).toEqual([
      { kind: 'command', action: 'set-sync', member: 'n1', term: 3, standbys: ['*'] },
    ]);
  });

  it('falls back to asynchronous replication when not strict and no standby is usable', () => {
    const decision = run(syncCluster({ recorded: ['n2'], actual: ['n2'], rows: [] }));
    expect(decision.steps).toEqual([
      { kind: 'command', action: 'set-sync', member: 'n1', term: 3, standbys: [] },
    ]);
  });

  it('clears PostgreSQL then the record when synchronous_mode is turned off (rule 225)', () => {
    expect(run(syncCluster({ recorded: ['n2'], actual: ['n2'], mode: false })).steps).toEqual([
      { kind: 'command', action: 'set-sync', member: 'n1', term: 3, standbys: [] },
    ]);
    expect(run(syncCluster({ recorded: ['n2'], actual: [], mode: false })).steps).toEqual([
      { kind: 'record_sync', holder: 'n1', term: 3, standbys: [] },
    ]);
  });

  it('only promotes a recorded synchronous standby, even a lagging one', () => {
    const s = scenario({
      config: { synchronous_mode: true },
      stale: ['n1'],
      leaderExpired: true,
      leader: buildLeader({ sync: ['n3'], lsn: 50 * MB }),
      members: [
        buildPrimary('n1'),
        buildMember('n2', { receive_lsn: 49 * MB }),
        buildMember('n3', { receive_lsn: 40 * MB }),
      ],
    });
    const decision = run(s);
    expect(decision.rule).toBe(160);
    expect(decision.steps[1]).toMatchObject({ kind: 'take_over', to: 'n3' });
  });
});
