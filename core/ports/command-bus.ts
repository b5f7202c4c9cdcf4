import type { ActionResult } from '../actions/action-parameters.ts';
import type { AgentAction } from '../decide/steps.ts';

/** Where a command goes: the member, and its EC2 instance when it has one. */
export interface CommandTarget {
  readonly cluster: string;
  readonly member: string;
  readonly instanceId?: string;
}

export interface CommandRequest {
  readonly action: AgentAction;
  readonly term: number;
  readonly leader?: string;
  readonly standbys?: readonly string[];
}

/**
 * Carries one agent action to one host and returns the action's own result line
 * (SSM Run Command on AWS; the local command bus runs the same command line on a local host).
 *
 * Time budget: at most `timeoutMs`, delivery included. Returns the agent's result, `ok: false`
 * included (the agent refused or failed). Throws `CommandDeliveryError` when the command could
 * not be delivered or produced no result line (host down, timeout, throttling): retryable.
 * Not atomic: an action may have run even when delivery reports failure; actions are idempotent.
 */
export interface CommandBus {
  run(target: CommandTarget, request: CommandRequest, timeoutMs: number): Promise<ActionResult>;
}
