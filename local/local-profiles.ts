import { type ClusterConfigInput, FAST_PROFILE } from '../core/config/cluster-config.ts';
import {
  CONTROLLER_SCHEDULE,
  FAST_CONTROLLER_SCHEDULE,
  type InvocationSchedule,
} from '../core/controller/invocation-schedule.ts';
import {
  DEFAULT_HEALTH_CHECK,
  FAST_HEALTH_CHECK,
  type HealthCheckProfile,
} from '../core/endpoints/health-check-profile.ts';

export type LocalProfileName = 'default' | 'fast';

/**
 * Timing of a local topology: the cluster config, the endpoint's health checks, the controller
 * tick and its invocation schedule.
 */
export interface LocalProfile {
  readonly dcs: ClusterConfigInput;
  readonly healthCheck: HealthCheckProfile;
  readonly tickMs: number;
  /** How the controller's Lambda invocations are scheduled and cut off. */
  readonly schedule: InvocationSchedule;
}

/**
 * `default` is what `cdk deploy` sets up (ttl 10 s, loop_wait 2 s, NLB checks every 5 s, tick 1 s,
 * an invocation every minute for 75 s); `fast` is for demos and tests (ttl 4 s, loop_wait 1 s,
 * checks every second, tick 0.5 s, an invocation every 15 s for 19 s).
 */
export const LOCAL_PROFILES: Readonly<Record<LocalProfileName, LocalProfile>> = {
  default: { dcs: {}, healthCheck: DEFAULT_HEALTH_CHECK, tickMs: 1000, schedule: CONTROLLER_SCHEDULE },
  fast: {
    dcs: FAST_PROFILE,
    healthCheck: FAST_HEALTH_CHECK,
    tickMs: 500,
    schedule: FAST_CONTROLLER_SCHEDULE,
  },
};
