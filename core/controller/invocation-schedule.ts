/**
 * How the controller is invoked (DESIGN §6): a new invocation every `everySeconds`, each killed
 * at `timeoutSeconds`, so consecutive invocations overlap by `timeoutSeconds - everySeconds`
 * and no second of the day is without a live controller. An invocation starts no tick once
 * fewer than `deadlineMarginSeconds` remain and bounds every wait by the time it has left; what
 * is unfinished stays in the `op` item for the next one. CDK deploys
 * this definition; the local topology runs it (the `fast` profile scaled down).
 */
export interface InvocationSchedule {
  readonly everySeconds: number;
  readonly timeoutSeconds: number;
  readonly deadlineMarginSeconds: number;
}

/** What `cdk deploy` sets up: EventBridge rate(1 minute), 75 s timeout: 15 s of overlap. */
export const CONTROLLER_SCHEDULE: InvocationSchedule = {
  everySeconds: 60,
  timeoutSeconds: 75,
  deadlineMarginSeconds: 8,
};

/** The local `fast` profile: the same shape, four times quicker. */
export const FAST_CONTROLLER_SCHEDULE: InvocationSchedule = {
  everySeconds: 15,
  timeoutSeconds: 19,
  deadlineMarginSeconds: 2,
};

/** Seconds two consecutive invocations both run ticks. */
export function overlapSeconds(schedule: InvocationSchedule): number {
  return schedule.timeoutSeconds - schedule.deadlineMarginSeconds - schedule.everySeconds;
}

/** Checks a schedule leaves no gap between invocations; returns the problem, or undefined. */
export function scheduleProblem(schedule: InvocationSchedule): string | undefined {
  if (overlapSeconds(schedule) <= 0)
    return `timeoutSeconds (${schedule.timeoutSeconds}) - deadlineMarginSeconds (${schedule.deadlineMarginSeconds}) must exceed everySeconds (${schedule.everySeconds}): invocations would leave seconds with no controller`;
  return undefined;
}
