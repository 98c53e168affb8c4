import type { Position, SessionId } from '../model/records.js';
import type { RenderedResponse } from '../executor/transports.js';

// The Idempotency-Keys the server has seen. This process's are kept in
// memory, in small entries (never a finished session's response: that is
// read back from the journal). Keys from before this process are looked up
// in the catalog when a request names one, rather than loaded at start: a
// journal can hold millions of them.

export interface IdempotencyEntry {
  session: SessionId;
  /** Hash of the request that first used the key (computed lazily for earlier sessions). */
  bodyHash: string | null;
  route: string;
  /** The response, only while the first session runs (duplicates wait for it). */
  result: Promise<RenderedResponse> | null;
  /** Where the session's records can be read from (its last record known), once it is over or from earlier. */
  lastPosition: Position | null;
}

/** A session of an earlier process that used a key, as the catalog has it. */
export type EarlierKeyLookup = (key: string) => { id: SessionId; route: string; lastPosition: Position } | null;

export class IdempotencyKeys {
  private readonly known = new Map<string, IdempotencyEntry>();

  constructor(private readonly earlier: EarlierKeyLookup) {}

  get(key: string): IdempotencyEntry | undefined {
    let entry = this.known.get(key);
    if (entry === undefined) {
      const row = this.earlier(key);
      if (row === null) return undefined;
      entry = { session: row.id, bodyHash: null, route: row.route, result: null, lastPosition: row.lastPosition };
      this.known.set(key, entry);
    }
    return entry;
  }

  set(key: string, entry: IdempotencyEntry): void {
    this.known.set(key, entry);
  }

  delete(key: string): void {
    this.known.delete(key);
  }
}
