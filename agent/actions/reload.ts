import { runCallback } from '../callbacks.ts';
import { ActionRefusedError } from '../errors.ts';
import { slotName, writePgConfig } from '../postgres/pg-conf.ts';
import { type ActionHandler, upstreamOf } from './action-context.ts';

/** Rewrites the managed settings (e.g. new postgresql.parameters) and reloads PostgreSQL. */
export const reload: ActionHandler = async (ctx) => {
  const { rt, cluster, local } = ctx;
  if (!(await rt.postgres.postmasterPid()))
    throw new ActionRefusedError('reload', 'PostgreSQL is not running');
  const upstream = local?.want === 'replica' && local.upstream ? upstreamOf(ctx, local.upstream) : undefined;
  await writePgConfig(rt.config, cluster, rt.paths, rt.user, {
    ...(upstream
      ? {
          upstream: {
            host: upstream.host,
            port: upstream.port,
            ...(cluster.postgresql.use_slots ? { slot: slotName(rt.config.name) } : {}),
          },
        }
      : {}),
    syncStandbys: local?.want === 'primary' ? local.sync_standbys : [],
  });
  await rt.postgres.reload();
  runCallback(rt.config, rt.logger, 'on_reload', local?.want ?? 'unknown');
  const [pending] = await rt.observer.query<{ n: string }>(
    'SELECT count(*)::text AS n FROM pg_settings WHERE pending_restart',
  );
  return {
    changed: true,
    message: `reloaded${pending && pending.n !== '0' ? `; ${pending.n} setting(s) need a restart` : ''}`,
  };
};
