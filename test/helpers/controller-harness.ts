import type { CommandBus } from '../../core/ports/command-bus.ts';
import type { CoordinationStore } from '../../core/store/coordination-store.ts';
import type { LocalTopology, RunningController } from '../../local/local-topology.ts';

export type { RunningController };

/** The controller handler's loop, in-process, on a fast tick, with the local command bus and fencer. */
export function startController(
  cluster: LocalTopology,
  options: { tickMs?: number; store?: CoordinationStore; name?: string; bus?: CommandBus } = {},
): RunningController {
  // PGWARDEN_TEST_LOG=DEBUG shows every decision; by default only errors.
  return cluster.startController({
    tickMs: options.tickMs ?? 500,
    ...(options.store ? { store: options.store } : {}),
    ...(options.name ? { name: options.name } : {}),
    ...(options.bus ? { bus: options.bus } : {}),
    logLevel: process.env.PGWARDEN_TEST_LOG ?? 'ERROR',
  });
}
