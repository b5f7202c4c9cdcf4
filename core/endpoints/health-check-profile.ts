/**
 * How the endpoint decides where to send connections: one definition for the NLB target groups
 * (CDK) and HAProxy in the local topology, so both behave alike (DESIGN §1, §7).
 */
export interface HealthCheckProfile {
  /** Writer listener port, checked with `writerPath`. */
  readonly writerPort: number;
  readonly readerPort: number;
  readonly writerPath: '/primary';
  readonly readerPath: '/replica';
  /** The agent's health API port on every host. */
  readonly apiPort: number;
  /** The router's listeners on every host (issue #17: the targets when routers are on). */
  readonly routerWriterPort: number;
  readonly routerReaderPort: number;
  readonly intervalSeconds: number;
  readonly timeoutSeconds: number;
  readonly healthyThreshold: number;
  readonly unhealthyThreshold: number;
  /** Seconds a deregistered (unhealthy) target keeps its connections. */
  readonly deregistrationDelaySeconds: number;
  /**
   * Replicas further behind than this (bytes) leave the reader endpoint (`/replica?lag=`); the
   * stack and the local topology set it from maximum_lag_on_failover. @default - no bound
   */
  readonly readerMaxLagBytes?: number;
}

/**
 * The check of a host's router targets (issue #17): 200 while the router listens and the agent
 * cycles, whoever is primary, so that a change of primary never waits for the checks.
 */
export const ROUTER_CHECK_PATH = '/router';

/** The reader check: `/replica`, with the lag bound when there is one. */
export function readerCheckPath(
  profile: Pick<HealthCheckProfile, 'readerPath' | 'readerMaxLagBytes'>,
): string {
  return profile.readerMaxLagBytes === undefined
    ? profile.readerPath
    : `${profile.readerPath}?lag=${profile.readerMaxLagBytes}`;
}

/** NLB target groups: interval 5 s, timeout 3 s, thresholds 2/2 (≈ 10 s to leave, 10 s to join). */
export const DEFAULT_HEALTH_CHECK: HealthCheckProfile = {
  writerPort: 5432,
  readerPort: 5433,
  writerPath: '/primary',
  readerPath: '/replica',
  apiPort: 8008,
  routerWriterPort: 5440,
  routerReaderPort: 5441,
  intervalSeconds: 5,
  timeoutSeconds: 3,
  healthyThreshold: 2,
  unhealthyThreshold: 2,
  deregistrationDelaySeconds: 5,
};

/** The local `fast` profile: the same paths, checked every second. */
export const FAST_HEALTH_CHECK: HealthCheckProfile = {
  ...DEFAULT_HEALTH_CHECK,
  intervalSeconds: 1,
  timeoutSeconds: 1,
  deregistrationDelaySeconds: 0,
};
