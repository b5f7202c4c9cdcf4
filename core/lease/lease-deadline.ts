import type { ClusterConfig } from '../config/cluster-config.ts';

/**
 * The primary's local validity deadline after a successful renewal that *began* at
 * `renewStartedAt` on the agent's monotonic clock (DESIGN §3): `t0 + ttl - safety_margin`.
 * Starting the clock before the write, not after, is what makes the bound safe.
 */
export function localLeaseDeadline(
  renewStartedAt: number,
  config: Pick<ClusterConfig, 'ttl' | 'safety_margin'>,
): number {
  return renewStartedAt + (config.ttl - config.safety_margin) * 1000;
}

export function isLeaseLocallyValid(deadline: number | undefined, now: number): boolean {
  return deadline !== undefined && now < deadline;
}
