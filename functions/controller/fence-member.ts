import type { FencingMode } from '../../core/config/cluster-config.ts';
import { FencingError } from '../../core/errors.ts';
import type { CommandBus } from '../../core/ports/command-bus.ts';
import type { InstanceFencer } from '../../core/ports/instance-fencer.ts';

export interface FenceRequest {
  readonly cluster: string;
  readonly member: string;
  readonly instanceId?: string;
  readonly term: number;
  readonly mode: FencingMode;
  /** How long the agent has to confirm (fence_timeout). */
  readonly timeoutMs: number;
  /** How long a force-stop may take to show (command_timeout). */
  readonly stopTimeoutMs: number;
}

export interface FenceOutcome {
  /** `agent` (it stopped PostgreSQL), `instance-not-running`, or `force-stopped`. */
  readonly how: 'agent' | 'instance-not-running' | 'force-stopped';
}

const NOT_RUNNING = new Set(['stopped', 'terminated']);

/**
 * Makes sure a member can no longer accept writes before anyone is promoted (DESIGN §3).
 * `safe`: the agent's own confirmation, or the platform reporting the machine not running,
 * else a force-stop that must be seen to complete. `stop_instance`: always the force-stop.
 * Throws FencingError when none of these could be established: never promote then.
 */
export async function fenceMember(
  request: FenceRequest,
  deps: { bus: CommandBus; fencer: InstanceFencer; sleep?: (ms: number) => Promise<void> },
): Promise<FenceOutcome> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const target = {
    cluster: request.cluster,
    member: request.member,
    ...(request.instanceId ? { instanceId: request.instanceId } : {}),
  };
  if (request.mode === 'safe') {
    try {
      const result = await deps.bus.run(target, { action: 'fence', term: request.term }, request.timeoutMs);
      if (result.ok) return { how: 'agent' };
    } catch {
      // Not delivered: the host may be gone. Ask the platform.
    }
    if (NOT_RUNNING.has(await deps.fencer.state(target))) return { how: 'instance-not-running' };
  }
  await deps.fencer.forceStop(target);
  const deadline = Date.now() + request.stopTimeoutMs;
  for (;;) {
    const state = await deps.fencer.state(target);
    if (NOT_RUNNING.has(state)) return { how: 'force-stopped' };
    if (Date.now() > deadline) {
      throw new FencingError(
        request.member,
        `still ${state} ${request.stopTimeoutMs} ms after a forced stop`,
      );
    }
    await sleep(500);
  }
}
