// Errors that app code sees inside the sandbox. These classes are evaluated in
// the vm context, so instances are context-realm objects: the host must test
// them with `isDeterminismError` / `isRetryableError` (duck typing), never with
// `instanceof` against its own copy of the class.

/**
 * Thrown when app code reaches a construct whose result would differ between
 * recording and replay. The message always reads
 * "<construct> is not deterministic: <what to use instead>".
 *
 * The stack is a plain V8 stack captured inside the vm context, with the
 * sandbox's own frames cut off, so its first frame is the app's call site in
 * the bundle; the host maps it to TypeScript through the bundle's source map.
 */
export class DeterminismError extends Error {
  /** What the app touched, e.g. `WeakRef`, `require('node:fs')`, `crypto.subtle`. */
  readonly construct: string;
  /** What to use instead, in words. */
  readonly instead: string;

  constructor(construct: string, instead: string, hideFrom?: Function) {
    super(`${construct} is not deterministic: ${instead}`);
    this.construct = construct;
    this.instead = instead;
    // Drop the sandbox frames (the throwing shim and everything above it) so
    // that the first frame is the app code that called the shim.
    if (hideFrom !== undefined) Error.captureStackTrace(this, hideFrom);
  }
}
// On the prototype, not assigned per instance: the stack header is computed
// from `name`, and Error.prototype is frozen once the realm is installed.
Object.defineProperty(DeterminismError.prototype, 'name', {
  value: 'DeterminismError',
  writable: true,
  configurable: true,
});

/**
 * Thrown by app code to ask for a retry: effects up to the session's last
 * checkpoint are served from the journal and everything after it runs again
 * (everything, from the start, when the session has taken no checkpoint).
 */
export class RetryableError extends Error {
  readonly retryable: true;
  constructor(message?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.retryable = true;
  }
}
Object.defineProperty(RetryableError.prototype, 'name', {
  value: 'RetryableError',
  writable: true,
  configurable: true,
});

/** The shape of a DeterminismError, whichever realm it was created in. */
export interface DeterminismErrorLike {
  name: 'DeterminismError';
  message: string;
  construct: string;
  instead: string;
  stack?: string;
}

export function isDeterminismError(value: unknown): value is DeterminismErrorLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { name?: unknown }).name === 'DeterminismError' &&
    typeof (value as { construct?: unknown }).construct === 'string'
  );
}

export function isRetryableError(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as { retryable?: unknown }).retryable === true;
}

/**
 * A broken promise between the sandbox and its host (a bridge returned a value
 * of the wrong shape). Always a bug in the executor, never the app's fault.
 */
export class BridgeProtocolError extends Error {}
Object.defineProperty(BridgeProtocolError.prototype, 'name', {
  value: 'BridgeProtocolError',
  writable: true,
  configurable: true,
});
