import type { ClusterConfig } from '../../core/config/cluster-config.ts';
import type { ClusterSnapshot } from '../../core/model/snapshot.ts';
import type { PgObservation } from '../postgres/pg-observer.ts';
import type { LocalState } from '../state/local-state.ts';

/** What the health API reads: the daemon's last conclusions, never a live I/O call. */
export interface AgentStatus {
  readonly observation: PgObservation;
  readonly local: LocalState | undefined;
  readonly snapshot: ClusterSnapshot | undefined;
  readonly clusterConfig: ClusterConfig;
  readonly leaseValid: boolean;
  readonly leaseRemainingMs: number;
  readonly fencing: boolean;
  /** The last cycle's decision: its rule and reason (docs/rules.md, the agent's table). */
  readonly decision?: { readonly rule: number; readonly reason: string } | undefined;
  readonly postmasterAlive: boolean;
  readonly bootstrapping: boolean;
  readonly starting: boolean;
  readonly lastCycleAt: number | undefined;
  readonly lastStoreSuccessAt: number | undefined;
  readonly pgVersion: string | undefined;
  /** This primary keeps its lease by failsafe pings (DESIGN §3). */
  readonly failsafeActive: boolean;
  /** S: the members a failsafe round would ping now (fresh in the last consistent snapshot). */
  readonly failsafeMembers: readonly { name: string; api_url: string }[];
}

export interface DaemonOptions {
  readonly monotonic?: () => number;
  readonly wallClock?: () => number;
  /** Told of every snapshot the daemon reads (the router's steering, issue #17). */
  readonly onSnapshot?: (snapshot: ClusterSnapshot, config: ClusterConfig) => void;
}
