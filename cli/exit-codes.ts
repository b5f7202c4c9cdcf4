/** pgwarden's exit codes (documented in docs/operations.md). */
export const EXIT = {
  ok: 0,
  /** The controller refused or the operation failed; the message says why. */
  refused: 1,
  /** Bad arguments or configuration. */
  usage: 2,
  /** DynamoDB could not be reached. */
  unavailable: 3,
  /** Someone else changed the item first (stale edit-config, a pending intent). */
  conflict: 4,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error the CLI reports as one line, with its exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
