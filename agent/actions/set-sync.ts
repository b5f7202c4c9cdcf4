import { ActionRefusedError } from '../errors.ts';
import { parseSyncStandbyNames, syncStandbyNames, writePgConfig } from '../postgres/pg-conf.ts';
import { writeLocalState } from '../state/local-state.ts';
import { type ActionHandler, requireLease } from './action-context.ts';

/**
 * Writes one WAL record (a non-transactional logical message: no table, no commit). Commits
 * already waiting are released only when a synchronous standby next reports a flush, and an
 * idle, caught-up standby reports only every wal_receiver_status_interval (10 s): new WAL makes
 * it report at once.
 */
async function nudgeStandbys(ctx: Parameters<ActionHandler>[0]): Promise<void> {
  await ctx.rt.observer
    .query("SELECT pg_logical_emit_message(false, 'pgwarden', 'synchronous_standby_names changed')")
    .catch((error) =>
      ctx.rt.logger.warn('could not write a WAL record for the standbys', {
        error: (error as Error).message,
      }),
    );
}

/** Applies synchronous_standby_names on this primary (the controller records standbys first). */
export const setSync: ActionHandler = async (ctx) => {
  const { rt, args, cluster } = ctx;
  await requireLease(ctx);
  const obs = await rt.observer.observe(Date.now());
  if (!obs.reachable || obs.inRecovery !== false)
    throw new ActionRefusedError('set-sync', 'PostgreSQL is not running as primary');
  const standbys = args.standbys?.filter(Boolean) ?? [];
  await writePgConfig(rt.config, cluster, rt.paths, rt.user, { syncStandbys: standbys });
  await writeLocalState(rt.paths.localState, {
    want: 'primary',
    term: args.term,
    sync_standbys: standbys,
    updated_by: 'action:set-sync',
  });
  await rt.postgres.reload();
  const expected = syncStandbyNames(standbys);
  for (let i = 0; i < 40; i += 1) {
    const [row] = await rt.observer.query<{ v: string }>(
      "SELECT current_setting('synchronous_standby_names') AS v",
    );
    if (row?.v === expected) {
      await nudgeStandbys(ctx);
      return { changed: true, message: `synchronous_standby_names = '${expected}'` };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const [row] = await rt.observer.query<{ v: string }>(
    "SELECT current_setting('synchronous_standby_names') AS v",
  );
  throw new ActionRefusedError(
    'set-sync',
    `PostgreSQL reports [${parseSyncStandbyNames(row?.v ?? '').join(', ')}] after the reload, expected '${expected}'`,
  );
};
