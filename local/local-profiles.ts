import { type ClusterConfigInput, FAST_PROFILE } from '../core/config/cluster-config.ts';
import {
  DEFAULT_HEALTH_CHECK,
  FAST_HEALTH_CHECK,
  type HealthCheckProfile,
} from '../core/endpoints/health-check-profile.ts';

export type LocalProfileName = 'default' | 'fast';

/** Timing of a local topology: the cluster config, the endpoint's health checks, the controller tick. */
export interface LocalProfile {
  readonly dcs: ClusterConfigInput;
  readonly healthCheck: HealthCheckProfile;
  readonly tickMs: number;
}

/**
 * `default` is what `cdk deploy` sets up (ttl 10 s, loop_wait 2 s, NLB checks every 5 s, tick 1 s);
 * `fast` is for demos and tests (ttl 4 s, loop_wait 1 s, checks every second, tick 0.5 s).
 */
export const LOCAL_PROFILES: Readonly<Record<LocalProfileName, LocalProfile>> = {
  default: { dcs: {}, healthCheck: DEFAULT_HEALTH_CHECK, tickMs: 1000 },
  fast: { dcs: FAST_PROFILE, healthCheck: FAST_HEALTH_CHECK, tickMs: 500 },
};
