/**
 * Typed errors shared by every area. Each has a stable `code`, an optional `cause` and a
 * context object; messages name the key or value at fault and what was expected.
 */
export class PgwardenError extends Error {
  readonly code: string;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(
    code: string,
    message: string,
    options: { cause?: unknown; context?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.context = options.context ?? {};
  }
}

/** One problem found while validating input: the dotted key, what arrived, what was expected. */
export interface ValidationIssue {
  readonly key: string;
  readonly received: unknown;
  readonly expected: string;
}

/** Invalid configuration or arguments; lists every bad key at once. Fatal: fix the input. */
export class ConfigValidationError extends PgwardenError {
  readonly issues: readonly ValidationIssue[];

  constructor(source: string, issues: readonly ValidationIssue[]) {
    const lines = issues.map(
      (i) => `  - ${i.key}: got ${formatReceived(i.received)}, expected ${i.expected}`,
    );
    super('CONFIG_INVALID', `invalid ${source}:\n${lines.join('\n')}`, { context: { source, issues } });
    this.issues = issues;
  }
}

/** A stored item that does not match its schema. The item is skipped; the loop goes on. */
export class MalformedItemError extends PgwardenError {
  constructor(
    readonly pk: string,
    readonly sk: string,
    /** Which attributes are wrong and what was expected, e.g. `state (expected one of ...)`. */
    readonly detail: string,
  ) {
    super('ITEM_MALFORMED', `malformed item ${pk}/${sk}: ${detail}`, { context: { pk, sk } });
  }
}

/** A conditional write lost its race: someone else changed the item first. Not retryable as is. */
export class ConditionFailedError extends PgwardenError {
  constructor(operation: string, detail: string, options: { cause?: unknown } = {}) {
    super('CONDITION_FAILED', `${operation} refused: ${detail}`, { ...options, context: { operation } });
  }
}

/** The store could not be reached or answered with a transient error. Retryable. */
export class StoreUnavailableError extends PgwardenError {
  constructor(operation: string, options: { cause?: unknown } = {}) {
    const reason =
      options.cause instanceof Error ? options.cause.message : String(options.cause ?? 'unknown');
    super('STORE_UNAVAILABLE', `${operation} failed: ${reason}`, { ...options, context: { operation } });
  }
}

export function formatReceived(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    const text = JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return String(value);
  }
}

/** A command could not be delivered or gave no result (host down, timeout, throttling). Retryable. */
export class CommandDeliveryError extends PgwardenError {
  constructor(member: string, detail: string, options: { cause?: unknown } = {}) {
    super('COMMAND_NOT_DELIVERED', `command to ${member} not delivered: ${detail}`, {
      ...options,
      context: { member },
    });
  }
}

/** The platform could not be asked about, or could not stop, a member's machine. Retryable. */
export class FencingError extends PgwardenError {
  constructor(member: string, detail: string, options: { cause?: unknown } = {}) {
    super('FENCING_FAILED', `cannot fence ${member}: ${detail}`, { ...options, context: { member } });
  }
}

/**
 * A step is not done and not failed: it is left where it is for a later evaluation, nothing
 * counted against its operation.
 */
export class StepDeferredError extends PgwardenError {}

/**
 * A step could not finish before its invocation must end (DESIGN §6). The operation stays where
 * it is and the next invocation resumes it.
 */
export class DeadlineReachedError extends StepDeferredError {
  constructor(what: string) {
    super('INVOCATION_DEADLINE', `${what}: left for the next invocation (this one is about to end)`);
  }
}

/** The candidate promised the lease holder, in failsafe, not to be promoted yet (DESIGN §3). */
export class PromiseHeldError extends StepDeferredError {
  constructor(message: string) {
    super('FAILSAFE_PROMISE', `${message}; trying again once the promise has expired`);
  }
}
