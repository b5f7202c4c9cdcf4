import { describe, expect, it } from 'vitest';
import {
  type AgentEvent,
  type AgentFacts,
  type AgentMemory,
  decideAgent,
  INITIAL_MEMORY,
} from '../../../../core/agent/agent-decision.ts';
import { AGENT_RULES } from '../../../../core/agent/agent-rules.ts';

type Overrides = Omit<Partial<AgentFacts>, 'pg' | 'config'> & {
  pg?: Partial<AgentFacts['pg']>;
  config?: Partial<AgentFacts['config']>;
};

/** A primary whose PostgreSQL answers, nothing else going on. */
function facts(overrides: Overrides = {}): AgentFacts {
  const { pg, config, ...rest } = overrides;
  return {
    now: 100_000,
    bootstrapPending: false,
    dataDirEmpty: false,
    local: { want: 'primary', term: 3 },
    actionBusy: false,
    startRequested: false,
    pg: { reachable: true, inRecovery: false, postmasterAlive: true, starting: false, ...pg },
    leaseHeldAtTerm: true,
    sinceRenewalBeganMs: 0,
    leaseRemainingMs: 20_000,
    failsafeActive: false,
    bootstrapping: false,
    config: { pause: false, loop_wait: 10, primary_start_timeout: 30, use_slots: true, ...config },
    ...rest,
  };
}

const decide = (event: AgentEvent, f: AgentFacts, memory: AgentMemory = INITIAL_MEMORY) =>
  decideAgent(AGENT_RULES, event, f, memory);
const kinds = (d: { steps: readonly { kind: string }[] }) => d.steps.map((s) => s.kind);

const replica = { want: 'replica', term: 3 } as const;
const fenced = { want: 'stopped', term: 3, stopped_reason: 'fenced' } as const;
const down = { reachable: false, inRecovery: undefined, postmasterAlive: false };

describe('the agent decides each cycle from its rule table', () => {
  it.each<[string, Overrides, number, string[]]>([
    ['resumes a bootstrap the store records as unfinished', { bootstrapPending: true }, 100, ['bootstrap']],
    ['bootstraps into an empty data directory', { dataDirEmpty: true, local: undefined }, 105, ['bootstrap']],
    [
      'adopts a data directory that has no local state file',
      { local: undefined },
      110,
      ['adopt-data-directory'],
    ],
    [
      'starts a replica an action asks for',
      { actionBusy: true, startRequested: true, local: replica, pg: down },
      200,
      ['start-replica'],
    ],
    [
      'starts the primary an action asks for while the lease is held at its term',
      { actionBusy: true, startRequested: true, pg: down },
      205,
      ['start-primary'],
    ],
    [
      'refuses to start a primary when the lease is not seen at its term',
      { actionBusy: true, startRequested: true, pg: down, leaseHeldAtTerm: false },
      210,
      [],
    ],
    ['leaves PostgreSQL alone while an action holds the lock', { actionBusy: true, pg: down }, 220, []],
    ['does not renew while a promotion is in recovery', { pg: { inRecovery: true } }, 300, []],
    ['renews the lease of a primary first', {}, 310, ['renew-lease']],
    ['fences when the renewal lost its condition', { renewal: 'lost' }, 320, ['fence']],
    ['keeps the primary in failsafe when renewals fail', { renewal: 'error', failsafeActive: true }, 330, []],
    ['retries a failed renewal until the deadline', { renewal: 'error' }, 335, []],
    ['keeps slots for a renewed primary that answers', { renewal: 'renewed' }, 340, ['keep-slots']],
    [
      'restarts a renewed primary whose PostgreSQL is gone',
      { renewal: 'renewed', pg: down },
      360,
      ['start-primary'],
    ],
    [
      'waits for a primary whose PostgreSQL is starting',
      { renewal: 'renewed', pg: { ...down, starting: true } },
      365,
      [],
    ],
    [
      'stops a PostgreSQL that runs as primary where a replica is wanted',
      { local: replica },
      400,
      ['forget-lease', 'stop-rogue-primary'],
    ],
    [
      'starts a replica that is not running',
      { local: replica, pg: down },
      410,
      ['forget-lease', 'start-replica'],
    ],
    [
      'creates a replica again whose data directory a failed rebuild left empty (never pg_ctl start on it)',
      { local: replica, pg: down, dataDirEmpty: true },
      405,
      ['forget-lease', 'bootstrap'],
    ],
    [
      'leaves an empty data directory alone while an action (a rebuild) holds the host',
      { local: replica, pg: down, dataDirEmpty: true, actionBusy: true },
      220,
      [],
    ],
    [
      'never bootstraps a member that wants to be primary because its data directory is empty',
      { local: { want: 'primary', term: 3 }, pg: down, dataDirEmpty: true, leaseHeldAtTerm: true },
      310,
      ['renew-lease'],
    ],
    [
      'says so when a running replica holds a failsafe promise',
      {
        local: replica,
        pg: { inRecovery: true },
        promise: { holder: 'node1', term: 3, remaining_ms: 4_200 },
      },
      415,
      ['forget-lease'],
    ],
    ['leaves a running replica alone', { local: replica, pg: { inRecovery: true } }, 420, ['forget-lease']],
    ['stops PostgreSQL on a fenced member', { local: fenced }, 500, ['forget-lease', 'stop-postgres']],
    ['waits, stopped, for the controller', { local: fenced, pg: down }, 510, ['forget-lease']],
  ])('%s (rule %#)', (_name, overrides, rule, steps) => {
    const d = decide('cycle', facts(overrides));
    expect(d.rule).toBe(rule);
    expect(kinds(d)).toEqual(steps);
  });

  it('asks to decide again after a renewal, with its result', () => {
    expect(decide('cycle', facts()).again).toBe(true);
    expect(decide('cycle', facts({ renewal: 'renewed' })).again).toBeUndefined();
  });

  it('marks fencing in its memory the moment it decides to fence', () => {
    expect(decide('cycle', facts({ renewal: 'lost' })).memory.fencing).toBe(true);
    expect(decide('lease-lost', facts({ leaseLoss: { reason: 'taken', detail: 'x' } })).memory.fencing).toBe(
      true,
    );
  });

  it('does not fence twice when the keeper already fenced for the lost renewal', () => {
    const d = decide('cycle', facts({ renewal: 'lost' }), { fencing: true });
    expect(d.rule).toBe(320);
    expect(d.steps).toEqual([]);
  });

  it('a successful renewal ends fencing and forgets PostgreSQL trouble', () => {
    const d = decide('cycle', facts({ renewal: 'renewed' }), { fencing: true, troubleSince: 1 });
    expect(d.memory).toEqual({ fencing: false });
  });

  it('releases the lease once PostgreSQL stayed down for primary_start_timeout', () => {
    const first = decide('cycle', facts({ renewal: 'renewed', pg: down }));
    expect(first.memory.troubleSince).toBe(100_000);
    const later = facts({ renewal: 'renewed', pg: down, now: 100_000 + 30_000 });
    const d = decide('cycle', later, first.memory);
    expect(d.rule).toBe(350);
    expect(kinds(d)).toEqual(['fence', 'release-lease']);
    const justBefore = decide('cycle', { ...later, now: 100_000 + 29_999 }, first.memory);
    expect(justBefore.rule).toBe(360);
  });

  it('keeps restarting in place, without releasing, while the cluster is paused', () => {
    const paused = facts({ renewal: 'renewed', pg: down, now: 1_000_000, config: { pause: true } });
    expect(decide('cycle', paused, { fencing: false, troubleSince: 0 }).rule).toBe(360);
  });
});

describe('the renewal timer renews only for a stuck cycle', () => {
  const stuck = { sinceRenewalBeganMs: 15_000 };
  it.each<[string, Overrides, AgentMemory, number, string[]]>([
    ['not on a replica', { ...stuck, local: replica }, INITIAL_MEMORY, 600, []],
    ['not while fencing', stuck, { fencing: true }, 600, []],
    ['not while bootstrapping', { ...stuck, bootstrapping: true }, INITIAL_MEMORY, 600, []],
    ['not when the cycle renewed within loop_wait', { sinceRenewalBeganMs: 9_999 }, INITIAL_MEMORY, 605, []],
    ['not while an action holds the lock', { ...stuck, actionBusy: true }, INITIAL_MEMORY, 610, []],
    ['not while a promotion is in recovery', { ...stuck, pg: { inRecovery: true } }, INITIAL_MEMORY, 610, []],
    [
      'not when an action changed the local state',
      { ...stuck, localChangedSinceCycle: true },
      INITIAL_MEMORY,
      612,
      [],
    ],
    ['renews for a cycle stuck a loop_wait', stuck, INITIAL_MEMORY, 615, ['renew-lease']],
    [
      'fences when that renewal lost its condition',
      { ...stuck, renewal: 'lost' },
      INITIAL_MEMORY,
      620,
      ['fence'],
    ],
    ['leaves a failed renewal to the cycle', { ...stuck, renewal: 'error' }, INITIAL_MEMORY, 625, []],
  ])('%s', (_name, overrides, memory, rule, steps) => {
    const d = decide('renewal-timer', facts(overrides), memory);
    expect(d.rule).toBe(rule);
    expect(kinds(d)).toEqual(steps);
  });
});

describe('when the lease keeper loses the lease', () => {
  it('does not fence at the deadline while the cluster is paused', () => {
    const f = facts({ leaseLoss: { reason: 'deadline', detail: 'late' }, config: { pause: true } });
    expect(decide('lease-lost', f).rule).toBe(700);
    expect(decide('lease-lost', f).steps).toEqual([]);
  });

  it.each(['taken', 'deadline'] as const)('fences when it was %s (even after an earlier fence)', (reason) => {
    const d = decide('lease-lost', facts({ leaseLoss: { reason, detail: 'gone' } }), { fencing: true });
    expect(d.rule).toBe(710);
    expect(kinds(d)).toEqual(['fence']);
    expect(d.reason).toContain(`lease lost (${reason}): gone`);
  });

  it('fences a paused primary whose lease was taken', () => {
    const f = facts({ leaseLoss: { reason: 'taken', detail: 'x' }, config: { pause: true } });
    expect(decide('lease-lost', f).rule).toBe(710);
  });
});

describe('the table', () => {
  it('has unique rule ids in ascending order within each event', () => {
    const ids = AGENT_RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const event of ['cycle', 'renewal-timer', 'lease-lost'] as const) {
      const mine = AGENT_RULES.filter((r) => r.on === event).map((r) => r.id);
      expect(mine).toEqual([...mine].sort((a, b) => a - b));
    }
  });
});
