import { NotFoundError } from '../model/errors.js';
import type { ErrorInfo, Position, ProcessStartRecord, SessionId, TxId } from '../model/records.js';
import { bundleApp, loadStoredBundle, type AppBundle } from '../executor/bundle.js';
import { errorInfo, executeSession, isNodeImportError } from '../executor/execute.js';
import { sessionHistory, type Positioned, type SessionHistory } from '../executor/history.js';
import { CodeRealm } from '../executor/realm.js';
import { renderResponse, rpcIdOf } from '../executor/transports.js';
import type { Divergence, ExecutionObserver, ExecutionStep, ReplayDatabase, SessionErrorBrief } from '../executor/types.js';
import { encodePayload, MAX_PAYLOAD, RecordTooLargeError } from '../journal/index.js';
import { appDb, type SqliteStore } from '../store/index.js';
import { sameRefusal } from '../journal/app-values.js';
import { StateCache, type JournalAccess } from './state.js';

// Re-executes one recorded session, attempt by attempt, in a fresh vm scope
// with the code it was recorded with (or other code), against the database as
// of each transaction it read, and compares what it does with the journal.

export interface ReplayOptions {
  /** Run this app entry instead of the recorded code (a what-if replay). */
  code?: string;
  /** Compare values, digests, return values and checkpoint states too. Default: on for recorded code. */
  strict?: boolean;
  keepGoing?: boolean;
  observer?: ReplayObserver;
  /** Pause an attached debugger at the start of each attempt. */
  pauseAtStart?: boolean;
}

export interface ReplayResult {
  session: SessionId;
  equal: boolean;
  /** Recorded steps compared. */
  steps: number;
  divergence: Divergence | null;
  divergences: Divergence[];
  attempts: number;
}

/** A step of a replay: what the executor reported, numbered as `replay show` numbers the session's records. */
export interface ReplayStep extends ExecutionStep {
  /** 0-based index of the record in `replay show <session>`. */
  step: number;
  /** The attempt being replayed. */
  attempt: number;
  /** An earlier attempt's effect served to this one: its step belongs to that attempt. */
  inherited: boolean;
}

/**
 * What a replay tells as it goes: every step (the response too, rendered
 * from the replayed outcome), every divergence (missing steps and the
 * response too, numbered as the result numbers them), and the result.
 * ExecutionObserver's methods fit, so an executor observer can be passed.
 */
export interface ReplayObserver {
  step?(step: ReplayStep): void;
  divergence?(divergence: Divergence, attempt: number): void;
  end?(result: ReplayResult): void;
}

/** Realms by code version (or entry), and database states, shared by the sessions one process replays. */
export class RealmCache {
  private readonly realms = new Map<string, CodeRealm>();
  private readonly bundles = new Map<string, Promise<AppBundle>>();
  private stateCache: StateCache | null = null;
  /** Process-start records by position (a record at a position never changes). */
  readonly processStarts = new Map<number, ProcessStartRecord>();

  /** The states of the journal this cache serves. States and process starts belong to one journal; realms are content-addressed. */
  states(access: JournalAccess): StateCache {
    this.stateCache ??= new StateCache(access);
    if (this.journalDir !== null && this.journalDir !== access.journalDir) {
      throw new Error(`a RealmCache serves one journal: it holds states of ${this.journalDir}, not ${access.journalDir}`);
    }
    this.journalDir = access.journalDir;
    return this.stateCache;
  }

  private journalDir: string | null = null;

  /** Close the database states kept open for reuse (the realms need nothing). */
  close(): void {
    this.stateCache?.close();
  }

  async realmFor(access: JournalAccess, codeVersion: string, code: string | undefined, zone: { timeZone: string; locale: string }): Promise<CodeRealm> {
    const key = `${code ?? codeVersion}|${zone.timeZone}|${zone.locale}`;
    let realm = this.realms.get(key);
    if (!realm || realm.retired) {
      let bundle: AppBundle;
      if (code) {
        let pending = this.bundles.get(code);
        if (!pending) this.bundles.set(code, (pending = bundleApp(code)));
        bundle = await pending;
      } else {
        bundle = loadStoredBundle(access.journalDir, codeVersion);
      }
      realm = CodeRealm.create(bundle, zone);
      this.realms.set(key, realm);
    }
    return realm;
  }
}

export async function replaySession(access: JournalAccess, id: SessionId, options: ReplayOptions = {}, realms = new RealmCache()): Promise<ReplayResult> {
  const session = SessionReplay.open(access, id, options, realms);
  const keepGoing = options.keepGoing ?? false;
  const state = new ReplayState(realms.states(access));
  const divergences: Divergence[] = [];
  let steps = 0;
  try {
    for (let i = 0; i < session.history.attempts.length; i++) {
      const run = await session.replayAttempt(i, state, { keepGoing, observer: options.observer, pauseAtStart: options.pauseAtStart });
      steps += run.steps;
      divergences.push(...run.divergences);
      if (run.divergences.length > 0 && !keepGoing) break;
    }
  } finally {
    state.close();
  }
  const result: ReplayResult = { session: id, equal: divergences.length === 0, steps, divergence: divergences[0] ?? null, divergences, attempts: session.history.attempts.length };
  options.observer?.end?.(result);
  return result;
}

export interface AttemptRunOptions {
  keepGoing: boolean;
  /**
   * Serve the attempt's own effects before this position as recorded, without
   * re-running them (a checkpoint an earlier run found equal). Default: re-run
   * and compare all of them.
   */
  compareFrom?: Position;
  /** Stop right after the effect at this position (stepping). */
  stopAfter?: Position;
  /** Report no served step before this position (stepping from a checkpoint: they are served as recorded). */
  reportFrom?: Position;
  observer?: ReplayObserver;
  pauseAtStart?: boolean;
}

export interface AttemptRun {
  /** Numbered as `replay show` numbers steps. */
  divergences: Divergence[];
  /** Recorded steps compared: the attempt's own effects from compareFrom, and its response. */
  steps: number;
  /** True when the replay of the attempt reached stopAfter and stopped there. */
  reachedStop: boolean;
}

/** One recorded session, ready to be replayed attempt by attempt (by replaySession and the Stepper). */
export class SessionReplay {
  readonly records: Positioned[];
  readonly history: SessionHistory;
  /** Record position -> 0-based index, as `replay show` numbers them. */
  readonly indexOf: Map<Position, number>;
  /** Per attempt, the index of its opening record (session-start, then each session-attempt). */
  readonly openings: number[];
  readonly strict: boolean;
  private processStart: { record: ProcessStartRecord | null } | null = null;

  private constructor(
    private readonly access: JournalAccess,
    readonly id: SessionId,
    records: Positioned[],
    private readonly code: string | undefined,
    strict: boolean | undefined,
    private readonly realms: RealmCache,
  ) {
    this.records = records;
    this.history = sessionHistory(records);
    this.indexOf = new Map(records.map((r, i) => [r.position, i]));
    this.openings = [0, ...records.flatMap((r, i) => (r.record.kind === 'session-attempt' ? [i] : []))];
    this.strict = strict ?? code === undefined;
  }

  static open(access: JournalAccess, id: SessionId, options: Pick<ReplayOptions, 'code' | 'strict'>, realms: RealmCache): SessionReplay {
    const row = Number.isSafeInteger(id) ? access.catalog.session(id) : null;
    if (!row) throw new NotFoundError(`unknown session ${id}: the journal holds sessions 1 to ${access.catalog.sessionCount()}`);
    if (row.status === 'open') {
      // On a corrupt journal, an open session's records may go on past the
      // damage: replaying what precedes it would pass for a crashed attempt.
      const corrupt = access.catalog.corruptionError(`cannot replay session ${id}: its records may continue past the damage`);
      if (corrupt) throw corrupt;
    }
    return new SessionReplay(access, id, access.reader.sessionRecords(row.lastPosition), options.code, options.strict, realms);
  }

  /** The attempt (0-based) whose records include the step at `index`. */
  attemptOf(index: number): number {
    let i = 0;
    while (i + 1 < this.openings.length && this.openings[i + 1] <= index) i++;
    return i;
  }

  /** Replay attempt `i` (0-based), serving what it inherited, and compare it with the journal. */
  async replayAttempt(i: number, state: ReplayState, run: AttemptRunOptions): Promise<AttemptRun> {
    const { records, indexOf, history } = this;
    const attempt = history.attempts[i];
    const start = history.start.record;
    this.processStart ??= { record: processStartBefore(this.access, history.start.position, this.realms.processStarts) };
    const processStart = this.processStart.record;
    const zone = { timeZone: processStart?.timeZone ?? 'UTC', locale: processStart?.locale ?? 'en-US' };
    const realm = await this.realms.realmFor(this.access, attempt.codeVersion, this.code, zone);
    const attemptStart = i === 0 ? 0 : records[this.openings[i]].position;
    const compareFrom = Math.max(attemptStart, run.compareFrom ?? 0);
    const last = i === history.attempts.length - 1;
    const endsAtCrash = attempt.response === null && !(last && history.end !== null);
    const keepGoing = run.keepGoing;
    const observer = run.observer;

    // Step numbers. A step the journal does not hold (an extra step, a
    // determinism error) is numbered after the furthest own step reached.
    const opening = this.openings[i];
    const end = this.openings[i + 1] ?? records.length;
    const own = (index: number | undefined): index is number => index !== undefined && index > opening && index < end;
    let reached = opening;
    const numbered = (d: Divergence): Divergence => ({ ...d, step: d.position !== null ? (indexOf.get(d.position) ?? records.length) : Math.min(reached + 1, records.length) });
    // Without an observer (and without keepGoing) the replay stops at its first
    // divergence and consumes nothing after it, so numbering afterwards gives
    // the same steps, without the cost of an executor observer.
    const observed = observer !== undefined || keepGoing;
    const seen = new Map<Divergence, Divergence>();
    const executorObserver: ExecutionObserver | undefined = observed
      ? {
          step: (s) => {
            const index = s.position === null ? undefined : indexOf.get(s.position);
            const mine = own(index);
            if (mine) reached = Math.max(reached, index);
            observer?.step?.({ ...s, step: index ?? Math.min(reached + 1, records.length), attempt: attempt.attempt, inherited: !mine });
          },
          divergence: (d) => {
            const n = numbered(d);
            seen.set(d, n);
            observer?.divergence?.(n, attempt.attempt);
          },
        }
      : undefined;

    const outcome = await executeSession({
      realm,
      session: {
        id: this.id,
        kind: start.sessionKind,
        route: start.route,
        input: start.input,
        attempt: attempt.attempt,
        config: processStart?.config ?? {},
        timeZone: zone.timeZone,
        locale: zone.locale,
        keyPrefix: `replay-${this.id}`,
      },
      served: attempt.effects,
      live: null,
      replay: {
        database: state,
        strict: this.strict,
        keepGoing,
        compareFrom,
        stopAfter: run.stopAfter,
        reportFrom: run.reportFrom,
        endsAtCrash,
        recordedError: last ? (history.end?.record.error ?? null) : null,
      },
      observer: executorObserver,
      pauseAtStart: run.pauseAtStart,
    });
    let steps = attempt.effects.filter((e) => e.position >= compareFrom).length;
    if (!observed) {
      const unconsumed = new Set(outcome.unconsumed);
      for (const e of attempt.effects) {
        const index = indexOf.get(e.position);
        if (!unconsumed.has(e) && own(index)) reached = Math.max(reached, index);
      }
    }
    const divergences = outcome.divergences.map((d) => seen.get(d) ?? numbered(d));
    const done = (): AttemptRun => ({ divergences, steps, reachedStop: outcome.reachedStop });
    const report = (d: Divergence): void => {
      divergences.push(d);
      observer?.divergence?.(d, attempt.attempt);
    };
    if (divergences.length > 0 && !keepGoing) return done();
    // The replay's own error, and the recorded one, for the divergences it explains.
    // Not for a run to a step (the TUI's stepper): one that stops there leaves the app mid-flight, and what it throws then is the stop's doing.
    const replayedError = outcome.status === 'ok' || run.stopAfter !== undefined ? null : briefError(outcome.error);
    const recordedError = last && attempt.response !== null ? briefError(history.end?.record.error) : null;
    const errors = replayedError || recordedError ? { errors: { recorded: recordedError, replayed: replayedError } } : {};
    const threw = replayedError ? `; the replay threw ${replayedError.name}: ${firstLine(replayedError.message)}` : '';
    if (!outcome.stopped) {
      const missing = outcome.unconsumed.filter((e) => e.position >= compareFrom);
      if (missing.length > 0 && !outcome.stalled) {
        report({
          step: indexOf.get(missing[0].position) ?? records.length,
          position: missing[0].position,
          kind: 'missing-step',
          expected: missing[0].record,
          actual: null,
          // Where the replay threw, when it did: that is where it ended.
          location: replayedError?.location ?? null,
          construct: null,
          message: `the replay ended without the recorded ${missing[0].record.kind} at position ${missing[0].position}${threw}`,
          ...errors,
        });
        if (!keepGoing) return done();
      }
    }
    if (attempt.response && !outcome.stopped) {
      steps++;
      const recorded = attempt.response.record;
      const step = indexOf.get(attempt.response.position) ?? records.length;
      const rendered = renderResponse(start.transport, { ok: outcome.status === 'ok', output: outcome.output, error: outcome.thrown, rpcId: rpcIdOf(start.meta) });
      const actual = { status: rendered.status, body: Buffer.from(rendered.body).toString('utf8') };
      observer?.step?.({ kind: 'response', origin: 'served', record: recorded, position: attempt.response.position, actual, location: null, step, attempt: attempt.attempt, inherited: false });
      if (rendered.status !== recorded.status || !Buffer.from(rendered.body).equals(Buffer.from(recorded.body))) {
        report({
          step,
          position: attempt.response.position,
          kind: 'response',
          expected: { status: recorded.status, body: Buffer.from(recorded.body).toString('utf8') },
          actual,
          location: replayedError?.location ?? null,
          construct: null,
          message:
            (rendered.status !== recorded.status
              ? `the response differs: recorded status ${recorded.status}, replayed ${rendered.status}`
              : `the response body differs (status ${recorded.status} both times): recorded ${recorded.body.byteLength} bytes, replayed ${rendered.body.byteLength}`) + threw,
          ...errors,
        });
        return done();
      }
      // The error the session ended with: the handler's, or the one its response was replaced by (an outcome that could not be rendered, or too large).
      const endedWith = rendered.replacedBy !== undefined ? briefError(errorInfo(rendered.replacedBy, false)) : replayedError;
      if (recordedError && endedWith && !sameError(recordedError, endedWith)) {
        // A 500 says only that the session failed: the same bytes for any error. The journal says which.
        report({
          step,
          position: attempt.response.position,
          kind: 'response',
          expected: { error: { name: recordedError.name, message: recordedError.message } },
          actual: { error: { name: endedWith.name, message: endedWith.message } },
          location: endedWith.location,
          construct: null,
          message: `the session failed with a different error: recorded ${recordedError.name}: ${firstLine(recordedError.message)}; replayed ${endedWith.name}: ${firstLine(endedWith.message)}`,
          ...errors,
        });
      }
    }
    return done();
  }
}

function briefError(error: ErrorInfo | null | undefined): SessionErrorBrief | null {
  if (!error) return null;
  return { name: error.name, message: error.message, location: error.location ?? null };
}

/**
 * The same failure: name and message (a record too large is sized again on
 * replay, where a few header bytes differ; a refused value's advice may be
 * worded differently). Node's TypeError for an import() in a vm script, as
 * sessions recorded before it became a DeterminismError journaled it, is that
 * DeterminismError.
 */
function sameError(recorded: SessionErrorBrief, replayed: SessionErrorBrief): boolean {
  if (isNodeImportError(recorded) && replayed.name === 'DeterminismError' && replayed.message.startsWith('import()')) return true;
  if (recorded.name !== replayed.name) return false;
  return recorded.message === replayed.message || recorded.name === RecordTooLargeError.name || sameRefusal(recorded.message, replayed.message);
}

function firstLine(text: string): string {
  const line = text.split('\n')[0];
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

function processStartBefore(access: JournalAccess, position: number, known: Map<number, ProcessStartRecord>): ProcessStartRecord | null {
  const rows = access.catalog.processStarts().filter((p) => p.position < position);
  const row = rows[rows.length - 1];
  if (!row) return null;
  let record = known.get(row.position);
  if (record === undefined) {
    record = access.reader.readAt(row.position).record as ProcessStartRecord;
    known.set(row.position, record);
  }
  return record;
}

/** The replay side of transactions: re-run each against the state as of the transaction it read. */
export class ReplayState implements ReplayDatabase {
  private store: SqliteStore | null = null;
  /** The store holds replayed changes that differ from the recording. */
  private dirty = false;

  constructor(private readonly states: StateCache) {}

  private at(tx: TxId): SqliteStore {
    if (this.store && (this.dirty || this.store.lastAppliedTx !== tx)) this.giveBack();
    // A clean store (the recorded state) goes back to the shared pool; the pool's nearest one serves the next step.
    this.store ??= this.states.acquire(tx);
    return this.store;
  }

  private giveBack(): void {
    if (!this.store) return;
    if (this.dirty) this.store.close();
    else this.states.release(this.store);
    this.store = null;
    this.dirty = false;
  }

  write(recorded: Parameters<ReplayDatabase['write']>[0], body: Parameters<ReplayDatabase['write']>[1]): ReturnType<ReplayDatabase['write']> {
    const store = this.at(recorded.tx - 1);
    const r = store.write(recorded.tx, (db) => body(appDb(db)));
    // Later steps must see the recorded state; replayed changes that differ are discarded.
    this.dirty = JSON.stringify(r.changes, bigintText) !== JSON.stringify(recorded.changes, bigintText);
    return { changes: r.changes, readDigest: r.readDigest, result: r.result };
  }

  read(recorded: Parameters<ReplayDatabase['read']>[0], body: Parameters<ReplayDatabase['read']>[1]): ReturnType<ReplayDatabase['read']> {
    const r = this.at(recorded.readAtTx).read((db) => body(appDb(db)));
    return { readDigest: r.readDigest, result: r.result };
  }

  attempt(recorded: Parameters<ReplayDatabase['attempt']>[0], body: Parameters<ReplayDatabase['attempt']>[1], write: boolean): void {
    const store = this.at(recorded.readAtTx);
    if (!write) {
      store.read((db) => body(appDb(db)));
      return;
    }
    // Expected to throw and roll back; if it commits, the state is not the recording's any more.
    const tx = recorded.readAtTx + 1;
    store.write(tx, (db) => body(appDb(db)), recorded.error?.name === RecordTooLargeError.name ? (r) => refuseAsTheJournalDid(tx, r) : undefined);
    this.dirty = true;
  }

  close(): void {
    this.giveBack();
  }
}

/**
 * A transaction the recorder rolled back because the journal refused its
 * record (too large): refuse the replayed one the same way, by the size of
 * the record it would make, so that it rolls back and throws the same.
 */
function refuseAsTheJournalDid(tx: TxId, r: { changes: unknown; readDigest: Uint8Array; result: unknown }): void {
  const { payload } = encodePayload({ kind: 'write-tx', session: 0, prev: null, tx, committedAt: 0, readAtTx: tx - 1, changes: r.changes as never, readDigest: r.readDigest, result: r.result, migration: null, randomDraws: 0 });
  if (payload.byteLength > MAX_PAYLOAD) throw new RecordTooLargeError('write-tx', payload.byteLength);
}

function bigintText(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return `${value}n`;
  if (value && typeof value === 'object' && ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  return value;
}
