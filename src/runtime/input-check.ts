// A session's input is journaled in its session-start record, and a replay
// (or a resume) hands the handler what the journal gives back. So the handler
// must see exactly that, live too. The journal (docs/journal-format.md,
// section 7) stores -0 as 0, cannot hold a map key `__proto__` (msgpackr
// renames it on the way in), turns a string with a lone UTF-16 surrogate into
// other characters (MessagePack strings are UTF-8), and its codec recurses
// once per level of nesting. Each request's decoded input passes here once,
// before its session starts: -0 becomes 0 in place, and the rest is refused.
// A single walk, with no copy and no path kept unless it fails: a few hundred
// nanoseconds for a typical input, against ~50 µs for a whole deposit.

import { MAX_INPUT_DEPTH } from '../journal/constants.js';

/** Deeper inputs are refused: the journal's codec (and replay's decoder) recurse per level. */
export { MAX_INPUT_DEPTH };

/** An input the journal cannot represent faithfully; `path` names the offending spot (`params.a[2].__proto__`). */
export class InputNotJournalableError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = 'InputNotJournalableError';
  }
}

/** String.prototype.isWellFormed (Node 20; the project's TypeScript lib predates it). */
interface WellFormed {
  isWellFormed(): boolean;
}

/** Unwinds with the path's segments, innermost first; built only on failure. */
class Refusal {
  readonly segments: (string | number)[] = [];
  constructor(readonly reason: string) {}
}

/**
 * Checks a decoded input (from JSON.parse or the XML-RPC decoder: plain
 * objects, arrays, primitives, Buffers), replacing every -0 in it by 0, in
 * place. Returns the input (0 itself when the input is -0). Throws
 * InputNotJournalableError, naming the path from `root`, for a key
 * `__proto__`, a string or key with a lone surrogate, or nesting deeper than
 * MAX_INPUT_DEPTH.
 */
export function journalableInput(input: unknown, root: string): unknown {
  try {
    return walk(input, 0);
  } catch (error) {
    if (!(error instanceof Refusal)) throw error;
    let path = root;
    for (let i = error.segments.length - 1; i >= 0; i--) {
      const s = error.segments[i];
      path += typeof s === 'number' ? `[${s}]` : /^[A-Za-z_$][\w$]*$/.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`;
    }
    throw new InputNotJournalableError(path, error.reason);
  }
}

function walk(value: unknown, depth: number): unknown {
  if (typeof value === 'number') return value === 0 ? 0 : value; // -0 === 0
  if (typeof value === 'string') {
    if (!(value as unknown as WellFormed).isWellFormed()) throw new Refusal('a string with a lone UTF-16 surrogate cannot be journaled (MessagePack strings are UTF-8)');
    return value;
  }
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value;
  if (depth >= MAX_INPUT_DEPTH) throw new Refusal(`nested deeper than ${MAX_INPUT_DEPTH} levels`);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      try {
        if (typeof v === 'number') {
          if (v === 0) value[i] = 0;
        } else if (v !== null && typeof v === 'object') walk(v, depth + 1);
        else if (typeof v === 'string') walk(v, depth + 1);
      } catch (error) {
        if (error instanceof Refusal) error.segments.push(i);
        throw error;
      }
    }
    return value;
  }
  const object = value as Record<string, unknown>;
  for (const key in object) {
    // JSON.parse makes `__proto__` an own property (it never sets the
    // prototype); the journal would rename it, so a replay would not see it.
    try {
      if (key === '__proto__') throw new Refusal('a key "__proto__" is not allowed (the journal cannot represent it)');
      if (!(key as unknown as WellFormed).isWellFormed()) throw new Refusal('a key with a lone UTF-16 surrogate cannot be journaled (MessagePack strings are UTF-8)');
      const v = object[key];
      if (typeof v === 'number') {
        if (v === 0) object[key] = 0;
      } else if (v !== null && typeof v === 'object') walk(v, depth + 1);
      else if (typeof v === 'string') walk(v, depth + 1);
    } catch (error) {
      if (error instanceof Refusal) error.segments.push(key);
      throw error;
    }
  }
  return value;
}
