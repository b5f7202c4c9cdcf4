import { PgwardenError } from '../core/errors.ts';

/** A PostgreSQL program failed or timed out; carries its output for the log. */
export class PgCommandError extends PgwardenError {
  constructor(program: string, detail: string, output: string) {
    super(
      'PG_COMMAND_FAILED',
      `${program} ${detail}${output ? `: ${output.trim().split('\n').slice(-5).join(' | ')}` : ''}`,
      {
        context: { program },
      },
    );
  }
}

/** An action refused to run: its preconditions do not hold (wrong term, not the holder, ...). */
export class ActionRefusedError extends PgwardenError {
  constructor(action: string, reason: string) {
    super('ACTION_REFUSED', `${action} refused: ${reason}`, { context: { action } });
  }
}

/** Another action holds the local lock. Retryable. */
export class ActionBusyError extends PgwardenError {
  constructor(holder: string) {
    super('ACTION_BUSY', `another action is running (${holder})`);
  }
}

/** A directory the agent is pointed at cannot be used by the PostgreSQL user. Fatal at start. */
export class DirectoryAccessError extends PgwardenError {
  constructor(key: string, dir: string, reason: string) {
    super('DIRECTORY_ACCESS', `${key} ${dir}: ${reason}`, { context: { key, dir } });
  }
}

/**
 * `promote` refused: this member promised a primary, in a failsafe round, not to be promoted
 * before `until` (DESIGN §3). Retryable: the controller tries again once the promise expires.
 */
export class FailsafePromiseError extends PgwardenError {
  constructor(holder: string, term: number, remainingMs: number, until: Date) {
    super(
      'FAILSAFE_PROMISE',
      `promote refused: this member promised ${holder} (term ${term}) in failsafe not to be promoted until ${until.toISOString()} (${(remainingMs / 1000).toFixed(1)} s from now)`,
      { context: { holder, term, remainingMs } },
    );
  }
}
