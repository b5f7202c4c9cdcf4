import type { ClusterConfig } from '../../core/config/cluster-config.ts';
import type { ClusterSnapshot } from '../../core/model/snapshot.ts';
import type { AgentRuntime } from '../runtime.ts';
import type { LocalState } from '../state/local-state.ts';
import { AdoptionRefusedError, adoptExistingData } from './adopt.ts';
import { type BootstrapHooks, bootstrapMember } from './bootstrap.ts';

/**
 * The daemon's first start of a member with no local state: a bootstrap (empty data directory:
 * initdb, bootstrap.method or create_replica_methods) or an adoption (a data directory that holds a cluster). It says while
 * one runs (the watchdog's cycle budget and /patroni read it) and repeats a refused adoption's
 * reason once a minute, not every cycle.
 */
export class FirstStart {
  private running = false;
  private refusedAt: number | undefined;

  constructor(
    private readonly rt: AgentRuntime,
    private readonly hooks: BootstrapHooks,
    private readonly monotonic: () => number,
  ) {}

  /** A bootstrap or an adoption is under way. */
  get busy(): boolean {
    return this.running;
  }

  /**
   * initdb or a clone; undefined while there is nothing to clone yet. `announce` runs first, once
   * `busy` is true (the daemon's heartbeat says bootstrapping before the long work begins).
   */
  bootstrap(
    snapshot: ClusterSnapshot | undefined,
    cluster: ClusterConfig,
    announce: () => Promise<void>,
  ): Promise<LocalState | undefined> {
    return this.whileRunning(async () => {
      await announce();
      const result = await bootstrapMember(this.rt, snapshot, cluster, this.hooks);
      if (result) this.rt.logger.info('bootstrap finished', { want: result.want, term: result.term });
      return result;
    });
  }

  /** Adopts the data directory (bootstrap.ts); undefined while waiting, or when refused. */
  adopt(snapshot: ClusterSnapshot | undefined, cluster: ClusterConfig): Promise<LocalState | undefined> {
    return this.whileRunning(async () => {
      try {
        return await adoptExistingData(this.rt, snapshot, cluster, this.hooks);
      } catch (error) {
        if (!(error instanceof AdoptionRefusedError)) throw error;
        const now = this.monotonic();
        if (this.refusedAt === undefined || now - this.refusedAt > 60_000) {
          this.refusedAt = now;
          this.rt.logger.error(error.message);
        }
        return undefined;
      }
    });
  }

  private async whileRunning<T>(work: () => Promise<T>): Promise<T> {
    this.running = true;
    try {
      return await work();
    } finally {
      this.running = false;
    }
  }
}
