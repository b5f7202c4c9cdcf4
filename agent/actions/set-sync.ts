import { ActionRefusedError } from '../errors.ts';
import { parseSyncStandbyNames, syncStandbyNames, writePgConfig } from '../postgres/pg-conf.ts';
import { writeLocalState } from '../state/local-state.ts';
import { type ActionHandler, requireLease } from './action-context.ts';

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
    if (row?.v === expected) return { changed: true, message: `synchronous_standby_names = '${expected}'` };
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
