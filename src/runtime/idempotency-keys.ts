import type { Position, SessionId } from '../model/records.js';
import type { RenderedResponse } from '../executor/transports.js';

// The Idempotency-Keys the server answers for. Never a finished session's
// response (that is read back from the journal when a duplicate comes):
// memory grows with the number of distinct keys, not with their responses.
// This process's keys get an entry each; the keys of earlier processes, which
// a journal can hold by the million, are loaded at start into a compact table
// (a key, two numbers and a route index each) and get an entry only when a
// request names one. They are not looked up in the catalog file on demand:
// another process indexing the journal can hold that file's lock for seconds,
// and a lookup would stall the server meanwhile.

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
export interface EarlierKeyedSession {
  id: SessionId;
  idempotencyKey: string;
  route: string;
  lastPosition: Position;
}

export class IdempotencyKeys {
  private readonly entries = new Map<string, IdempotencyEntry>();
  /** Earlier keys: key -> slot in the arrays below. */
  private readonly earlier = new Map<string, number>();
  private readonly sessions: number[] = [];
  private readonly positions: number[] = [];
  private readonly routeIndex: number[] = [];
  private readonly routes: string[] = [];

  /** Keys of earlier sessions, in session order (a later session with the same key wins). */
  constructor(earlier: Iterable<EarlierKeyedSession>) {
    const routeSlots = new Map<string, number>();
    for (const row of earlier) {
      let route = routeSlots.get(row.route);
      if (route === undefined) {
        route = this.routes.push(row.route) - 1;
        routeSlots.set(row.route, route);
      }
      const slot = this.earlier.get(row.idempotencyKey);
      if (slot !== undefined) {
        this.sessions[slot] = row.id;
        this.positions[slot] = row.lastPosition;
        this.routeIndex[slot] = route;
      } else {
        this.earlier.set(row.idempotencyKey, this.sessions.length);
        this.sessions.push(row.id);
        this.positions.push(row.lastPosition);
        this.routeIndex.push(route);
      }
    }
  }

  get(key: string): IdempotencyEntry | undefined {
    let entry = this.entries.get(key);
    if (entry === undefined) {
      const slot = this.earlier.get(key);
      if (slot === undefined) return undefined;
      entry = { session: this.sessions[slot], bodyHash: null, route: this.routes[this.routeIndex[slot]], result: null, lastPosition: this.positions[slot] };
      this.entries.set(key, entry);
    }
    return entry;
  }

  set(key: string, entry: IdempotencyEntry): void {
    this.entries.set(key, entry);
  }

  delete(key: string): void {
    this.entries.delete(key);
    this.earlier.delete(key);
  }
}
