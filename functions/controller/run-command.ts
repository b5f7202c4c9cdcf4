import type { ActionResult } from '../../core/actions/action-parameters.ts';
import { CommandDeliveryError } from '../../core/errors.ts';
import type { CommandBus, CommandRequest, CommandTarget } from '../../core/ports/command-bus.ts';

export interface PollOptions {
  /** @default 250 */
  readonly pollMs?: number;
  readonly clock?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * Reads a sent command's result until it ends or `untilMs` (controller clock) passes. Returns
 * undefined when it still runs at `untilMs`: the caller decides whether that is a timeout or
 * the end of its invocation (the command then keeps running and is read again later).
 */
export async function awaitCommand(
  bus: CommandBus,
  target: CommandTarget,
  commandId: string,
  untilMs: number,
  options: PollOptions = {},
): Promise<ActionResult | undefined> {
  const clock = options.clock ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const pollMs = options.pollMs ?? 250;
  for (;;) {
    const result = await bus.result(target, commandId);
    if (result) return result;
    const left = untilMs - clock();
    if (left <= 0) return undefined;
    await sleep(Math.min(pollMs, left));
  }
}

/** Sends a command and waits for its result, at most `timeoutMs` in all. */
export async function runCommand(
  bus: CommandBus,
  target: CommandTarget,
  request: CommandRequest,
  timeoutMs: number,
  options: PollOptions = {},
): Promise<ActionResult> {
  const clock = options.clock ?? Date.now;
  const until = clock() + timeoutMs;
  const id = await bus.send(target, request, timeoutMs);
  const result = await awaitCommand(bus, target, id, until, options);
  if (!result)
    throw new CommandDeliveryError(target.member, `command ${id} did not finish within ${timeoutMs} ms`);
  return result;
}
