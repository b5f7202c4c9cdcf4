import { Logger } from '@aws-lambda-powertools/logger';
import { LocalCommandBus } from '../../adapters/local/local-command-bus.ts';
import { LocalFencer } from '../../adapters/local/local-fencer.ts';
import { LogNotifier } from '../../adapters/local/log-notifier.ts';
import type { CoordinationStore } from '../../core/store/coordination-store.ts';
import { Controller } from '../../functions/controller/controller.ts';
import { runControllerLoop } from '../../functions/controller/run-loop.ts';
import type { AgentCluster } from './agent-cluster.ts';

export interface RunningController {
  readonly controller: Controller;
  readonly notifier: LogNotifier;
  stop(): Promise<void>;
}

/** The controller handler's loop, in-process, on a fast tick, with the local command bus and fencer. */
export function startController(
  cluster: AgentCluster,
  options: { tickMs?: number; store?: CoordinationStore; name?: string } = {},
): RunningController {
  const logger = new Logger({
    serviceName: options.name ?? 'controller',
    // PGWARDEN_TEST_LOG=DEBUG shows every decision; by default only errors.
    logLevel: (process.env.PGWARDEN_TEST_LOG ?? 'ERROR') as 'ERROR',
  });
  const notifier = new LogNotifier(logger);
  const controller = new Controller({
    store: options.store ?? cluster.store,
    bus: new LocalCommandBus(cluster),
    fencer: new LocalFencer(cluster),
    notifier,
    logger,
    clock: () => Date.now(),
  });
  let stopped = false;
  const loop = runControllerLoop(controller, {
    tickMs: options.tickMs ?? 500,
    remainingMs: () => (stopped ? 0 : Number.MAX_SAFE_INTEGER),
  });
  return {
    controller,
    notifier,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
