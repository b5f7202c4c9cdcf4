import { runCallback } from '../callbacks.ts';
import { ActionRefusedError } from '../errors.ts';
import { writePgConfig } from '../postgres/pg-conf.ts';
import { replicaSettings } from '../postgres/start-as.ts';
import { type ActionHandler, upstreamOf } from './action-context.ts';

/** Rewrites the managed settings (e.g. new postgresql.parameters) and reloads PostgreSQL. */
export const reload: ActionHandler = async (ctx) => {
  const { rt, cluster, local } = ctx;
  if (!(await rt.postgres.postmasterPid()))
    throw new ActionRefusedError('reload', 'PostgreSQL is not running');
  const upstream = local?.want === 'replica' && local.upstream ? upstreamOf(ctx, local.upstream) : undefined;
  const settings =
    local?.want === 'primary'
      ? { syncStandbys: local.sync_standbys }
      : replicaSettings(rt, cluster, upstream);
  await writePgConfig(rt.config, cluster, rt.paths, rt.user, settings);
  await rt.postgres.reload();
  runCallback(
    rt,
    'on_reload',
    local?.want === 'primary' || local?.want === 'replica' ? local.want : 'uninitialized',
  );
  const [pending] = await rt.observer.query<{ n: string }>(
    'SELECT count(*)::text AS n FROM pg_settings WHERE pending_restart',
  );
  return {
    changed: true,
    message: `reloaded${pending && pending.n !== '0' ? `; ${pending.n} setting(s) need a restart` : ''}`,
  };
};
