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
  /** upgrade-agent: the bundle to install. */
  readonly bundle?: string;
}

/**
 * Carries one agent action to one host (SSM Run Command on AWS; the local command bus runs the
 * same command line on a local host). Sending and reading the result are separate calls, as in
 * SSM: a command runs on its host whatever becomes of the controller that sent it, and the
 * next invocation reads its result by id (DESIGN §6, "no step outlives its invocation").
 * Not atomic: an action may have run even when delivery reports failure; actions are idempotent.
 */
export interface CommandBus {
  /**
   * Sends the command; the host runs it for at most `timeoutMs`. One API call. Returns the
   * command id. Throws `CommandDeliveryError` when it cannot be sent (host unknown or down,
   * throttled): retryable.
   */
  send(target: CommandTarget, request: CommandRequest, timeoutMs: number): Promise<string>;
  /**
   * One look at a sent command. Returns the action's own result line once it ended (`ok: false`
   * included: the agent refused or failed), undefined while it runs. Throws
   * `CommandDeliveryError` when it ended without a result (host gone, timed out) or is unknown.
   */
  result(target: CommandTarget, commandId: string): Promise<ActionResult | undefined>;
}
