/** What the platform says about a member's machine. */
export type InstanceState = 'running' | 'stopping' | 'stopped' | 'terminated' | 'unknown';

/**
 * The platform's view of a member's machine, and the last resort of fencing (DESIGN §3): EC2
 * DescribeInstances / StopInstances --force on AWS; the local fencer kills a local host's
 * processes. Time budget: one API call each (`forceStop` does not wait for the stop).
 * Throws `FencingError` when the platform cannot be asked (retryable); never returns a guess:
 * `unknown` when the answer is not conclusive.
 */
export interface InstanceFencer {
  state(target: { member: string; instanceId?: string }): Promise<InstanceState>;
  forceStop(target: { member: string; instanceId?: string }): Promise<void>;
}
