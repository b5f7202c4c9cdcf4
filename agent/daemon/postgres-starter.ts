import type { ClusterConfig } from '../../core/config/cluster-config.ts';
import type { ClusterSnapshot } from '../../core/model/snapshot.ts';
import { type CallbackRole, runCallback } from '../callbacks.ts';
import { startAsReplica } from '../postgres/start-as.ts';
import type { AgentRuntime } from '../runtime.ts';
import type { LocalState } from '../state/local-state.ts';
import { memberEndpoint } from './build-member.ts';

/**
 * Starts PostgreSQL for the daemon, one start at a time, in the background (the loop goes on
 * meanwhile). Only the daemon starts PostgreSQL, so that it runs in the agent's unit
 * (docs/safety.md §5): actions ask for it through `start.request`; the agent's rules decide
 * which start (core/agent/agent-rules.ts).
 */
export class PostgresStarter {
  private current: Promise<void> | undefined;

  constructor(
    private readonly rt: AgentRuntime,
    /**
     * Called when a start has succeeded: the loop looks again at once. A failed start is tried
     * again at the next cycle, not at once (a start that fails at once would otherwise spin).
     */
    private readonly onStarted: () => void,
  ) {}

  /** A start is under way. */
  get busy(): boolean {
    return this.current !== undefined;
  }

  launch(start: () => Promise<void>, callback: 'on_start' | 'on_restart', role: CallbackRole): void {
    this.current = start()
      .then(() => {
        this.current = undefined;
        this.onStarted();
        return runCallback(this.rt, callback, role);
      })
      .catch((error) => {
        this.current = undefined;
        this.rt.logger.error('PostgreSQL did not start (trying again at the next cycle)', {
          error: (error as Error).message,
        });
      });
  }

  /** As a replica of the local state's upstream, its address from the snapshot. */
  replica(
    local: LocalState,
    snapshot: ClusterSnapshot | undefined,
    cluster: ClusterConfig,
    why: string,
  ): void {
    const upstreamMember = snapshot?.members.find((m) => m.name === local.upstream);
    const upstream = upstreamMember
      ? { name: upstreamMember.name, ...memberEndpoint(upstreamMember) }
      : undefined;
    this.rt.logger.info(why, { upstream: local.upstream });
    this.launch(() => startAsReplica(this.rt, cluster, upstream), 'on_start', 'replica');
  }
}
