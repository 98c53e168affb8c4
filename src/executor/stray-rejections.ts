import { appLocation, type SourceLocation } from './source-maps.js';

// A promise that app code rejected and nobody handled. Node's default is to
// crash the process, which for a recording server would drop every session in
// flight, and the restart would resume the culprit and crash again. These are
// reported instead (docs/sandbox.md, "Unhandled rejections"). A rejection that
// cannot be traced to app code keeps Node's default: it is Windback's bug.
//
// It cannot be charged to one session for certain: sessions share their
// code version's context, and the rejection surfaces after the microtask
// queue drains, when no session is on the stack. The report names the
// sessions that were running then instead. It is not journaled for the same
// reason; a replay of the session rejects the same promise again.

export interface StrayRejection {
  /** The rejection reason's `name: message`, or the reason itself as a string. */
  reason: string;
  /** Where app code rejected it, mapped to the app's sources; null when only the promise's realm tells. */
  location: SourceLocation | null;
  /** How many rejections with this reason and location this process has seen, this one included. */
  count: number;
}

export type StrayRejectionReporter = (stray: StrayRejection) => void;

/** Promise.prototype and Error.prototype of every app realm of this process (weak: realms come and go). */
const realmPrototypes = new WeakSet<object>();
/** Script file names of the app bundles: a reason whose stack passes through one came from app code. */
const bundleFiles = new Set<string>();
const seen = new Map<string, number>();
let reporter: StrayRejectionReporter = strayToStderr(() => []);
let installed = false;

/** Called for each app realm: from then on, this process survives its stray rejections. */
export function watchRealm(realm: { promisePrototype: object; errorPrototype: object; filename: string }): void {
  realmPrototypes.add(realm.promisePrototype);
  realmPrototypes.add(realm.errorPrototype);
  bundleFiles.add(realm.filename);
  if (installed) return;
  installed = true;
  process.on('unhandledRejection', (reason, promise) => {
    const stray = strayRejection(reason, promise);
    if (stray !== null) reporter(stray);
    // Not traced to app code: Node's default (an uncaught exception), unless
    // someone else listens and decides.
    else if (process.listenerCount('unhandledRejection') === 1) throw reason;
  });
}

/** Who hears of stray rejections (the default writes one line to stderr). Returns the previous reporter. */
export function reportStrayRejections(next: StrayRejectionReporter): StrayRejectionReporter {
  const previous = reporter;
  reporter = next;
  return previous;
}

/** Whether an unhandled rejection came from app code (its promise or reason was made in an app realm, or its stack passes through app code). */
export function isAppRejection(reason: unknown, promise: Promise<unknown>): boolean {
  return fromRealm(promise) || fromRealm(reason) || appOrigin(reason) !== null;
}

/** The report for an unhandled rejection that came from app code, or null when it did not. */
function strayRejection(reason: unknown, promise: Promise<unknown>): StrayRejection | null {
  const location = appOrigin(reason);
  if (location === null && !fromRealm(promise) && !fromRealm(reason)) return null;
  const text = describe(reason);
  const key = `${text}\u0000${location ? `${location.file}:${location.line}:${location.column}` : ''}`;
  const count = (seen.get(key) ?? 0) + 1;
  if (seen.size < 10_000 || seen.has(key)) seen.set(key, count);
  return { reason: text, location, count };
}

/** Sessions named in a report at most; the rest are counted. */
const MAX_NAMED_SESSIONS = 5;

/**
 * One line per distinct rejection, then again at its 10th, 100th, 1,000th...
 * occurrence. `running`: the sessions that were running when it surfaced
 * (the one that rejected it is among them unless it had already ended);
 * they are named, so that the rejection can be reproduced with `replay run`.
 */
export function formatStrayRejection(stray: StrayRejection, running: readonly number[] = []): string | null {
  const { count } = stray;
  if (count > 1 && !/^10*$/.test(String(count))) return null;
  const where = stray.location ? `${stray.location.file}:${stray.location.line}:${stray.location.column}: ` : '';
  const times = count > 1 ? ` (${count} times so far)` : '';
  return `${where}unhandled rejection in app code: ${stray.reason}${times}${whileRunning(running)}; reported, not fatal (handle the promise, or await it)`;
}

function whileRunning(running: readonly number[]): string {
  if (running.length === 0) return '';
  if (running.length === 1) return `, surfaced while session ${running[0]} ran`;
  const named = running.slice(0, MAX_NAMED_SESSIONS).join(', ');
  const more = running.length > MAX_NAMED_SESSIONS ? ` and ${running.length - MAX_NAMED_SESSIONS} more` : '';
  return `, surfaced while sessions ${named}${more} ran`;
}

/** A reporter that writes the warning line on stderr, naming the sessions `running()` returns (the default names none). */
export function strayToStderr(running: () => readonly number[]): StrayRejectionReporter {
  return (stray) => {
    const line = formatStrayRejection(stray, running());
    if (line !== null) process.stderr.write(`warning: ${line}\n`);
  };
}

function fromRealm(value: unknown): boolean {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false;
  // Error subclasses made in the realm: walk the prototype chain.
  for (let p = Object.getPrototypeOf(value) as object | null, depth = 0; p !== null && depth < 16; p = Object.getPrototypeOf(p) as object | null, depth++) {
    if (realmPrototypes.has(p)) return true;
  }
  return false;
}

function appOrigin(reason: unknown): SourceLocation | null {
  if (reason === null || typeof reason !== 'object') return null;
  let stack: unknown;
  try {
    stack = (reason as { stack?: unknown }).stack;
  } catch {
    return null;
  }
  if (typeof stack !== 'string') return null;
  for (const filename of bundleFiles) {
    const location = appLocation(filename, { stack });
    if (location !== null) return location;
  }
  return null;
}

function describe(reason: unknown): string {
  try {
    if (reason !== null && typeof reason === 'object' && 'message' in reason) {
      const { name, message } = reason as { name?: unknown; message?: unknown };
      return `${typeof name === 'string' ? name : 'Error'}: ${String(message)}`;
    }
    return typeof reason === 'string' ? JSON.stringify(reason) : String(reason);
  } catch {
    return '(a reason that cannot be shown)';
  }
}
