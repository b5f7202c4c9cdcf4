import type { Controller } from './controller.ts';

export interface LoopOptions {
  readonly tickMs: number;
  /** Milliseconds left for starting ticks (Lambda: remaining time minus the deadline margin). */
  readonly remainingMs: () => number;
  /** When every wait must be over (Lambda: shortly before the timeout). @default no limit */
  readonly stepDeadlineMs?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * Ticks every `tickMs` until the next tick would not fit in the remaining time, so detection is
 * not bound to the 1-minute schedule (DESIGN §6); evaluations still running are then waited
 * for, and none of their waits passes `stepDeadlineMs`. Returns the number of ticks run.
 */
export async function runControllerLoop(controller: Controller, options: LoopOptions): Promise<number> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let ticks = 0;
  while (options.remainingMs() > options.tickMs) {
    const started = Date.now();
    await controller.tick(options.stepDeadlineMs?.() ?? Number.POSITIVE_INFINITY);
    ticks += 1;
    const wait = options.tickMs - (Date.now() - started);
    if (wait > 0 && options.remainingMs() > options.tickMs + wait) await sleep(wait);
  }
  await controller.drain();
  return ticks;
}
