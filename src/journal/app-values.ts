// What the journal can hold of an app's value (docs/journal-format.md,
// section 7): null, undefined, booleans, numbers, bigints, strings, Dates,
// Uint8Arrays, arrays and objects (an object as its own enumerable
// properties, whatever its class). A Map, a Set, another typed array, an
// ArrayBuffer, a RegExp or an Error would come back as something else (a Map
// as an object of stringified keys, a Set as `{}`), so an app that hands one
// over (a checkpoint's state, a transaction's or a call's result) would see
// a different value on resume than live, and every replay would compare
// different things. The executor refuses them where the app hands them over.

const { toString } = Object.prototype;

/** What the journal stores a value as, in words, for the error that refuses it. */
export const JOURNAL_VALUES =
  'the journal holds plain data: objects, arrays, strings, numbers, bigints, booleans, null, undefined, Dates and Uint8Arrays';

/**
 * The first part of `value` the journal cannot hold faithfully, as
 * `<what> <path> is a <Kind>` (`the state .m is a Map`, `the result [2] is a
 * Set`, `the state is a Map`), or null when all of it can be. Works across
 * realms.
 */
export function unjournalable(value: unknown, what: string): string | null {
  // Most values pass: check without building paths first (every transaction's result goes through here).
  if (holdable(value, 0)) return null;
  const found = find(value, '', new Set());
  return found === null ? null : `${what}${found.startsWith(' is ') ? '' : ' '}${found}`;
}

/** The error for a value the journal cannot hold: `<where>: <what> <path> is a <Kind>; ...` */
export function unjournalableError(where: string, problem: string): TypeError {
  // Deep enough to reach the app's frame below the store's and executor's own (for the error's app location).
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = Math.max(limit, 50);
  try {
    return new TypeError(`${where}: ${problem}; ${JOURNAL_VALUES}: ${hintFor(where, problem)}`);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** What to do about the value `problem` names. */
function hintFor(where: string, problem: string): string {
  if (problem === 'the result is a Promise' && (where === 'ctx.tx()' || where === 'ctx.read()')) {
    return `is its function async? It runs synchronously inside the transaction, which ends when it returns: make it a plain function, and await what it needs before ${where}`;
  }
  if (problem.endsWith(' is a Promise')) return 'await it first';
  if (problem.endsWith(' is a function') || problem.endsWith(' is a symbol')) return 'leave it out';
  return 'convert it (a Map with Object.fromEntries(map) or [...map], a Set with [...set])';
}

/**
 * Two refusals of a value (unjournalableError messages) of the same part of
 * the same kind: equal up to the advice, whose wording may change between
 * versions (a replay compares a transaction's error with the recorded one).
 */
export function sameRefusal(a: string, b: string): boolean {
  const marker = `; ${JOURNAL_VALUES}: `;
  const i = a.indexOf(marker);
  return i > 0 && a.slice(0, i + marker.length) === b.slice(0, i + marker.length);
}

/** Deep enough for any sensible value; deeper (or cyclic) ones take the careful path. */
const FAST_DEPTH = 32;

/** True when the journal holds all of `value` faithfully; false when some part is not, or it is too deep to tell here. */
function holdable(value: unknown, depth: number): boolean {
  if (typeof value !== 'object') return typeof value !== 'function' && typeof value !== 'symbol';
  if (value === null) return true;
  if (depth > FAST_DEPTH) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!holdable(value[i], depth + 1)) return false;
    return true;
  }
  const tag = toString.call(value);
  if (tag === '[object Date]' || tag === '[object Uint8Array]') return true;
  if (tag !== '[object Object]') return false;
  for (const key in value) {
    if (Object.hasOwn(value, key) && !holdable((value as Record<string, unknown>)[key], depth + 1)) return false;
  }
  return true;
}

function find(value: unknown, path: string, seen: Set<object>): string | null {
  switch (typeof value) {
    case 'function':
      return `${path} is a function`;
    case 'symbol':
      return `${path} is a symbol`;
    case 'object':
      break;
    default:
      return null;
  }
  if (value === null || seen.has(value)) return null;
  seen.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = find(value[i], `${path}[${i}]`, seen);
      if (found !== null) return found;
    }
    return null;
  }
  const tag = toString.call(value).slice(8, -1);
  if (tag === 'Date' || tag === 'Uint8Array') return null;
  if (tag !== 'Object') return `${path} is a${/^[AEIOU]/.test(tag) ? 'n' : ''} ${tag}`;
  for (const key of Object.keys(value)) {
    const found = find((value as Record<string, unknown>)[key], `${path}${/^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`}`, seen);
    if (found !== null) return found;
  }
  return null;
}
