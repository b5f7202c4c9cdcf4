import type { Controller } from './controller.ts';

export interface LoopOptions {
  readonly tickMs: number;
  /** Milliseconds left before the loop must have stopped (Lambda: remaining time minus a margin). */
  readonly remainingMs: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * Ticks every `tickMs` until the next tick would not fit in the remaining time, so detection is
 * not bound to the 1-minute schedule (DESIGN §6). Returns the number of ticks run.
 */
export async function runControllerLoop(controller: Controller, options: LoopOptions): Promise<number> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let ticks = 0;
  while (options.remainingMs() > options.tickMs) {
    const started = Date.now();
    await controller.tick();
    ticks += 1;
    const wait = options.tickMs - (Date.now() - started);
    if (wait > 0 && options.remainingMs() > options.tickMs + wait) await sleep(wait);
  }
  await controller.drain();
  return ticks;
}
