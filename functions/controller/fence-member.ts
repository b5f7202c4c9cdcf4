import type { FencingMode } from '../../core/config/cluster-config.ts';
import { CommandDeliveryError, DeadlineReachedError, FencingError } from '../../core/errors.ts';
import type { CommandBus } from '../../core/ports/command-bus.ts';
import type { InstanceFencer } from '../../core/ports/instance-fencer.ts';
import { awaitCommand } from './run-command.ts';

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
  /** When the invocation must be done (controller clock): no wait goes past it. @default no limit */
  readonly deadlineMs?: number;
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
 * Throws FencingError when none of these could be established: never promote then; and
 * DeadlineReachedError when the invocation ends first (the next one fences again: every move
 * here is idempotent).
 */
export async function fenceMember(
  request: FenceRequest,
  deps: {
    bus: CommandBus;
    fencer: InstanceFencer;
    sleep?: (ms: number) => Promise<void>;
    clock?: () => number;
  },
): Promise<FenceOutcome> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const clock = deps.clock ?? Date.now;
  const deadline = request.deadlineMs ?? Number.POSITIVE_INFINITY;
  const target = {
    cluster: request.cluster,
    member: request.member,
    ...(request.instanceId ? { instanceId: request.instanceId } : {}),
  };
  if (request.mode === 'safe') {
    const confirmBy = clock() + request.timeoutMs;
    try {
      const id = await deps.bus.send(target, { action: 'fence', term: request.term }, request.timeoutMs);
      const result = await awaitCommand(deps.bus, target, id, Math.min(confirmBy, deadline), {
        clock,
        sleep,
      });
      if (result?.ok) return { how: 'agent' };
      if (!result && deadline < confirmBy) throw new DeadlineReachedError(`fencing ${request.member}`);
    } catch (error) {
      // Not delivered: the host may be gone. Ask the platform.
      if (!(error instanceof CommandDeliveryError)) throw error;
    }
    if (NOT_RUNNING.has(await deps.fencer.state(target))) return { how: 'instance-not-running' };
  }
  await deps.fencer.forceStop(target);
  const stopBy = clock() + request.stopTimeoutMs;
  for (;;) {
    const state = await deps.fencer.state(target);
    if (NOT_RUNNING.has(state)) return { how: 'force-stopped' };
    if (clock() > stopBy) {
      throw new FencingError(
        request.member,
        `still ${state} ${request.stopTimeoutMs} ms after a forced stop`,
      );
    }
    if (clock() + 500 > deadline) throw new DeadlineReachedError(`waiting for ${request.member} to stop`);
    await sleep(500);
  }
}
