import { AsyncLocalStorage } from 'node:async_hooks';
import { isDeepStrictEqual } from 'node:util';
import type {
  CallResultRecord,
  CallStartRecord,
  CheckpointRecord,
  ErrorInfo,
  Position,
  ReadTxRecord,
  ValueRecord,
  WriteTxRecord,
} from '../model/records.js';
import type { AppDb, Divergence, DivergenceKind, ExecutionObserver, ExecutionStep, LiveEffects, ReplayDatabase, SessionIdentity, SessionOutcome } from './types.js';
import type { CallOptions, SessionContext } from '../sandbox/app-types.js';
import type { BridgeValueArgs, BridgeValueSource, BridgeValues, LogLevel, SessionBridge, TimerRequest } from '../sandbox/bridge.js';
import type { EffectRecord, Positioned } from './history.js';
import type { CodeRealm } from './realm.js';
import { MAX_PAYLOAD, packValue, RecordTooLargeError } from '../journal/index.js';
import { appLocation, mapStack, type SourceLocation } from './source-maps.js';
import { sameRefusal, unjournalable, unjournalableError } from '../journal/app-values.js';
import { isFailStop } from '../model/errors.js';

// Runs one attempt of one session in its code realm. Every effect is either
// served from the journal (the effects the attempt inherits, or all of them on
// replay) or performed live and journaled; asynchronous outcomes (call results
// and timer firings) reach the app in the order the journal holds them.

export interface ExecuteOptions {
  realm: CodeRealm;
  session: SessionIdentity;
  /** Effects already in the journal, in journal order: served, not redone. */
  served: readonly Positioned<EffectRecord>[];
  /** Live side; null on replay, where nothing may happen that the journal does not hold. */
  live: LiveEffects | null;
  /** Replay only: re-run served transactions for comparison. */
  replay?: ReplayOptions;
  observer?: ExecutionObserver;
  /** Pause an attached debugger where the session begins (`--inspect`). */
  pauseAtStart?: boolean;
  /**
   * Live only: aborted when the server gives up on the session (shutdown
   * after --drain-timeout). The attempt stops where it is: its timers are
   * cleared, nothing more is journaled or performed for it, and run()
   * rejects with SessionAbandonedError. Its records so far stay in the
   * journal, the session open, for the next start to resume.
   */
  abandon?: Abandonment;
}

/**
 * The server giving up on every session still running (shutdown after its
 * drain timeout). A Set of callbacks rather than an AbortSignal: each attempt
 * registers and leaves once, and needs none of an EventTarget's machinery
 * (no measurable difference per session either way: docs/benchmarks.md,
 * session 6).
 */
export class Abandonment {
  private done = false;
  private readonly attempts = new Set<() => void>();

  get aborted(): boolean {
    return this.done;
  }

  /** Stop every attempt registered, and any that registers from now on. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    for (const stop of [...this.attempts]) stop();
    this.attempts.clear();
  }

  register(stop: () => void): void {
    this.attempts.add(stop);
  }

  leave(stop: () => void): void {
    this.attempts.delete(stop);
  }
}

export interface ReplayOptions {
  database: ReplayDatabase;
  /** Compare every value consumed, read digests, return values and checkpoint states too. */
  strict: boolean;
  /** Go on after the first divergence (best effort). */
  keepGoing: boolean;
  /**
   * Served effects before this position were inherited from earlier attempts
   * (or, when stepping, precede a checkpoint an earlier run found equal):
   * served as they are, not re-executed or compared (they were already).
   */
  compareFrom?: Position;
  /**
   * Stop right after the served effect at this position has been reported:
   * from then on every effect the app asks for is refused (catching the
   * stop does not help), and nothing more is served, re-run or reported.
   */
  stopAfter?: Position;
  /**
   * Served steps before this position are not reported to the observer: a
   * stepping replay that starts at a checkpoint has no use for them, and
   * locating each one in the app's source costs a stack capture.
   */
  reportFrom?: Position;
  /**
   * The recording of this attempt ends in a crash: asking for an effect past
   * the end of what was journaled ends the replay of the attempt there, it is
   * not an extra step.
   */
  endsAtCrash?: boolean;
  /**
   * How the recording of this attempt failed (its session-end error), when
   * it did: a DeterminismError it reproduces exactly (same message) is the
   * recorded outcome, not a divergence.
   */
  recordedError?: ErrorInfo | null;
}

export interface AttemptOutcome extends SessionOutcome {
  /**
   * Position of the last checkpoint of the app's own reached (served or
   * live), for a retry; null when the app reached none: a retry starts over.
   * An older journal's implicit checkpoints are not the app's.
   */
  lastCheckpoint: Position | null;
  /** True when the session stopped waiting for something the journal never delivered (a crashed attempt, on replay). */
  stalled: boolean;
  /** Served effects the execution did not consume. */
  unconsumed: Positioned<EffectRecord>[];
  /** True when replay stopped because it reached `stopAfter`. */
  reachedStop: boolean;
}

class DivergenceStop extends Error {}
class CrashPoint extends DivergenceStop {}

/**
 * The ctx.call() function that the running code belongs to, per async
 * context: set around the function and inherited by what it awaits and the
 * timers it arms, never by the session's other code running concurrently.
 * What a call's function does is not journaled on its own: the call's
 * result is, and on replay or resume the function does not run at all
 * (docs/sandbox.md, "Inside a ctx.call() function").
 */
interface CallFrame {
  readonly run: SessionRun;
  readonly key: string;
  readonly name: string;
  /** Fails the call (a timer callback of the call threw); a call already settled logs it instead. */
  readonly fail: (error: unknown) => void;
}
const insideCall = new AsyncLocalStorage<CallFrame>();

/** Why ctx.tx / ctx.read / ctx.checkpoint / ctx.call are refused inside a call's function. */
const INSIDE_CALL_INSTEAD =
  "a call's function does not run again on replay or on a resume (its journaled result is served instead), so what it does there could not be served: do it before or after the call, outside its function";

/** The run as the sandbox's bridge and the app's ctx see it: null once the session has ended. */
interface RunCell {
  run: SessionRun | null;
  readonly session: SessionIdentity;
}

/** What each value source is, in the app's words, for SessionEndedError. */
const VALUE_CONSTRUCTS: Partial<Record<string, string>> = {
  date: 'Date.now()',
  performance: 'performance.now()',
  'random-seed': 'Math.random()',
  uuid: 'crypto.randomUUID()',
  'random-bytes': 'crypto.getRandomValues()',
};

/**
 * An effect asked for by code that outlives its session: a promise or
 * callback still running after the session ended. It cannot be journaled as
 * part of the session (docs/sandbox.md, "Code that outlives its session").
 */
export class SessionEndedError extends Error {
  override readonly name = 'SessionEndedError';
  constructor(
    readonly construct: string,
    readonly session: number,
  ) {
    super(`${construct} after session ${session} ended: code that outlives its session (a promise or callback still running after it answered) cannot be journaled; finish the work before the handler returns`);
  }
}

/** The attempt was abandoned (ExecuteOptions.abandon): it has no outcome, and none may be journaled for it. */
export class SessionAbandonedError extends Error {
  override readonly name = 'SessionAbandonedError';
  constructor(readonly session: number) {
    super(`session ${session} was abandoned: the server stopped waiting for it; it stays open in the journal and resumes at the next start`);
  }
}

/** Turn a synchronous effect into the promise the app API promises, with its errors. */
function guard<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error);
  }
}

type AsyncEvent = { type: 'call'; call: number; entry: Positioned<CallResultRecord> } | { type: 'timer'; id: number; entry: Positioned<ValueRecord> };

export async function executeSession(options: ExecuteOptions): Promise<AttemptOutcome> {
  return new SessionRun(options).run();
}

/**
 * What a run with nothing served shares instead of empty collections of its
 * own (most live sessions: fewer allocations). Only served effects are ever
 * added to them; adding anything throws.
 */
class NeverFilledMap<K, V> extends Map<K, V> {
  override set(): never {
    throw new Error('internal: a run with nothing served added to a shared empty map');
  }
}
class NeverFilledSet<T> extends Set<T> {
  override add(): never {
    throw new Error('internal: a run with nothing served added to a shared empty set');
  }
}
const NOTHING_SERVED_MAP = new NeverFilledMap<never, never>();
const NOTHING_SERVED_SET = new NeverFilledSet<never>();

class SessionRun {
  private readonly values: Map<string, Positioned<ValueRecord>[]>;
  private readonly callStarts: Map<number, Positioned<CallStartRecord>>;
  private readonly callResults: Map<number, Positioned<CallResultRecord>>;
  private readonly txs: Positioned<WriteTxRecord>[] = [];
  private readonly reads: Positioned<ReadTxRecord>[] = [];
  private readonly checkpoints: Positioned<CheckpointRecord>[] = [];
  private readonly asyncEvents: AsyncEvent[] = [];
  private readonly consumed: Set<Positioned<EffectRecord>>;

  private nextCall = 0;
  private stepIndex = 0;
  /** The last checkpoint of the app's own reached (served or live); null: none, a retry starts over. */
  private lastCheckpoint: Position | null = null;
  /**
   * An older journal's implicit 'start' checkpoint, not yet served: the first
   * served effect, when it is a checkpoint labelled 'start' without state
   * (docs/replay.md, "Checkpoints, and the implicit ones of older
   * journals"). Served as the recorder's own when the app first asks for an
   * effect, unless that effect is the app's own checkpoint 'start' without
   * state, which then takes it.
   */
  private implicitStart: Positioned<CheckpointRecord> | null = null;
  /** The second served effect is a checkpoint 'start' without state as well: the first is the recorder's, whatever the app asks for. */
  private startTwice = false;
  private handlerCalled = false;
  private readonly divergences: Divergence[] = [];
  private stopped = false;
  private reachedStop = false;
  private randomDraws: () => number = () => 0;
  private advanceRandom: (count: number, seed?: unknown) => void = () => {};
  private lastDate = 0;
  private lastPerf = 0;
  private continuation = 0;

  // Asynchronous ordering.
  private readonly pendingCalls: Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>;
  private readonly armedTimers = new Map<number, TimerRequest>();
  /** Made on the first live timer. */
  private liveTimers: Map<number, NodeJS.Timeout> | null = null;
  private readonly heldLive: (() => void)[] = [];
  private releasing = false;
  private inFlight = 0;
  private settled = false;
  /** Set when ExecuteOptions.abandon fires, or a fail-stop error stops the attempt: nothing more happens for it. */
  private abandoned = false;
  /** What run() rejects with once abandoned: SessionAbandonedError, or the failure that stopped the attempt. */
  private halted: Error | null = null;
  private cell: RunCell | null = null;
  private wake: (() => void) | null = null;

  constructor(private readonly options: ExecuteOptions) {
    const any = options.served.length > 0;
    this.values = any ? new Map() : NOTHING_SERVED_MAP;
    this.callStarts = any ? new Map() : NOTHING_SERVED_MAP;
    this.callResults = any ? new Map() : NOTHING_SERVED_MAP;
    this.consumed = any ? new Set() : NOTHING_SERVED_SET;
    this.pendingCalls = any ? new Map() : NOTHING_SERVED_MAP;
    for (const entry of options.served) {
      const record = entry.record;
      switch (record.kind) {
        case 'value':
          if (record.source === 'timer') this.asyncEvents.push({ type: 'timer', id: Number(record.value), entry: entry as Positioned<ValueRecord> });
          else this.queue(record.source).push(entry as Positioned<ValueRecord>);
          break;
        case 'call-start':
          this.callStarts.set(record.call, entry as Positioned<CallStartRecord>);
          break;
        case 'call-result':
          this.callResults.set(record.call, entry as Positioned<CallResultRecord>);
          this.asyncEvents.push({ type: 'call', call: record.call, entry: entry as Positioned<CallResultRecord> });
          break;
        case 'write-tx':
          this.txs.push(entry as Positioned<WriteTxRecord>);
          break;
        case 'read-tx':
          this.reads.push(entry as Positioned<ReadTxRecord>);
          break;
        case 'checkpoint':
          this.checkpoints.push(entry as Positioned<CheckpointRecord>);
          break;
      }
    }
    const served = options.served;
    if (served.length > 0 && isImplicit(served[0].record, 'start')) {
      this.implicitStart = served[0] as Positioned<CheckpointRecord>;
      this.startTwice = served.length > 1 && isImplicit(served[1].record, 'start');
    }
  }

  private queue(source: string): Positioned<ValueRecord>[] {
    let list = this.values.get(source);
    if (!list) this.values.set(source, (list = []));
    return list;
  }

  async run(): Promise<AttemptOutcome> {
    const { realm, session } = this.options;
    let output: unknown;
    let thrown: unknown;
    let failed = false;
    const cell: RunCell = { run: this, session };
    this.cell = cell;
    const abandon = this.options.abandon;
    if (abandon?.aborted) throw new SessionAbandonedError(session.id);
    const onAbandon = (): void => this.abandon(cell);
    abandon?.register(onAbandon);
    try {
      const { definition, scope } = realm.instantiate(SessionRun.bridgeFor(cell));
      this.randomDraws = scope.randomDraws;
      this.advanceRandom = scope.advanceRandom;
      const handler = definition.kinds[session.kind];
      if (typeof handler !== 'function') {
        throw new TypeError(`the app has no session kind "${session.kind}" (kinds: ${Object.keys(definition.kinds).join(', ')})`);
      }
      // No checkpoint is journaled before the handler or after it: a session
      // that reaches no checkpoint of its own is retried from its start. An
      // older journal's implicit 'start' checkpoint is served when the app
      // first asks for an effect (enter()), its 'response' one once the
      // handler has returned (docs/replay.md, "Checkpoints, and the implicit
      // ones of older journals").
      this.handlerCalled = true;
      const result = this.options.pauseAtStart ? realm.callPaused(handler, session.input, SessionRun.contextFor(cell)) : handler(session.input, SessionRun.contextFor(cell));
      output = await this.untilSettledOrStalled(Promise.resolve(result));
      if (this.implicitStart !== null) this.passImplicitStart();
      if (!this.stalledFlag) {
        this.halt();
        const response = this.implicitResponse();
        if (response !== null) {
          this.passImplicit(response, 'response');
          // Where the recorder awaited its 'response' checkpoint: code still running after the handler gets the same turn.
          await null;
        }
      }
    } catch (error) {
      if (this.abandoned) throw this.halted!;
      // A handler that threw before asking for any effect: an older journal's 'start' checkpoint still came first.
      if (this.implicitStart !== null && this.handlerCalled && !(error instanceof DivergenceStop) && !this.stopped) this.passImplicitStart();
      // Stopped, whatever the app made of the stop (it may have caught it and thrown something else).
      if (error instanceof DivergenceStop || this.stopped) {
        this.stopped = true;
      } else {
        failed = true;
        thrown = importRefusal(realm, error);
        if (this.options.replay && realm.isDeterminismError(thrown)) {
          const e = thrown as { construct: string; message: string; stack?: string };
          const recorded = this.options.replay.recordedError;
          // Recorded before Node's TypeError for such an import() became this DeterminismError: the same failure.
          const reproduced = (recorded?.name === 'DeterminismError' && recorded.message === e.message) || (thrown !== error && recorded != null && isNodeImportError(recorded));
          if (!reproduced) this.diverge('determinism', null, null, e.message, appLocation(realm.filename, e), null, false, e.construct);
        }
      }
    } finally {
      abandon?.leave(onAbandon);
      this.settled = true;
      cell.run = null;
      this.clearLiveTimers();
      this.clearCallTimers();
    }
    // Abandoned after the handler settled, while an older journal's implicit 'response' checkpoint was passed.
    if (this.abandoned) throw this.halted!;
    // Isolation: a session that changed state shared with other sessions fails,
    // and its realm is retired (docs/sandbox.md, "Isolation").
    const breaches = realm.changes();
    if (breaches.length > 0 && !failed) {
      failed = true;
      thrown = Object.assign(new Error(`the session changed state shared with other sessions: ${breaches.join('; ')}`), { name: 'IsolationError' });
    }
    const retry = failed && this.options.realm.isRetryableError(thrown);
    return {
      status: this.stopped || this.stalledFlag ? 'error' : failed ? (retry ? 'retry' : 'error') : 'ok',
      output: failed ? undefined : output,
      error: failed ? this.sessionError(thrown, retry) : null,
      thrown,
      randomDraws: this.randomDraws(),
      divergences: this.divergences,
      stopped: this.stopped,
      lastCheckpoint: this.lastCheckpoint,
      stalled: this.stalledFlag,
      unconsumed: this.options.served.length === 0 ? [] : this.options.served.filter((e) => !this.consumed.has(e)),
      reachedStop: this.reachedStop,
    };
  }

  private clearLiveTimers(): void {
    if (this.liveTimers === null) return;
    for (const timer of this.liveTimers.values()) clearTimeout(timer);
    this.liveTimers.clear();
  }

  /**
   * Stop the attempt where it is (ExecuteOptions.abandon): its live timers
   * no longer hold the process, call outcomes and timer firings that come
   * later are dropped, every effect the app asks for from now on is refused
   * (SessionEndedError), and run() rejects with SessionAbandonedError.
   */
  private abandon(cell: RunCell, reason: Error = new SessionAbandonedError(cell.session.id)): void {
    if (this.settled) return;
    this.abandoned = true;
    this.halted = reason;
    this.settled = true;
    cell.run = null;
    this.clearLiveTimers();
    this.clearCallTimers();
    this.heldLive.length = 0;
    this.fail(reason);
  }

  /**
   * The journal or the live database failed under an effect (a full disk, an
   * I/O error): the attempt stops as if abandoned, whatever the app makes of
   * the error, and run() rejects with it. Nothing about it is journaled: it
   * is not the session's doing, and the next start resumes the session.
   */
  private haltOn(error: unknown): void {
    if (this.cell !== null && isFailStop(error)) this.abandon(this.cell, error);
  }

  /** The session's error as journaled: its stack mapped to the app's sources, and where app code raised it. */
  private sessionError(thrown: unknown, retry: boolean): ErrorInfo {
    const info = errorInfo(thrown, retry);
    const filename = this.options.realm.filename;
    if (info.stack) info.stack = mapStack(filename, info.stack);
    const location = thrown && typeof thrown === 'object' ? appLocation(filename, thrown as { stack?: string }) : null;
    if (location) info.location = location;
    return info;
  }

  // ---- the bridge the sandbox calls -------------------------------------------------

  // The bridge and ctx reach the run only through a cell, emptied when the
  // session ends: code that outlives its session (a promise still running
  // after the response) gets SessionEndedError for every effect instead of
  // journaling records after the session's end, and the run's state is free
  // for the garbage collector even while the app's closures live on.

  private static bridgeFor(cell: RunCell): SessionBridge {
    return {
      timeZone: cell.session.timeZone,
      locale: cell.session.locale,
      value: <S extends BridgeValueSource>(source: S, ...args: BridgeValueArgs[S]) => SessionRun.runOf(cell, VALUE_CONSTRUCTS[source] ?? source).value(source, args as unknown[]) as BridgeValues[S],
      inCall: () => cell.run !== null && cell.run.callFrame() !== null,
      setTimer: (timer) => SessionRun.runOf(cell, timer.kind === 'immediate' ? 'setImmediate()' : timer.kind === 'interval' ? 'setInterval()' : 'setTimeout()').setTimer(timer),
      clearTimer: (id) => cell.run?.clearTimer(id),
      call: (name, request) => SessionRun.runOf(cell, name === 'fetch' ? 'fetch()' : `${name}()`).fetchCall(name, request) as never,
      // Console output of code that outlives its session is dropped: there is no session to tell it to.
      log: (level, args) => cell.run?.options.live?.log(level, args),
    };
  }

  private static contextFor(cell: RunCell): SessionContext {
    const { session } = cell;
    const log = (level: LogLevel, args: unknown[]): void => cell.run?.options.live?.log(level, args);
    // Each names itself to effectRun, so that a refusal's stack starts at the app's call.
    const tx = <T>(body: (db: AppDb) => T): Promise<T> => guard(() => SessionRun.effectRun(cell, 'ctx.tx()', tx).tx(body)) as Promise<T>;
    const read = <T>(body: (db: AppDb) => T): Promise<T> => guard(() => SessionRun.effectRun(cell, 'ctx.read()', read).read(body)) as Promise<T>;
    const checkpoint = (label?: string, state?: unknown): Promise<void> =>
      guard(() => SessionRun.effectRun(cell, `ctx.checkpoint("${label ?? 'checkpoint'}")`, checkpoint).checkpoint(label ?? 'checkpoint', state ?? null));
    const call = <T>(name: string, fn: (idempotencyKey: string) => T | Promise<T>, request?: unknown, opts?: CallOptions): Promise<T> => {
      if (typeof name !== 'string' || typeof fn !== 'function') {
        return Promise.reject(new TypeError('ctx.call(name, fn, request?): name must be a string and fn a function (idempotencyKey) => result'));
      }
      let run: SessionRun;
      try {
        run = SessionRun.effectRun(cell, `ctx.call("${name}")`, call);
      } catch (error) {
        return Promise.reject(error);
      }
      return run.call(name, request ?? null, opts, (key) => run.performCall(name, key, fn)) as Promise<T>;
    };
    return Object.freeze({
      session: Object.freeze({ id: session.id, kind: session.kind, attempt: session.attempt, route: session.route }),
      config: session.config as never,
      console: Object.freeze({
        log: (...args: unknown[]) => log('log', args),
        info: (...args: unknown[]) => log('info', args),
        warn: (...args: unknown[]) => log('warn', args),
        error: (...args: unknown[]) => log('error', args),
        debug: (...args: unknown[]) => log('debug', args),
      }),
      tx,
      read,
      call,
      checkpoint,
      need: () => {
        throw new TypeError('ctx.need() (suspend and prefetch) is not available yet in this version of Windback');
      },
    }) as unknown as SessionContext;
  }

  private static runOf(cell: RunCell, construct: string): SessionRun {
    if (cell.run !== null) return cell.run;
    throw new SessionEndedError(construct, cell.session.id);
  }

  /**
   * The run, for an effect of the app API that a call's function may not
   * have: its result could not be served on replay, where the function does
   * not run. `hideFrom`: the API function, cut from the refusal's stack.
   */
  private static effectRun(cell: RunCell, construct: string, hideFrom: Function): SessionRun {
    const run = SessionRun.runOf(cell, construct);
    const frame = run.callFrame();
    if (frame !== null) throw run.options.realm.determinismError(`${construct} inside ctx.call("${frame.name}")`, INSIDE_CALL_INSTEAD, hideFrom);
    return run;
  }

  /** Set once a call's function has run in this attempt: until then no code can be inside one, and inCall() spares the lookup. */
  private callsEntered = false;

  /** The ctx.call() function of this run that the running code belongs to, or null. */
  private callFrame(): CallFrame | null {
    if (!this.callsEntered) return null;
    const frame = insideCall.getStore();
    return frame !== undefined && frame.run === this ? frame : null;
  }

  /**
   * Run a call's function (live only: a served call's does not run), inside
   * its frame. What its timers' callbacks throw fails the call as what the
   * function throws does.
   */
  performCall(name: string, key: string, fn: (idempotencyKey: string) => unknown): Promise<unknown> {
    this.callsEntered = true;
    let settled = false;
    return new Promise((resolve, reject) => {
      const fail = (error: unknown): void => {
        if (!settled) {
          settled = true;
          reject(error);
        } else {
          // Code of the call that outlived it: nothing is left to fail; say so rather than drop it.
          this.options.live?.log('error', [`a timer of ctx.call("${name}") threw after the call had settled:`, error]);
        }
      };
      const frame: CallFrame = { run: this, key, name, fail };
      let result: unknown;
      try {
        result = insideCall.run(frame, () => fn(key));
      } catch (error) {
        fail(error);
        return;
      }
      Promise.resolve(result).then(
        (value) => {
          if (settled) return;
          settled = true;
          resolve(value);
        },
        fail,
      );
    });
  }

  // ---- values ----------------------------------------------------------------------

  private value(source: string, args: unknown[]): unknown {
    this.enter();
    // Inside a call's function: live and not journaled, like everything the function does.
    if (this.options.live && this.callFrame() !== null) return this.monotonic(source, produce(this.options.live, source, args));
    const list = this.values.get(source);
    const entry = list?.find((e) => !this.consumed.has(e));
    if (entry) {
      this.consumed.add(entry);
      const value = entry.record.value;
      if (source === 'random-bytes' && lengthOf(value) !== args[0]) {
        this.diverge('value', entry, { source, length: args[0] }, `crypto.getRandomValues asked for ${String(args[0])} bytes; the journal holds ${lengthOf(value)}`);
      }
      this.track(source, value);
      this.step('value', 'served', entry);
      return value;
    }
    const live = this.options.live;
    if (live) {
      const value = this.monotonic(source, produce(live, source, args));
      const { position } = live.journal.append({ kind: 'value', source, value });
      this.track(source, value);
      const observed = this.options.observer?.step ? { kind: 'value' as const, session: this.options.session.id, prev: null, source, value } : (null as never);
      this.step('value', 'live', { position, record: observed });
      return value;
    }
    // Replay of code that asks for more than was recorded: a deterministic
    // continuation, a divergence only under --strict.
    if (this.options.replay?.endsAtCrash) this.crashPoint();
    if (this.options.replay?.strict) this.diverge('extra-step', null, { source }, `the session asked for a ${source} value the journal does not hold`);
    return this.continue(source, args);
  }

  /**
   * A transaction or read served from the journal does not run its body, so
   * the values the body took when it was recorded are still queued; the next
   * code to ask for a value of that kind would get one. They are the values
   * journaled before it and not consumed yet: whatever the code took before
   * calling ctx.tx() has been consumed by then. The Math.random seed is
   * passed with the body's draws (passBodyDraws).
   */
  private passBodyValues(entry: Positioned<WriteTxRecord | ReadTxRecord>): void {
    const before = entry.position;
    for (const [source, list] of this.values) {
      if (source === 'random-seed') continue;
      for (const e of list) {
        if (e.position >= before) break;
        if (this.consumed.has(e)) continue;
        this.consumed.add(e);
        this.track(source, e.record.value);
        this.step('value', 'served', e);
      }
    }
    this.passBodyDraws(entry);
  }

  /**
   * Math.random draws of a served body: the record holds the draw count the
   * body left, so the generator is brought there (and seeded from the
   * journaled seed when the body made the session's first draw). A record
   * without the count (older journals) leaves the generator as it is.
   */
  private passBodyDraws(entry: Positioned<WriteTxRecord | ReadTxRecord>): void {
    const recorded = entry.record.randomDraws;
    if (typeof recorded !== 'number' || !Number.isSafeInteger(recorded) || recorded < 0) return;
    const drawn = this.randomDraws();
    if (recorded === drawn) return;
    const what = entry.record.kind === 'write-tx' || entry.record.write ? 'transaction' : 'read';
    // Fewer draws by the end of the body than before it, or a first draw in it
    // with no seed before it: the code before it drew differently this time.
    // Only a what-if replay (not strict) may do that.
    const strict = !this.options.replay || this.options.replay.strict;
    if (recorded < drawn) {
      if (strict) {
        this.diverge('value', entry, { randomDraws: drawn }, `Math.random was drawn ${drawn} times before a served ${what}; the journal says ${recorded} by its end`, undefined, {
          randomDraws: recorded,
        });
      }
      return;
    }
    let seed: unknown;
    if (drawn === 0) {
      const seedEntry = this.values.get('random-seed')?.find((e) => !this.consumed.has(e));
      if (!seedEntry || seedEntry.position >= entry.position) {
        if (strict) this.diverge('value', entry, { randomDraws: 0 }, `a served ${what} drew Math.random first, and the journal holds no seed for it`, undefined, { randomDraws: recorded });
        return;
      }
      this.consumed.add(seedEntry);
      this.step('value', 'served', seedEntry);
      seed = seedEntry.record.value;
    }
    this.advanceRandom(recorded, seed);
  }

  /**
   * performance.now() never goes back within a session. The live clock of an
   * attempt counts from the attempt's start, so that of a resumed or retried
   * one starts again near 0 while it is served the values of the attempt it
   * re-runs, which may be larger: from the first live value below the last
   * one the session got, the live clock is moved forward to continue from it.
   */
  private monotonic(source: string, value: unknown): unknown {
    if (source !== 'performance' || typeof value !== 'number') return value;
    const moved = value + this.perfOffset;
    if (moved >= this.lastPerf) return moved;
    this.perfOffset += this.lastPerf - moved;
    return this.lastPerf;
  }

  private perfOffset = 0;

  private track(source: string, value: unknown): void {
    if (source === 'date' && typeof value === 'number') this.lastDate = value;
    if (source === 'performance' && typeof value === 'number') this.lastPerf = value;
  }

  private continue(source: string, args: unknown[]): unknown {
    const n = ++this.continuation;
    switch (source) {
      case 'date':
        return this.lastDate;
      case 'performance':
        return this.lastPerf;
      case 'random-seed':
        return [this.options.session.id >>> 0, n, 0x9e3779b9, 0x85ebca6b];
      case 'uuid':
        return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
      case 'random-bytes':
        return new Uint8Array(Number(args[0]) || 0).map((_, i) => (i * 31 + n) & 0xff);
      default:
        return null;
    }
  }

  // ---- calls -------------------------------------------------------------------------

  /** fetch() from app code: a journaled call of its own, unless it runs inside a ctx.call(). */
  private fetchCall(name: string, request: unknown): Promise<unknown> {
    const live = this.options.live;
    const frame = this.callFrame();
    if (frame !== null && live) return live.call(name, request, frame.key);
    return this.call(name, request, undefined, (key) => {
      if (!live) return new Promise(() => {});
      return live.call(name, request, key);
    });
  }

  private call(name: string, request: unknown, options: CallOptions | undefined, perform: (key: string) => unknown): Promise<unknown> {
    if (this.implicitStart !== null) this.passImplicitStart();
    if (this.stopped) return new Promise(() => {}); // a stopped replay: the call never starts
    const index = this.nextCall++;
    const key = options?.idempotencyKey ?? `${this.options.session.keyPrefix}-${index}`;
    const started = this.callStarts.get(index);
    if (started) {
      this.consumed.add(started);
      if (!this.sameCall(started.record, name, request)) {
        const [now, then] = briefPair(request, started.record.request);
        this.diverge('call', started, { name, request }, `call ${index} is ${name}(${now}); the journal holds ${started.record.name}(${then})`);
      }
      this.step('call', 'served', started);
      if (this.callResults.has(index)) {
        return new Promise((resolve, reject) => {
          this.pendingCalls.set(index, { resolve, reject });
          this.release();
        });
      }
      // In doubt: the start is journaled, its outcome is not.
      if (this.options.live) return this.liveCallResult(index, started.record.idempotencyKey, perform);
      return new Promise(() => {}); // replay of a crashed attempt: the outcome never came
    }
    const live = this.options.live;
    if (!live) {
      if (this.options.replay?.endsAtCrash) this.crashPoint();
      this.diverge('extra-step', null, { name, request }, `call ${index} ${name}(${brief(request)}) is not in the journal`);
      return new Promise(() => {});
    }
    const appended = live.journal.append({ kind: 'call-start', call: index, name, request, idempotencyKey: key, at: live.now() });
    this.step('call', 'live', { position: appended.position, record: { kind: 'call-start', session: this.options.session.id, prev: null, call: index, name, request, idempotencyKey: key, at: 0 } });
    // The intent is durable before the effect happens, so a crash leaves it "in doubt", never unknown.
    return appended.durable.then(() => this.liveCallResult(index, key, perform));
  }

  /**
   * Whether a served call start is the call the app makes now. Live (a
   * resume, a retry) with secrets: compared as journaled, secrets replaced by
   * their placeholders on both sides (the journal's copy is served with the
   * secrets put back, in whichever form they had).
   */
  private sameCall(recorded: CallStartRecord, name: string, request: unknown): boolean {
    const redact = this.options.live?.redact;
    if (redact === undefined) return recorded.name === name && isDeepStrictEqual(normalize(recorded.request), normalize(request));
    return redact(recorded.name) === redact(name) && isDeepStrictEqual(normalize(redact(recorded.request)), normalize(redact(request)));
  }

  private liveCallResult(index: number, key: string, perform: (key: string) => unknown): Promise<unknown> {
    // Abandoned while its call-start was becoming durable: the call is not made (a resume makes it, in doubt).
    if (this.abandoned) return new Promise(() => {});
    const live = this.options.live!;
    this.inFlight++;
    return new Promise((resolve, reject) => {
      const finish = (succeeded: boolean, value: unknown): void => {
        let ok = succeeded;
        // Live outcomes wait until every journaled outcome has been delivered.
        this.hold(() => {
          this.inFlight--;
          if (this.settled) return;
          let recorded: unknown;
          // A result the journal cannot hold (a Map...) fails the call: a replay would serve something else.
          const problem = ok ? unjournalable(value, 'its result') : null;
          if (problem !== null) {
            ok = false;
            recorded = errorInfo(unjournalableError(`call ${index}`, problem), false);
          } else {
            try {
              // A host-realm copy: what is journaled is exactly what the app gets on replay.
              recorded = ok ? structuredClone(value) : errorInfo(value, false);
            } catch (error) {
              ok = false;
              recorded = errorInfo(new TypeError(`the result of call ${index} is not serializable: ${(error as Error).message}`), false);
            }
          }
          let appended;
          try {
            appended = live.journal.append({ kind: 'call-result', call: index, ok, value: recorded, at: live.now() });
          } catch (error) {
            // The journal refused the outcome (fail-stop): the attempt fails with that error.
            this.fail(error);
            reject(error);
            return;
          }
          this.step('call-result', 'live', {
            position: appended.position,
            record: { kind: 'call-result', session: this.options.session.id, prev: null, call: index, ok, value: recorded, at: 0 },
          });
          if (ok) resolve(recorded);
          else reject(toError(recorded as ErrorInfo)); // the same error object a replay will build
        });
      };
      let pending: Promise<unknown>;
      try {
        pending = Promise.resolve(perform(key));
      } catch (error) {
        pending = Promise.reject(error);
      }
      pending.then(
        (value) => finish(true, value),
        (error) => finish(false, error),
      );
    });
  }

  // ---- timers --------------------------------------------------------------------------

  private setTimer(timer: TimerRequest): void {
    if (timer.inCall) return this.setCallTimer(timer);
    if (this.implicitStart !== null) this.passImplicitStart();
    this.armedTimers.set(timer.id, timer);
    if (this.asyncEvents.some((e) => e.type === 'timer' && e.id === timer.id && !this.consumed.has(e.entry))) {
      this.release();
      // A timeout fires once: the journal's firing is that one. An interval
      // goes on firing after those the journal holds (a resume or a retry
      // re-runs the attempt that journaled them): live, and held until every
      // journaled outcome has been delivered, like any live outcome.
      if (timer.kind !== 'interval') return;
    }
    const live = this.options.live;
    if (!live) return; // replay: a timer the journal never saw fire does not fire
    this.inFlight++;
    const fire = (): void => {
      this.hold(() => {
        if (this.settled || !this.armedTimers.has(timer.id)) return;
        // As when served (release()): a throwing callback, or a journal that
        // refuses the record, fails this session, never the process.
        try {
          const appended = live.journal.append({ kind: 'value', source: 'timer', value: timer.id });
          this.step('timer', 'live', { position: appended.position, record: { kind: 'value', session: this.options.session.id, prev: null, source: 'timer', value: timer.id } });
          if (timer.kind !== 'interval') {
            this.armedTimers.delete(timer.id);
            this.liveTimers?.delete(timer.id);
            this.inFlight--;
          }
          timer.fire();
        } catch (error) {
          this.fail(error);
        }
      });
    };
    const handle = timer.kind === 'interval' ? setInterval(fire, timer.delayMs) : setTimeout(fire, timer.delayMs);
    (this.liveTimers ??= new Map()).set(timer.id, handle);
  }

  /**
   * A timer armed inside a call's function: the call's, so live by the clock
   * and not journaled (on replay the function does not run, so it is never
   * armed). It does not wait for journaled outcomes: only the call's result
   * is ordered. A throwing callback fails the call.
   */
  private setCallTimer(timer: TimerRequest): void {
    if (!this.options.live) throw new Error(`internal: timer ${timer.id} armed inside a call's function on replay`);
    const frame = this.callFrame();
    const fire = (): void => {
      if (this.settled) return;
      if (timer.kind !== 'interval') this.callTimers?.delete(timer.id);
      try {
        timer.fire();
      } catch (error) {
        if (frame !== null) frame.fail(error);
        else this.fail(error);
      }
    };
    let cancel: () => void;
    if (timer.kind === 'immediate') {
      const handle = setImmediate(fire);
      cancel = () => clearImmediate(handle);
    } else {
      const handle = timer.kind === 'interval' ? setInterval(fire, timer.delayMs) : setTimeout(fire, timer.delayMs);
      cancel = () => clearTimeout(handle);
    }
    (this.callTimers ??= new Map()).set(timer.id, cancel);
  }

  /** How to cancel each live timer of a call's function, by its (negative) id; made on the first. */
  private callTimers: Map<number, () => void> | null = null;

  private clearCallTimers(): void {
    if (this.callTimers === null) return;
    for (const cancel of this.callTimers.values()) cancel();
    this.callTimers.clear();
  }

  private clearTimer(id: number): void {
    const cancel = this.callTimers?.get(id);
    if (cancel !== undefined) {
      cancel();
      this.callTimers!.delete(id);
      return;
    }
    this.armedTimers.delete(id);
    const handle = this.liveTimers?.get(id);
    if (handle) {
      clearTimeout(handle);
      this.liveTimers!.delete(id);
      this.inFlight--;
    }
  }

  // ---- ordering of asynchronous outcomes ----------------------------------------------

  /** Deliver journaled outcomes in journal order, one per macrotask so the app reacts in between. */
  private release(): void {
    if (this.releasing || this.settled) return;
    const next = this.asyncEvents.find((e) => !this.consumed.has(e.entry));
    if (!next) {
      this.flushHeld();
      return;
    }
    const ready = next.type === 'call' ? this.pendingCalls.has(next.call) : this.armedTimers.has(next.id);
    if (!ready) return; // released when the app gets there
    this.releasing = true;
    this.inFlight++;
    setImmediate(() => {
      this.releasing = false;
      this.inFlight--;
      if (this.settled || this.stopped) return;
      this.consumed.add(next.entry);
      if (next.type === 'call') {
        const waiter = this.pendingCalls.get(next.call)!;
        this.pendingCalls.delete(next.call);
        this.step('call-result', 'served', next.entry);
        const record = next.entry.record;
        if (record.ok) waiter.resolve(record.value);
        else waiter.reject(toError(record.value as ErrorInfo));
      } else {
        const timer = this.armedTimers.get(next.id)!;
        if (timer.kind !== 'interval') this.armedTimers.delete(next.id);
        this.step('timer', 'served', next.entry);
        try {
          timer.fire();
        } catch (error) {
          this.fail(error);
        }
      }
      this.release();
      this.poke();
    });
  }

  private hold(deliver: () => void): void {
    if (this.asyncEvents.every((e) => this.consumed.has(e.entry))) {
      deliver();
      this.poke();
    } else {
      this.heldLive.push(deliver);
    }
  }

  private flushHeld(): void {
    while (this.heldLive.length > 0) this.heldLive.shift()!();
    this.poke();
  }

  private failure: unknown = null;
  private fail(error: unknown): void {
    this.failure ??= error;
    this.poke();
  }

  // ---- transactions, reads, checkpoints --------------------------------------------------

  private tx(app: (db: AppDb) => unknown): unknown {
    this.enter();
    const body = journalableResult(app, 'ctx.tx()');
    // The next write in journal order: a committed transaction, or one whose function threw.
    const committed = this.txs.find((e) => !this.consumed.has(e));
    const aborted = this.reads.find((e) => !this.consumed.has(e) && e.record.write);
    if (aborted && (!committed || aborted.position < committed.position)) return this.servedAbort(aborted, body, true);
    const entry = committed;
    if (entry) {
      this.consumed.add(entry);
      const replay = this.options.replay;
      if (!replay || entry.position < (replay.compareFrom ?? 0)) {
        // Resume (or an inherited effect on replay): the transaction committed before the crash; its result is served.
        this.passBodyValues(entry);
        this.step('tx', 'served', entry);
        return entry.record.result;
      }
      const recorded = entry.record;
      let actual: ReturnType<ReplayDatabase['write']>;
      try {
        actual = replay.database.write(recorded, body);
      } catch (error) {
        if (isFailStop(error)) {
          this.haltOn(error);
          throw error;
        }
        this.diverge('tx', entry, errorInfo(error, false), `transaction ${recorded.tx} threw on replay: ${(error as Error)?.message}`, undefined, recorded.changes);
        throw error;
      }
      if (!isDeepStrictEqual(normalize(actual.changes), normalize(recorded.changes))) {
        this.diverge('tx', entry, actual.changes, `transaction ${recorded.tx} wrote different rows`, undefined, recorded.changes);
      } else if (replay.strict && !Buffer.from(actual.readDigest).equals(Buffer.from(recorded.readDigest))) {
        this.diverge('tx', entry, { readDigest: hex(actual.readDigest) }, `transaction ${recorded.tx} read different data`, undefined, {
          readDigest: hex(recorded.readDigest),
        });
      } else if (replay.strict && !isDeepStrictEqual(normalize(actual.result), normalize(recorded.result))) {
        this.diverge('tx', entry, actual.result, `transaction ${recorded.tx} returned a different value`, undefined, recorded.result);
      }
      this.step('tx', 'served', entry, actual);
      return actual.result;
    }
    const live = this.options.live;
    if (!live) {
      if (this.options.replay?.endsAtCrash) this.crashPoint();
      this.diverge('extra-step', null, { kind: 'tx' }, 'a write transaction that is not in the journal');
      throw new DivergenceStop();
    }
    let journaled: Positioned<WriteTxRecord> | null = null;
    let result: unknown;
    try {
      // Journaled before it commits: a record the journal refuses rolls the transaction back.
      result = live.database.write(body, (w) => {
        const record = {
          kind: 'write-tx' as const,
          tx: w.tx,
          committedAt: w.committedAt,
          readAtTx: w.readAtTx,
          changes: w.changes,
          readDigest: w.readDigest,
          result: w.result,
          migration: null,
          randomDraws: this.randomDraws(),
        };
        journaled = { position: live.journal.append(record).position, record: record as WriteTxRecord };
      }).result;
    } catch (error) {
      if (isFailStop(error)) this.haltOn(error);
      else this.journalAbort(live, error, true);
      throw error;
    }
    const { position, record } = journaled!;
    this.step('tx', 'live', { position, record: this.observed(record) });
    return result;
  }

  private read(app: (db: AppDb) => unknown): unknown {
    this.enter();
    const body = journalableResult(app, 'ctx.read()');
    const entry = this.reads.find((e) => !this.consumed.has(e) && !e.record.write);
    if (entry) {
      if (entry.record.error) return this.servedAbort(entry, body, false);
      this.consumed.add(entry);
      const replay = this.options.replay;
      if (!replay || entry.position < (replay.compareFrom ?? 0)) {
        this.passBodyValues(entry);
        this.step('read', 'served', entry);
        return entry.record.result;
      }
      let actual: ReturnType<ReplayDatabase['read']>;
      try {
        actual = replay.database.read(entry.record, body);
      } catch (error) {
        this.haltOn(error);
        throw error;
      }
      if (replay.strict && !Buffer.from(actual.readDigest).equals(Buffer.from(entry.record.readDigest))) {
        this.diverge('read', entry, { readDigest: hex(actual.readDigest) }, 'a read saw different data', undefined, { readDigest: hex(entry.record.readDigest) });
      } else if (replay.strict && !isDeepStrictEqual(normalize(actual.result), normalize(entry.record.result))) {
        this.diverge('read', entry, actual.result, 'a read returned a different value', undefined, entry.record.result);
      }
      this.step('read', 'served', entry, actual);
      return actual.result;
    }
    const live = this.options.live;
    if (!live) {
      if (this.options.replay?.endsAtCrash) this.crashPoint();
      this.diverge('extra-step', null, { kind: 'read' }, 'a read that is not in the journal');
      throw new DivergenceStop();
    }
    let r: ReturnType<LiveEffects['database']['read']>;
    try {
      r = live.database.read(body);
    } catch (error) {
      if (isFailStop(error)) this.haltOn(error);
      else this.journalAbort(live, error, false);
      throw error;
    }
    const record = { kind: 'read-tx' as const, readAtTx: r.readAtTx, readDigest: r.readDigest, result: r.result, error: null, write: false, randomDraws: this.randomDraws() };
    const { position } = live.journal.append(record);
    this.step('read', 'live', { position, record: this.observed(record) });
    return r.result;
  }

  /** A transaction or read whose function threw: it wrote nothing, but what the app saw is journaled. */
  private journalAbort(live: LiveEffects, error: unknown, write: boolean): void {
    const record = {
      kind: 'read-tx' as const,
      readAtTx: live.database.lastTx,
      readDigest: new Uint8Array(0),
      result: null,
      error: errorInfo(error, false),
      write,
      randomDraws: this.randomDraws(),
    };
    const { position } = live.journal.append(record);
    this.step(write ? 'tx' : 'read', 'live', { position, record: this.observed(record) });
  }

  /** Serve (resume) or re-run (replay) a journaled transaction or read whose function threw. */
  private servedAbort(entry: Positioned<ReadTxRecord>, body: (db: AppDb) => unknown, write: boolean): never {
    this.consumed.add(entry);
    const recorded = entry.record.error!;
    const replay = this.options.replay;
    if (!replay || entry.position < (replay.compareFrom ?? 0)) {
      this.passBodyValues(entry);
      this.step(write ? 'tx' : 'read', 'served', entry);
      throw toError(recorded);
    }
    let threw: unknown = null;
    try {
      replay.database.attempt(entry.record, body, write);
    } catch (error) {
      if (isFailStop(error)) {
        this.haltOn(error);
        throw error;
      }
      threw = error ?? new Error('undefined thrown');
    }
    this.step(write ? 'tx' : 'read', 'served', entry, threw === null ? { committed: true } : errorInfo(threw, false));
    if (threw === null) {
      this.diverge(write ? 'tx' : 'read', entry, { threw: false }, `the ${write ? 'transaction' : 'read'} threw ${recorded.name}: ${recorded.message} when recorded, and did not on replay`, undefined, recorded);
      throw new DivergenceStop();
    }
    const actual = errorInfo(threw, false);
    // A record too large for the journal is sized again on replay, where a few header bytes differ.
    // A refused result is compared by what was refused, not by the advice (its wording changes between versions).
    const sameMessage = actual.message === recorded.message || actual.name === RecordTooLargeError.name || sameRefusal(actual.message, recorded.message);
    if (actual.name !== recorded.name || !sameMessage) {
      this.diverge(write ? 'tx' : 'read', entry, { name: actual.name, message: actual.message }, `the ${write ? 'transaction' : 'read'} threw a different error`, undefined, {
        name: recorded.name,
        message: recorded.message,
      });
    }
    throw threw;
  }

  private checkpoint(label: string, state: unknown): void {
    if (this.implicitStart !== null) {
      // The app's own first effect is a checkpoint 'start' without state: the
      // journal's first checkpoint is that one (a journal without implicit
      // checkpoints), unless a second one follows it (an older journal, whose
      // recorder's 'start' came before the app's).
      if (label === 'start' && state === null && !this.startTwice) this.implicitStart = null;
      else this.passImplicitStart();
    }
    this.halt();
    let copy: unknown = null;
    // Most checkpoints carry no state: no need to check or clone null.
    if (state !== null) {
      // Refused rather than journaled as something else: a Map would be stored as an object and compare unequal to itself on every replay.
      const problem = unjournalable(state, 'the state');
      if (problem !== null) throw unjournalableError(`ctx.checkpoint("${label}")`, problem);
      try {
        copy = structuredClone(state);
      } catch (error) {
        throw new TypeError(`ctx.checkpoint("${label}"): the state is not serializable: ${(error as Error).message}`);
      }
    }
    const entry = this.checkpoints.find((e) => !this.consumed.has(e));
    if (entry) {
      this.consumed.add(entry);
      this.compareCheckpoint(entry, label, copy);
      this.lastCheckpoint = entry.position;
      this.step('checkpoint', 'served', entry);
      return;
    }
    const live = this.options.live;
    if (!live) {
      if (this.options.replay?.endsAtCrash) this.crashPoint();
      // Not journaled because the journal refused it (the append threw at the app): throw the same.
      const bytes = copy === null ? 0 : packValue(copy).byteLength;
      if (bytes > MAX_PAYLOAD) throw new RecordTooLargeError('checkpoint', bytes);
      this.diverge('extra-step', null, { label }, `checkpoint "${label}" is not in the journal`);
      return;
    }
    const record = { kind: 'checkpoint' as const, at: live.now(), label, state: copy, randomDraws: this.randomDraws() };
    const { position } = live.journal.append(record);
    this.lastCheckpoint = position;
    this.step('checkpoint', 'live', { position, record: this.observed(record) });
  }

  private compareCheckpoint(entry: Positioned<CheckpointRecord>, label: string, copy: unknown): void {
    const replay = this.options.replay;
    const redact = this.options.live?.redact;
    const sameLabel = redact === undefined ? entry.record.label === label : redact(entry.record.label) === redact(label);
    if (!sameLabel || (replay?.strict && !isDeepStrictEqual(normalize(entry.record.state), normalize(copy)))) {
      this.diverge('checkpoint', entry, { label, state: copy }, `checkpoint "${label}" differs from the journal's "${entry.record.label}"`, undefined, {
        label: entry.record.label,
        state: entry.record.state,
      });
    } else if (replay?.strict && entry.record.randomDraws !== this.randomDraws()) {
      this.diverge('value', entry, { randomDraws: this.randomDraws() }, `Math.random was drawn ${this.randomDraws()} times by checkpoint "${label}"; the journal says ${entry.record.randomDraws}`, undefined, {
        randomDraws: entry.record.randomDraws,
      });
    }
  }

  // ---- implicit checkpoints of older journals ------------------------------------------------
  //
  // Recorders before this version journaled a checkpoint 'start' (no state)
  // before the handler ran and a checkpoint 'response' (no state) once it had
  // returned. A journal that holds them is served them where they were taken,
  // compared as they were, and reported as steps (with no source location, as
  // then), so that its replay, its step numbers and a resume are unchanged.
  // They are not the app's: they set no checkpoint to retry from.

  /** Every effect the app asks for begins here. */
  private enter(): void {
    if (this.implicitStart !== null) this.passImplicitStart();
    this.halt();
  }

  private passImplicitStart(): void {
    const entry = this.implicitStart!;
    this.implicitStart = null;
    if (!this.consumed.has(entry)) this.passImplicit(entry, 'start');
  }

  private passImplicit(entry: Positioned<CheckpointRecord>, label: 'start' | 'response'): void {
    this.consumed.add(entry);
    this.compareCheckpoint(entry, label, null);
    this.step('checkpoint', 'served', entry, undefined, null);
  }

  /**
   * Once the handler has returned: an older journal's implicit 'response'
   * checkpoint is the attempt's last checkpoint, labelled 'response' without
   * state, and nothing has taken it (an app's own last checkpoint
   * 'response' has been served to it before its handler returned). Then the
   * checkpoint its recorder took here is served as that recorder's replay
   * served it: the first checkpoint not served yet (that one, unless the code
   * skipped one of its own), compared with the label 'response'.
   */
  private implicitResponse(): Positioned<CheckpointRecord> | null {
    const checkpoints = this.checkpoints;
    const last = checkpoints[checkpoints.length - 1];
    if (last === undefined || this.consumed.has(last) || !isImplicit(last.record, 'response')) return null;
    return checkpoints.find((e) => !this.consumed.has(e))!;
  }

  // ---- completion ---------------------------------------------------------------------------

  private stalledFlag = false;

  /** A stopped replay (a divergence, the crash point, stopAfter) runs and reports no further effect. */
  private halt(): void {
    if (this.stopped) throw new DivergenceStop();
  }

  /** Replay reached its stopAfter position: stop once this step is reported. */
  private stopHere(): void {
    this.stopped = true;
    this.reachedStop = true;
    this.poke();
  }

  /** Replay reached the point where the recorded attempt crashed: end it there, as it ended. */
  private crashPoint(): never {
    this.stalledFlag = true;
    this.stopped = true;
    this.poke();
    throw new CrashPoint();
  }

  /** The handler's outcome, or a stall: the app waits and nothing the journal holds or the live side does will wake it. */
  private async untilSettledOrStalled(handler: Promise<unknown>): Promise<unknown> {
    let done = false;
    let outcome: { ok: boolean; value: unknown } | null = null;
    handler.then(
      (value) => {
        done = true;
        outcome = { ok: true, value };
        this.poke();
      },
      (error) => {
        done = true;
        outcome = { ok: false, value: error };
        this.poke();
      },
    );
    let idleTurns = 0;
    // Live, the session may wait on the network or a timer for as long as it
    // likes; only a replay, where everything comes from the journal, can stall.
    const canStall = this.options.live === null;
    while (!done) {
      if (this.failure !== null) throw this.failure;
      if (this.stopped) throw new DivergenceStop();
      if (!canStall || this.inFlight > 0 || this.releasing) {
        idleTurns = 0;
        await new Promise<void>((resolve) => (this.wake = resolve));
        continue;
      }
      // Nothing in flight: give microtasks and immediates two turns to move.
      // The handler settling ends the wait at once, as it does live, so that
      // code still running after it (which outlives the session) meets the
      // session's end at the same point on replay as when recorded.
      const turned = await new Promise<boolean>((resolve) => {
        const immediate = setImmediate(() => resolve(true));
        this.wake = () => {
          clearImmediate(immediate);
          resolve(false);
        };
      });
      if (done) break;
      if (!turned) {
        idleTurns = 0; // woken by progress, not an idle turn
        continue;
      }
      if (++idleTurns >= 3) {
        this.stalledFlag = true;
        return undefined;
      }
    }
    const result = outcome as unknown as { ok: boolean; value: unknown };
    if (this.failure !== null) throw this.failure;
    if (!result.ok) throw result.value;
    return result.value;
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  // ---- observation and divergence -------------------------------------------------------------

  /**
   * A live record as an observer sees it (its session, no prev), copied only
   * when there is an observer: without one step() never reads it.
   */
  private observed<R extends object>(record: R): R & { session: number; prev: null } {
    if (this.options.observer?.step === undefined) return record as R & { session: number; prev: null };
    return { ...record, session: this.options.session.id, prev: null };
  }

  private step(
    kind: ExecutionStep['kind'],
    origin: ExecutionStep['origin'],
    entry: { position: Position | null; record: ExecutionStep['record'] },
    actual?: unknown,
    location?: SourceLocation | null,
  ): void {
    const index = this.stepIndex++;
    if (entry.position !== null && entry.position === this.options.replay?.stopAfter) this.stopHere();
    const observer = this.options.observer;
    if (!observer?.step) return;
    if (entry.position !== null && entry.position < (this.options.replay?.reportFrom ?? 0)) return;
    observer.step({
      kind,
      origin,
      record: entry.record,
      position: entry.position,
      actual,
      location: location !== undefined || !this.options.replay ? (location ?? null) : appLocation(this.options.realm.filename),
    });
    void index;
  }

  private diverge(
    kind: DivergenceKind,
    entry: Positioned | null,
    actual: unknown,
    message: string,
    location?: SourceLocation | null,
    expected?: unknown,
    stop = true,
    construct: string | null = null,
  ): void {
    if (!this.options.replay) {
      // Recording or resuming: the code disagrees with its own journal. That is
      // nondeterminism the sandbox did not catch; refuse to go on.
      const error = new Error(`nondeterminism detected while resuming session ${this.options.session.id}: ${message}`);
      this.options.live?.nondeterminism?.(`${error.message}; the app was given an error there (replay run ${this.options.session.id} shows the step)`);
      throw error;
    }
    const divergence: Divergence = {
      step: this.stepIndex,
      position: entry?.position ?? null,
      kind,
      expected: expected ?? entry?.record ?? null,
      actual,
      location: location === undefined ? appLocation(this.options.realm.filename) : location,
      construct,
      message,
    };
    this.divergences.push(divergence);
    this.options.observer?.divergence?.(divergence);
    if (stop && !this.options.replay.keepGoing) {
      this.stopped = true;
      this.poke();
    }
  }
}

/** A checkpoint as older recorders journaled their own: this label, no state. */
function isImplicit(record: EffectRecord, label: 'start' | 'response'): record is CheckpointRecord {
  return record.kind === 'checkpoint' && record.label === label && (record.state === null || record.state === undefined);
}

function produce(live: LiveEffects, source: string, args: unknown[]): unknown {
  switch (source) {
    case 'date':
      return live.now();
    case 'performance':
      return live.monotonicNow();
    case 'random-seed':
      return live.randomSeed();
    case 'uuid':
      return live.uuid();
    case 'random-bytes':
      return live.randomBytes(Number(args[0]));
    default:
      throw new TypeError(`unknown value source ${source}`);
  }
}

/**
 * A transaction's or read's function that refuses, inside the transaction (so
 * it rolls back, and is journaled as a function that threw), a result the
 * journal cannot hold: on a resume or retry the app would be served something
 * else than it got live (docs/journal-format.md, section 7).
 */
function journalableResult(body: (db: AppDb) => unknown, construct: string): (db: AppDb) => unknown {
  return (db) => {
    const result = body(db);
    const problem = unjournalable(result, 'the result');
    if (problem !== null) {
      // An async function's rejection is this refusal's, not also an unhandled rejection.
      if (problem === 'the result is a Promise') Promise.resolve(result).catch(() => {});
      throw unjournalableError(`${construct}`, problem);
    }
    return result;
  };
}

function lengthOf(value: unknown): number {
  return value && typeof (value as ArrayLike<number>).length === 'number' ? (value as ArrayLike<number>).length : -1;
}

/** The codes of Node's TypeError for an import() in a vm script (which has no import callback without --experimental-vm-modules). */
const NODE_IMPORT_CODES: ReadonlySet<unknown> = new Set(['ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING', 'ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING_FLAG']);

/** Node's TypeError for an import() in a vm script, as a session recorded before importRefusal journaled it. */
export function isNodeImportError(error: { name: string; message: string }): boolean {
  return error.name === 'TypeError' && /^A dynamic import callback was (not specified|invoked without --experimental-vm-modules)/.test(error.message);
}

/** The construct importRefusal names for an import() in code compiled from a string. */
export const IMPORT_IN_COMPILED_CODE = 'import() in code compiled at run time (eval, new Function)';

/**
 * The error a session fails with for `error`: Node's TypeError for an import()
 * it could not answer becomes a DeterminismError naming the import(), with
 * the TypeError's stack (its first frame is the import's: the TypeError is
 * raised synchronously by the import() expression). The app bundler turns
 * the import()s of the app's source into a require() the sandbox answers
 * (docs/sandbox.md); those that reach Node are in code compiled from a string
 * at run time (eval, new Function), which the bundler never saw, or in a
 * bundle built before it did that. A vm context cannot be given an import
 * callback on Node 20 without --experimental-vm-modules, and eval'd code
 * does not inherit its script's, so the TypeError is what there is to catch.
 * Anything else is returned as it is.
 */
function importRefusal(realm: CodeRealm, error: unknown): unknown {
  if (error === null || typeof error !== 'object' || !NODE_IMPORT_CODES.has((error as { code?: unknown }).code)) return error;
  const stack = (error as { stack?: unknown }).stack;
  // Node's own frames (the callback that threw) are not the app's.
  const frames = (typeof stack === 'string' ? stack.split('\n') : []).filter((line) => /^\s+at /.test(line) && !/[( ]node:/.test(line));
  const compiled = frames.length > 0 && frames[0].includes('(eval at ');
  const refusal = compiled
    ? realm.determinismError(
        IMPORT_IN_COMPILED_CODE,
        "modules are bundled when the app is built, and code compiled from a string is not: import the module in the app's source (a static import, or import('<literal>'))",
      )
    : realm.determinismError('import()', "this bundle was built by an earlier Windback, which left import() to Node (a vm script cannot answer it): record the app again so that its import()s are bundled");
  refusal.stack = `${refusal.name}: ${refusal.message}\n${frames.join('\n')}`;
  return refusal;
}

export function errorInfo(error: unknown, retryable: boolean): ErrorInfo {
  if (error && typeof error === 'object' && 'message' in error) {
    const e = error as { name?: unknown; message?: unknown; stack?: unknown; status?: unknown };
    const info: ErrorInfo = { name: String(e.name ?? 'Error'), message: String(e.message), stack: typeof e.stack === 'string' ? e.stack : null };
    if (retryable) info.retryable = true;
    if (typeof e.status === 'number' && Number.isInteger(e.status)) info.status = e.status;
    return info;
  }
  return { name: 'Error', message: String(error), stack: null };
}

/**
 * The error an app sees when a journaled failure is served: name, message and
 * status as recorded, and the recorded stack (so that an error thrown in a
 * call's function still points at the app line that threw it).
 */
function toError(info: ErrorInfo): Error {
  const error = new Error(info?.message ?? 'call failed') as Error & { status?: number };
  error.name = info?.name ?? 'Error';
  if (typeof info?.status === 'number') error.status = info.status;
  if (typeof info?.stack === 'string') error.stack = info.stack;
  return error;
}

/** Compare values across realms and encodings: plain JSON-like structure, bytes as arrays. */
function normalize(value: unknown): unknown {
  if (value === null || value === undefined) return value ?? null;
  if (typeof value === 'bigint') return { bigint: value.toString() };
  if (typeof value !== 'object') return value;
  if (ArrayBuffer.isView(value)) return { bytes: Array.from(new Uint8Array(value.buffer, value.byteOffset, value.byteLength)) };
  if (Array.isArray(value)) return value.map(normalize);
  if (Object.prototype.toString.call(value) === '[object Date]') return { date: (value as Date).getTime() };
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = normalize(v);
  }
  return out;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function briefText(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(value);
  } catch {
    return String(value);
  }
}

function brief(value: unknown): string {
  const text = briefText(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * Two values that differ, each cut as brief() cuts it, but both from a
 * little before their first difference when it lies past what brief() shows
 * (two requests that differ only in their body, at the end).
 */
function briefPair(a: unknown, b: unknown): [string, string] {
  const [x, y] = [briefText(a), briefText(b)];
  let first = 0;
  while (first < x.length && first < y.length && x[first] === y[first]) first++;
  if (first < 60) return [brief(a), brief(b)];
  const from = first - 30;
  const cut = (text: string): string => `...${text.slice(from, from + 74)}${from + 74 < text.length ? '...' : ''}`;
  return [cut(x), cut(y)];
}
