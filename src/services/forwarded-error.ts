import { isWindbackError, WindbackError, type ExitCode } from '../model/errors.js';

// An error raised in a worker thread or a child process (`verify --jobs`,
// `state --sql`), re-raised where the command runs. Structured clones drop
// the class, so its kind travels as fields: the same code and exit code, and
// so the same one line, come out of the command.

export interface ForwardedFailure {
  message: string;
  stack: string | null;
  code: string | null;
  exitCode: ExitCode | null;
}

/** What to post for `error`. */
export function failureOf(error: unknown): ForwardedFailure {
  return {
    message: error instanceof Error ? error.message : String(error),
    stack: error instanceof Error ? (error.stack ?? null) : null,
    code: isWindbackError(error) ? error.code : null,
    exitCode: isWindbackError(error) ? error.exitCode : null,
  };
}

/** A posted error as the same kind of error (the same code and exit code) here; without a kind, an internal error. */
export function forwardedError(failure: ForwardedFailure): Error {
  const error = failure.code !== null && failure.exitCode !== null ? new ForwardedError(failure.message, failure.code, failure.exitCode) : new Error(failure.message);
  if (failure.stack) error.stack = failure.stack;
  return error;
}

class ForwardedError extends WindbackError {
  constructor(
    message: string,
    readonly code: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
  }
}
