// Errors come in kinds, each with the exit code the CLI documents (README,
// "Exit codes"). Anything that is not a WindbackError is a bug: exit 70.

export const EXIT = {
  ok: 0,
  difference: 1,
  usage: 2,
  corrupt: 3,
  internal: 70,
  environment: 74,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export abstract class WindbackError extends Error {
  abstract readonly code: string;
  abstract readonly exitCode: ExitCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The user must change what they asked for: a flag, an id, a range. */
export class UsageError extends WindbackError {
  readonly exitCode = EXIT.usage;
  constructor(
    message: string,
    readonly code: string = 'E_USAGE',
  ) {
    super(message);
  }
}

export class NotFoundError extends UsageError {
  constructor(message: string) {
    super(message, 'E_NOT_FOUND');
  }
}

export class OutOfRangeError extends UsageError {
  constructor(message: string) {
    super(message, 'E_OUT_OF_RANGE');
  }
}

/** The journal cannot be read past damage at `offset`. */
export class CorruptJournalError extends WindbackError {
  readonly code = 'E_CORRUPT';
  readonly exitCode = EXIT.corrupt;
  constructor(
    message: string,
    readonly offset: number | null,
    readonly path: string | null = null,
  ) {
    super(message);
  }
}

/** The environment refused: a lock, a permission, a full disk, a failed fsync, a port. */
export class EnvironmentError extends WindbackError {
  readonly exitCode = EXIT.environment;
  constructor(
    message: string,
    readonly code: string = 'E_ENVIRONMENT',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class JournalLockedError extends EnvironmentError {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message, 'E_LOCKED');
  }
}

/** The writer stopped accepting after a failed write or fsync (fail-stop). */
export class JournalFailedError extends EnvironmentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'E_JOURNAL_FAILED', options);
  }
}

/**
 * The live database failed under a transaction: the disk is full, or an I/O
 * error. It is a cache of the journal, so nothing journaled is lost, but it
 * can no longer be trusted to match the journal: the server stops (fail-stop)
 * and the next start rolls the file forward or rebuilds it.
 */
export class StoreFailedError extends EnvironmentError {
  constructor(
    message: string,
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(message, 'E_STORE_FAILED', options);
  }
}

/** What stops a recording server: the journal or the live database failed. */
export type FailStopError = JournalFailedError | StoreFailedError;

export function isFailStop(error: unknown): error is FailStopError {
  return error instanceof JournalFailedError || error instanceof StoreFailedError;
}

export function isWindbackError(error: unknown): error is WindbackError {
  return error instanceof WindbackError;
}

/** The path is not a readable journal at all (no segments, unreadable headers). */
export class NotAJournalError extends WindbackError {
  readonly code = 'E_NOT_A_JOURNAL';
  readonly exitCode = EXIT.corrupt;
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}
