// The one interface between the sandbox (inside the vm context) and the
// executor (the host). Types only: the executor implements `SessionBridge`, one
// object per session, and passes it to `createSession`.
//
// Rules for implementers:
// - Every method is called synchronously from app code, in program order, so
//   the order of `value()` calls is the order in which the journal must serve
//   them on replay.
// - Values may be host-realm objects (arrays, Uint8Arrays, plain objects): the
//   sandbox only reads numbers and strings out of them and never keeps them.
// - A method that throws makes the app's current statement throw (the error is
//   a host-realm object); use that only for bugs and for "the journal has no
//   such value" on replay.

import type { ValueSource } from '../model/records.js';

/**
 * What `value(source)` returns for each source. The sources are the journal's
 * `ValueSource` names, so a value record can be served back verbatim.
 */
export interface BridgeValues {
  /** `Date.now()`, `new Date()`, `Date()`: milliseconds since the epoch (finite). */
  date: number;
  /** `performance.now()`: milliseconds (finite, may be fractional). */
  performance: number;
  /**
   * The 128-bit seed of the session's `Math.random`, asked for once, on the
   * first draw: 4 unsigned 32-bit integers (an array or a Uint32Array).
   */
  'random-seed': ArrayLike<number>;
  /** `crypto.randomUUID()`: a lowercase RFC 4122 version 4 UUID string. */
  uuid: string;
  /**
   * `crypto.getRandomValues(view)`: exactly `byteLength` bytes, as an array of
   * integers 0..255 or a Uint8Array. The sandbox copies them into the view's
   * memory in platform byte order (so a Uint32Array gets 4 bytes per element).
   */
  'random-bytes': ArrayLike<number>;
}

/** Extra arguments of `value(source, ...)` per source. */
export interface BridgeValueArgs {
  date: [];
  performance: [];
  'random-seed': [];
  uuid: [];
  /** The number of bytes wanted, 0..65536. */
  'random-bytes': [byteLength: number];
}

// Every source the sandbox asks for is a journal ValueSource.
type AssertSources<T extends ValueSource> = T;
export type BridgeValueSource = AssertSources<keyof BridgeValues>;

export type TimerKind = 'timeout' | 'interval' | 'immediate';

/** One timer armed by app code. */
export interface TimerRequest {
  /**
   * Assigned by the sandbox: 1, 2, 3... per session, in the order the app
   * armed them, so the same program run produces the same ids on replay. A
   * timer that is re-armed (`timeout.refresh()`) gets a new id. Timers armed
   * inside a ctx.call() function (`inCall`) are numbered apart, -1, -2, -3...,
   * so that they do not shift the session's own numbering.
   */
  id: number;
  /**
   * True for a timer armed while `bridge.inCall()` said so: part of the
   * call, fired live by the clock and never journaled (on replay the call's
   * function does not run). Re-arming it keeps it the call's.
   */
  inCall?: boolean;
  kind: TimerKind;
  /**
   * Normalized like Node: an integer 1..2147483647 for timeouts and intervals
   * (anything else, including 0, NaN and larger values, becomes 1); always 0
   * for immediates.
   */
  delayMs: number;
  /**
   * Runs the app's callback (with its extra arguments). The host calls it when
   * the timer is due: live by the clock, on replay in the journaled order. An
   * interval's `fire` is called once per period until it is cleared. Calling
   * `fire` for a timer that was cleared or has already fired (timeout,
   * immediate) does nothing. Whatever the callback throws propagates out of
   * `fire` to the host, which decides what it means for the session.
   */
  fire: () => void;
}

/** The request `fetch()` hands to `call('fetch', request)`. Plain data only. */
export interface FetchRequest {
  /** Absolute URL, as `new URL(input).href` would print it. */
  url: string;
  /** Upper-case for the standard methods (GET, POST, ...), otherwise as given. */
  method: string;
  /** Lower-case names; repeated headers joined with ", " (as `Headers` does). */
  headers: Record<string, string>;
  /** null when there is no body. */
  body: string | null;
  /** How `body` is encoded: text as is, or bytes in base64. Absent means 'utf8'. */
  bodyEncoding?: 'utf8' | 'base64';
}

/** What the host resolves `call('fetch', request)` with. */
export interface FetchResult {
  /** 100..599. */
  status: number;
  statusText: string;
  /** Names in any case; the sandbox lower-cases them. */
  headers: Record<string, string>;
  body: string;
  /** Absent means 'utf8'. Use 'base64' for bodies that are not text. */
  bodyEncoding?: 'utf8' | 'base64';
}

/** Journaled external calls the sandbox makes on the app's behalf. */
export interface BridgeCalls {
  fetch: { request: FetchRequest; result: FetchResult };
}

export type LogLevel = 'debug' | 'info' | 'log' | 'warn' | 'error';

/**
 * Implemented by the executor, one object per session. Field by field:
 */
export interface SessionBridge {
  /**
   * IANA time zone (e.g. 'Europe/Berlin') in which this session's `Date`
   * reports local time and in which its `Intl` formats by default. Use the one
   * recorded in the process-start record.
   */
  readonly timeZone: string;
  /** BCP 47 locale (e.g. 'en-US'): the default of this session's `Intl` and `toLocale*String`. */
  readonly locale: string;
  /**
   * A nondeterministic value. Live: produce it and journal it as a `value`
   * record with this source. Replay/resume: serve the next journaled one.
   */
  value<S extends BridgeValueSource>(source: S, ...args: BridgeValueArgs[S]): BridgeValues[S];
  /**
   * True while the code asking runs inside a ctx.call() function (optional:
   * absent means never). What that code does is part of the call, whose
   * result is journaled: on replay and on resume the function does not run.
   * So the sandbox keeps it out of the session's sequences: `Math.random()`
   * draws from a generator of the call's (seeded with a
   * `value('random-seed')` the host answers live and does not journal), and
   * timers are armed with `inCall: true` and ids of their own. Asked on every
   * `Math.random()` and timer: keep it cheap.
   */
  inCall?(): boolean;
  /** Arm a timer (see TimerRequest). */
  setTimer(timer: TimerRequest): void;
  /**
   * Disarm an active timer by its id. Only called for timers the sandbox still
   * considers active (so never twice, never for a fired timeout).
   */
  clearTimer(id: number): void;
  /**
   * A journaled external call (call-start, then call-result). The promise may
   * be a host-realm promise; a rejection becomes the app's error.
   */
  call<N extends keyof BridgeCalls>(name: N, request: BridgeCalls[N]['request']): PromiseLike<BridgeCalls[N]['result']>;
  /**
   * Console output. `args` are the app's own values (context-realm objects), to
   * be formatted with util.format/inspect. Silence it on replay.
   */
  log(level: LogLevel, args: readonly unknown[]): void;
}
