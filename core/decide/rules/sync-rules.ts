import type { Rule, RuleContext } from '../context.ts';
import { BLOCK_ALL_COMMITS, desiredSyncStandbys, isSubset, sameSet } from '../sync-standbys.ts';

/** Sync management needs a healthy primary that holds a live lease. */
function healthyPrimary(ctx: RuleContext) {
  const holder = ctx.holder;
  if (!ctx.leader || ctx.observations.leader?.expired) return undefined;
  if (!holder || holder.role !== 'primary' || holder.state !== 'running' || !ctx.isFresh(holder.name))
    return undefined;
  return holder;
}

function desired(ctx: RuleContext) {
  const primary = healthyPrimary(ctx);
  if (!primary || !ctx.config.synchronous_mode) return undefined;
  const wanted = desiredSyncStandbys(
    primary,
    ctx.snapshot.members,
    ctx.leader!,
    ctx.config,
    ctx.observations,
  );
  return { primary, wanted, recordable: wanted.filter((n) => n !== BLOCK_ALL_COMMITS) };
}

/**
 * Synchronous standbys, in Patroni's order (DESIGN §4): a standby is recorded in `leader.sync`
 * before PostgreSQL waits for it, and PostgreSQL stops waiting for it before the record drops it.
 * So every standby PostgreSQL waits for is always recorded, and only recorded ones are promoted.
 */
export const syncRules: readonly Rule[] = [
  {
    id: 200,
    state: 'idle',
    when: 'synchronous_mode: a standby to add is not recorded yet: record it, then apply',
    decide: (ctx) => {
      const d = desired(ctx);
      if (!d || isSubset(d.recordable, ctx.leader!.sync)) return undefined;
      const standbys = [...new Set([...ctx.leader!.sync, ...d.recordable])].sort();
      // The executor stops at the first failed step: PostgreSQL waits for it only once recorded.
      return {
        reason: `recording ${d.recordable.filter((n) => !ctx.leader!.sync.includes(n)).join(', ')} as synchronous standby, then setting synchronous_standby_names on ${d.primary.name} to [${d.wanted.join(', ')}]`,
        steps: [
          { kind: 'record_sync', holder: d.primary.name, term: ctx.leader!.term, standbys },
          {
            kind: 'command',
            action: 'set-sync',
            member: d.primary.name,
            term: ctx.leader!.term,
            standbys: d.wanted,
          },
        ],
      };
    },
  },
  {
    id: 210,
    state: 'idle',
    when: 'synchronous_mode: PostgreSQL waits for other standbys than desired (all recorded): apply',
    decide: (ctx) => {
      const d = desired(ctx);
      if (!d || sameSet(d.primary.sync_standbys, d.wanted)) return undefined;
      return {
        reason: `setting synchronous_standby_names on ${d.primary.name} to [${d.wanted.join(', ')}] (was [${d.primary.sync_standbys.join(', ')}])`,
        steps: [
          {
            kind: 'command',
            action: 'set-sync',
            member: d.primary.name,
            term: ctx.leader!.term,
            standbys: d.wanted,
          },
        ],
      };
    },
  },
  {
    id: 220,
    state: 'idle',
    when: 'synchronous_mode: PostgreSQL no longer waits for a recorded standby: drop it from the record',
    decide: (ctx) => {
      const d = desired(ctx);
      if (!d || sameSet(ctx.leader!.sync, d.recordable)) return undefined;
      return {
        reason: `dropping ${ctx.leader!.sync.filter((n) => !d.recordable.includes(n)).join(', ')} from the recorded synchronous standbys`,
        steps: [
          { kind: 'record_sync', holder: d.primary.name, term: ctx.leader!.term, standbys: d.recordable },
        ],
      };
    },
  },
  {
    id: 225,
    state: 'idle',
    when: 'synchronous_mode off: PostgreSQL still waits for standbys: stop first, then drop the record',
    decide: (ctx) => {
      const primary = healthyPrimary(ctx);
      if (!primary || ctx.config.synchronous_mode) return undefined;
      if (primary.sync_standbys.length > 0) {
        return {
          reason: `synchronous_mode is off: clearing synchronous_standby_names on ${primary.name}`,
          steps: [
            {
              kind: 'command',
              action: 'set-sync',
              member: primary.name,
              term: ctx.leader!.term,
              standbys: [],
            },
          ],
        };
      }
      if (ctx.leader!.sync.length > 0) {
        return {
          reason: 'synchronous_mode is off: dropping the recorded synchronous standbys',
          steps: [{ kind: 'record_sync', holder: primary.name, term: ctx.leader!.term, standbys: [] }],
        };
      }
      return undefined;
    },
  },
];
