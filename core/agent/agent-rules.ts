import type { AgentFacts, AgentMemory, AgentOutcome, AgentRule } from './agent-decision.ts';

const primary = (f: AgentFacts) => f.local?.want === 'primary';
const replica = (f: AgentFacts) => f.local?.want === 'replica';
const inRecovery = (f: AgentFacts) => f.pg.reachable && f.pg.inRecovery === true;
const runsAsPrimary = (f: AgentFacts) => f.pg.reachable && f.pg.inRecovery === false;
const startable = (f: AgentFacts) => !f.pg.postmasterAlive && !f.pg.starting;
const startForAction = (f: AgentFacts) => f.actionBusy && f.startRequested && f.local && startable(f);
const calm = (): AgentMemory => ({ fencing: false });
const fencing = (): AgentMemory => ({ fencing: true });

/** A renewed primary whose PostgreSQL does not answer: trouble counts from its first sight. */
function troubled(f: AgentFacts, m: AgentMemory): AgentMemory {
  return { fencing: false, troubleSince: m.troubleSince ?? f.now };
}

/** Fence: /primary answers 503 from this decision (the memory), PostgreSQL stops. */
const fenceFor = (why: string): AgentOutcome => ({
  reason: `${why}: fencing`,
  steps: [{ kind: 'fence', why }],
  level: 'error',
  memory: fencing(),
});

const nothing = (reason: string, level: AgentOutcome['level'] = 'debug'): AgentOutcome => ({
  reason,
  steps: [],
  level,
});

/** What the daemon does each cycle, on its renewal timer and when the lease keeper loses the lease. */
export const AGENT_RULES: readonly AgentRule[] = [
  {
    id: 100,
    on: 'cycle',
    when: "the store's consistent read records this member's bootstrap as unfinished",
    decide: (f) =>
      f.bootstrapPending
        ? {
            reason: 'resuming the unfinished bootstrap',
            steps: [{ kind: 'bootstrap' }],
            level: 'info',
            retrySoon: true,
          }
        : undefined,
  },
  {
    id: 105,
    on: 'cycle',
    when: 'no local state is known yet and the data directory is empty',
    decide: (f) =>
      !f.local && f.dataDirEmpty
        ? {
            reason: 'the data directory is empty: bootstrapping (initdb, or a base backup of the primary)',
            steps: [{ kind: 'bootstrap' }],
            level: 'info',
            retrySoon: true,
          }
        : undefined,
  },
  {
    id: 110,
    on: 'cycle',
    when: 'no local state file, and the data directory holds a cluster',
    decide: (f) =>
      f.local
        ? undefined
        : {
            reason:
              'no local state file: adopting the data directory (primary only if the lease names this member)',
            steps: [{ kind: 'adopt-data-directory' }],
            level: 'warn',
            again: true,
          },
  },
  {
    id: 200,
    on: 'cycle',
    when: 'an action holds the lock and asks for PostgreSQL, not running, as a replica',
    decide: (f) =>
      startForAction(f) && replica(f)
        ? {
            reason: 'starting PostgreSQL as a replica for an action',
            steps: [{ kind: 'start-replica', why: 'starting PostgreSQL as a replica for an action' }],
            level: 'info',
          }
        : undefined,
  },
  {
    id: 205,
    on: 'cycle',
    when: "an action asks for PostgreSQL as primary, and this cycle's consistent read shows the lease held at the local term",
    decide: (f) =>
      startForAction(f) && primary(f) && f.leaseHeldAtTerm
        ? {
            reason: 'starting PostgreSQL as primary for an action',
            steps: [{ kind: 'start-primary', callback: 'on_start' }],
            level: 'info',
          }
        : undefined,
  },
  {
    id: 210,
    on: 'cycle',
    when: 'an action asks for PostgreSQL as primary, but the lease is not seen held at the local term',
    decide: (f) =>
      startForAction(f) && primary(f)
        ? nothing('an action asks for PostgreSQL as primary, but the lease is not held at its term', 'warn')
        : undefined,
  },
  {
    id: 220,
    on: 'cycle',
    when: 'an action holds the lock',
    decide: (f) =>
      f.actionBusy ? nothing('an action holds the lock: PostgreSQL and the lease are left to it') : undefined,
  },
  {
    id: 300,
    on: 'cycle',
    when: 'primary wanted, PostgreSQL still in recovery (a promotion has not finished)',
    decide: (f) =>
      primary(f) && inRecovery(f) ? nothing('PostgreSQL is still in recovery: not renewing yet') : undefined,
  },
  {
    id: 310,
    on: 'cycle',
    when: 'primary wanted, not renewed yet in this cycle',
    decide: (f) =>
      primary(f) && f.renewal === undefined
        ? { reason: 'renewing the lease', steps: [{ kind: 'renew-lease' }], again: true }
        : undefined,
  },
  {
    id: 320,
    on: 'cycle',
    when: 'primary wanted, the renewal lost its condition: another member holds the lease',
    decide: (f, m) => {
      if (!primary(f) || f.renewal !== 'lost') return undefined;
      if (m.fencing) return nothing('the lease is held by someone else: fencing', 'error');
      return fenceFor('the lease is held by someone else');
    },
  },
  {
    id: 330,
    on: 'cycle',
    when: 'primary wanted, the renewal failed, and failsafe keeps the lease (every member promised)',
    decide: (f) =>
      primary(f) && f.renewal === 'error' && f.failsafeActive
        ? {
            ...nothing(
              'DynamoDB cannot be reached: in failsafe, every member promised not to be promoted',
              'warn',
            ),
            retrySoon: true,
          }
        : undefined,
  },
  {
    id: 335,
    on: 'cycle',
    when: 'primary wanted, the renewal failed other than by its condition',
    decide: (f) =>
      primary(f) && f.renewal === 'error'
        ? {
            ...nothing(
              `lease renewal failed; retrying until the local deadline (${Math.round(f.leaseRemainingMs)} ms left)`,
              'warn',
            ),
            retrySoon: true,
          }
        : undefined,
  },
  {
    id: 340,
    on: 'cycle',
    when: 'primary wanted, renewed, PostgreSQL answers as primary',
    decide: (f) =>
      primary(f) && f.pg.reachable
        ? {
            reason: 'primary: the lease is renewed and PostgreSQL answers',
            steps: f.config.use_slots ? [{ kind: 'keep-slots' }] : [],
            memory: calm(),
          }
        : undefined,
  },
  {
    id: 350,
    on: 'cycle',
    when: 'primary wanted, renewed, PostgreSQL down for primary_start_timeout, not paused',
    decide: (f, m) => {
      if (!primary(f) || f.config.pause) return undefined;
      const since = m.troubleSince ?? f.now;
      if (f.now - since < f.config.primary_start_timeout * 1000) return undefined;
      const why = 'PostgreSQL did not come back within primary_start_timeout';
      return {
        reason: `${why}: fencing and releasing the lease`,
        steps: [{ kind: 'fence', why }, { kind: 'release-lease' }],
        level: 'error',
        memory: fencing(),
      };
    },
  },
  {
    id: 360,
    on: 'cycle',
    when: 'primary wanted, renewed, PostgreSQL not running and not starting',
    decide: (f, m) =>
      primary(f) && startable(f)
        ? {
            reason: 'PostgreSQL is not running on the primary; restarting it in place',
            steps: [{ kind: 'start-primary', callback: 'on_restart' }],
            level: 'warn',
            memory: troubled(f, m),
          }
        : undefined,
  },
  {
    id: 365,
    on: 'cycle',
    when: 'primary wanted, renewed, PostgreSQL starting or not answering',
    decide: (f, m) =>
      primary(f)
        ? {
            ...nothing(
              'PostgreSQL is starting or does not answer on the primary: waiting (primary_start_timeout)',
              'warn',
            ),
            memory: troubled(f, m),
          }
        : undefined,
  },
  {
    id: 400,
    on: 'cycle',
    when: 'replica wanted, PostgreSQL runs as a primary',
    decide: (f) =>
      replica(f) && runsAsPrimary(f)
        ? {
            reason: 'PostgreSQL runs as a primary but this member must be a replica; stopping it',
            steps: [{ kind: 'forget-lease' }, { kind: 'stop-rogue-primary' }],
            level: 'error',
            retrySoon: true,
          }
        : undefined,
  },
  {
    id: 405,
    on: 'cycle',
    when: 'replica wanted, PostgreSQL not running and not starting, the data directory empty',
    // A rebuild (rejoin, reinit) empties the directory before its method and after a failed one;
    // when none succeeded (the primary unreachable meanwhile) there is nothing to start: the
    // member is created again, from the primary, once there is one to clone from. Found by the
    // fault campaign (issue #18): the agent tried pg_ctl start on the empty directory in a loop.
    decide: (f) =>
      replica(f) && startable(f) && f.dataDirEmpty
        ? {
            reason:
              'the data directory is empty (a rebuild failed or was interrupted): creating the replica again (create_replica_methods)',
            steps: [{ kind: 'forget-lease' }, { kind: 'bootstrap' }],
            level: 'warn',
          }
        : undefined,
  },
  {
    id: 410,
    on: 'cycle',
    when: 'replica wanted, PostgreSQL not running and not starting',
    decide: (f) =>
      replica(f) && startable(f)
        ? {
            reason: 'starting PostgreSQL as a replica',
            steps: [
              { kind: 'forget-lease' },
              { kind: 'start-replica', why: 'starting PostgreSQL as a replica' },
            ],
            level: 'info',
          }
        : undefined,
  },
  {
    id: 415,
    on: 'cycle',
    when: 'replica wanted, PostgreSQL running or starting, a failsafe promise in force',
    decide: (f) =>
      replica(f) && f.promise
        ? {
            reason: `replica, promised ${f.promise.holder} (term ${f.promise.term}) not to be promoted for ${Math.ceil(f.promise.remaining_ms / 1000)} s more`,
            steps: [{ kind: 'forget-lease' }],
            level: 'info',
          }
        : undefined,
  },
  {
    id: 420,
    on: 'cycle',
    when: 'replica wanted, PostgreSQL running or starting',
    decide: (f) =>
      replica(f)
        ? { reason: 'replica: PostgreSQL runs or is starting', steps: [{ kind: 'forget-lease' }] }
        : undefined,
  },
  {
    id: 500,
    on: 'cycle',
    when: 'stopped wanted (fenced, demoted), PostgreSQL running and not being started',
    decide: (f) =>
      f.pg.postmasterAlive && !f.pg.starting
        ? {
            reason: `PostgreSQL runs although this member must stay stopped (${f.local?.stopped_reason ?? 'stopped'}); stopping it`,
            steps: [{ kind: 'forget-lease' }, { kind: 'stop-postgres' }],
            level: 'warn',
          }
        : undefined,
  },
  {
    id: 510,
    on: 'cycle',
    when: 'stopped wanted',
    decide: (f) => ({
      reason: `stopped (${f.local?.stopped_reason ?? 'stopped'}): waiting for the controller`,
      steps: [{ kind: 'forget-lease' }],
    }),
  },
  {
    id: 600,
    on: 'renewal-timer',
    when: 'the local state file does not want a primary, or fencing or a bootstrap is under way',
    decide: (f, m) =>
      m.fencing || f.bootstrapping || f.local?.want !== 'primary' ? nothing('not a primary here') : undefined,
  },
  {
    id: 605,
    on: 'renewal-timer',
    when: 'a renewal began within the last loop_wait',
    decide: (f) =>
      f.sinceRenewalBeganMs < f.config.loop_wait * 1000 ? nothing('the cycle renews the lease') : undefined,
  },
  {
    id: 610,
    on: 'renewal-timer',
    when: 'an action holds the lock, or PostgreSQL is still in recovery',
    decide: (f) =>
      f.actionBusy || inRecovery(f) ? nothing('an action or a promotion is under way') : undefined,
  },
  {
    id: 612,
    on: 'renewal-timer',
    when: 'an action changed the local state since the last cycle',
    decide: (f) =>
      f.localChangedSinceCycle ? nothing('the local state changed: the next cycle decides') : undefined,
  },
  {
    id: 615,
    on: 'renewal-timer',
    when: 'the cycle is stuck (PostgreSQL queries hang) and no renewal was made by the timer yet',
    decide: (f) =>
      f.renewal === undefined
        ? {
            reason: 'the cycle is slow: renewing the lease from the timer',
            steps: [{ kind: 'renew-lease' }],
            again: true,
          }
        : undefined,
  },
  {
    id: 620,
    on: 'renewal-timer',
    when: "the timer's renewal lost its condition and no fence began",
    decide: (f, m) => {
      if (f.renewal !== 'lost' || m.fencing) return undefined;
      return fenceFor('the lease is held by someone else');
    },
  },
  {
    id: 625,
    on: 'renewal-timer',
    when: 'otherwise (a failed renewal is the next cycle’s to handle)',
    decide: () => nothing('renewed from the timer, or left to the next cycle'),
  },
  {
    id: 700,
    on: 'lease-lost',
    when: 'the local deadline passed while the cluster is paused',
    decide: (f) =>
      f.leaseLoss?.reason === 'deadline' && f.config.pause
        ? nothing('the lease deadline passed, but the cluster is paused: not fencing', 'warn')
        : undefined,
  },
  {
    id: 710,
    on: 'lease-lost',
    when: 'the lease was taken, or its local deadline passed',
    decide: (f) => {
      return fenceFor(
        `lease lost (${f.leaseLoss?.reason ?? 'deadline'}): ${f.leaseLoss?.detail ?? ''}`.trim(),
      );
    },
  },
];
