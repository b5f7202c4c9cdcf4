import type { ClusterConfig } from '../../core/config/cluster-config.ts';
import type { AgentRuntime } from '../runtime.ts';
import { setStandbySignal, slotName, writePgConfig, writePgpass } from './pg-conf.ts';

export interface UpstreamEndpoint {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

/** Writes the config for a replica of `upstream` (standby.signal on) and starts PostgreSQL. */
export async function startAsReplica(
  rt: AgentRuntime,
  cluster: ClusterConfig,
  upstream: UpstreamEndpoint | undefined,
): Promise<void> {
  await writePgpass(rt.config, rt.paths, rt.user);
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
    syncStandbys: [],
  });
  await setStandbySignal(rt.paths, rt.user, true);
  await rt.postgres.start(rt.config.postgresql.start_timeout * 1000);
}

/**
 * Starts PostgreSQL as a primary. The caller must hold the lease at the expected term
 * (checked just before calling): this function does not look.
 */
export async function startAsPrimary(
  rt: AgentRuntime,
  cluster: ClusterConfig,
  syncStandbys: readonly string[],
): Promise<void> {
  await writePgpass(rt.config, rt.paths, rt.user);
  await writePgConfig(rt.config, cluster, rt.paths, rt.user, { syncStandbys });
  await setStandbySignal(rt.paths, rt.user, false);
  await rt.postgres.start(rt.config.postgresql.start_timeout * 1000);
}
