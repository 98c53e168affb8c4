import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Divergence } from '../executor/types.js';
import { NotFoundError, OutOfRangeError, UsageError } from '../model/errors.js';
import type { JournalRecord, Position, SessionId, TxId, WriteTxRecord } from '../model/records.js';
import type { RealmCache, ReplayStep } from '../replay/engine.js';
import type { Stepper, StepState } from '../replay/stepper.js';
import { openJournal, parseSessionId, type OpenJournal } from './journal-access.js';
import { ReplayChild, type DebuggerFeed } from './replay-child.js';
import { summarize } from './show.js';
import type { SessionListStatus } from './sessions.js';
import { isoTime, isoTimeOrNull, parseTime, parseWholeNumber } from './time.js';

// What `replay tui` shows, as plain data: the transactions of the timeline,
// the sessions alive at one of them, a session's steps as the journal holds
// them, and the trace of re-executing it with the replay engine. It knows
// nothing of ink; every value it hands out is display-ready JSON (bigints as
// "12n", bytes as "<n bytes: hex>", response bodies decoded). The selected
// step's state comes from the stepping API (`stepTo`), which re-executes the
// session up to that step on every move.

/** A JSON value, as the TUI shows it. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface TxView {
  tx: TxId;
  position: Position;
  /** Commit time, ISO-8601. */
  at: string;
  atMs: number;
  /** The session that committed it, or null for a migration. */
  session: SessionId | null;
  sessionKind: string | null;
  migration: string | null;
  /** Row changes per table, in first-touched order. */
  tables: { table: string; rows: number }[];
}

export interface AliveView {
  id: SessionId;
  kind: string;
  /** The session's final status (ok | error | aborted), or open. */
  status: SessionListStatus;
  startedAt: string;
  /** How long it had been running when the transaction committed, in ms. */
  ageMs: number;
  /** Its last checkpoint before the transaction, or null: none yet (shown as "(start)"). */
  lastCheckpoint: { label: string; position: Position } | null;
  /** Write transactions it committed up to and including this one. */
  txs: TxId[];
}

export interface SessionInfo {
  id: SessionId;
  kind: string;
  route: string;
  status: SessionListStatus;
  startedAt: string;
  endedAt: string | null;
  attempts: number;
  /** Write transactions it committed. */
  txs: TxId[];
}

/** One record of a session, as `replay show` numbers it. */
export interface StepRow {
  /** 0-based, as divergences number them. */
  index: number;
  attempt: number;
  kind: JournalRecord['kind'];
  position: Position;
  /** The write transaction's id, or null. */
  tx: TxId | null;
  at: string | null;
  summary: string;
  /** The record in display form. */
  record: { [key: string]: Json };
}

export interface SessionSteps {
  session: SessionInfo;
  rows: StepRow[];
}

export interface TuiDivergence {
  /** The step, as `replay show` numbers them; for a step the journal does not hold, where it would stand. */
  step: number;
  /** Position of the recorded record that differs; null for a step the journal does not hold. */
  position: Position | null;
  kind: string;
  message: string;
  expected: Json;
  actual: Json;
  /** file:line:column in the app's source, or null. */
  location: string | null;
  construct: string | null;
}

/**
 * What the replay engine reported, in order: every step (the response too,
 * its `actual` the replayed {status, body}), every divergence, and the end.
 * An `inherited` step is an earlier attempt's effect served to a later one:
 * its `step` is that earlier attempt's record.
 */
export type ReplayEvent =
  | { type: 'step'; step: number; attempt: number; inherited: boolean; kind: string; position: Position | null; actual: Json | undefined; location: string | null }
  | { type: 'divergence'; attempt: number; divergence: TuiDivergence }
  | { type: 'end'; equal: boolean; steps: number };

export interface ReplayTrace {
  session: SessionId;
  /** The engine's observer events, in the order they came. */
  events: ReplayEvent[];
  equal: boolean;
  /** The result's divergences (the same ones the events carry). */
  divergences: TuiDivergence[];
  /** The replay threw (a missing bundle, a bug); the events are what came before. */
  error: string | null;
  /** Wall time of the re-execution, ms (0 when served from the cache). */
  ms: number;
  /** True when this trace came from the cache rather than a re-execution. */
  cached: boolean;
}

export interface ReplayListener {
  event?(event: ReplayEvent): void;
}

/** A step's state as the stepping API re-executed it (src/replay/stepper.ts, StepState), in display form. */
export interface StepView {
  session: SessionId;
  /** The step, as `replay show` numbers them. */
  index: number;
  attempt: number;
  /** info: a record that is not compared (start, attempt, end); nothing re-executed. */
  verdict: 'equal' | 'diverged' | 'not-reached' | 'info';
  /** What the re-execution produced (a transaction's changes, a read's result, the response), or null. */
  actual: Json | null;
  location: string | null;
  divergence: TuiDivergence | null;
  /** The session's checkpoint in force at the step (the journal's latest at or before it), or null: none yet, it runs from its start. */
  checkpoint: { step: number; label: string; state: Json } | null;
  /** The re-execution: the step it ran from (the attempt's opening record or a checkpoint), attempts run, ms. */
  ran: { from: number; attempts: number; ms: number } | null;
}

/** What the TUI needs from a journal. TuiData implements it over a real one. */
export interface TuiSource {
  readonly journal: string;
  readonly code: string | null;
  /** First and last write transaction (0 and 0 when there are none). */
  range(): { first: TxId; last: TxId };
  tx(tx: TxId): TxView;
  alive(tx: TxId): AliveView[];
  /** A transaction id, or an ISO-8601 time (the last transaction committed at or before it). */
  resolveTx(text: string): TxId;
  /** Where to start for a session given alone: its first write transaction, else the first one committed while it ran. */
  txForSession(session: SessionId): TxId;
  steps(session: SessionId): SessionSteps;
  /** Re-execute a session (or serve its cached trace); `fresh` always re-executes. */
  replay(session: SessionId, listener?: ReplayListener, options?: { fresh?: boolean }): Promise<ReplayTrace>;
  /** Re-execute a session up to and including `step` (the stepping API): the state there. */
  stepTo(session: SessionId, step: number): Promise<StepView>;
  /** Under --inspect: the debugger the replays run under (in a child process); else null. */
  readonly debugger?: DebuggerFeed | null;
  /** Set when the journal is corrupt: what the TUI shows stops at the damage, and this says where it is. */
  readonly damage?: string | null;
  close(): void;
}

export interface TuiDataOptions {
  journal: string;
  /** Replay with this app entry instead of the recorded code (a what-if replay). */
  code?: string;
  /** Traces kept for instant back-stepping and revisits (default 32 sessions). */
  cacheSessions?: number;
  /**
   * Replay under the Node inspector listening here (host:port, port 0: a
   * free one), in a child process, each session paused at its start.
   */
  inspect?: string;
  /** Pause an attached debugger where each replayed session starts (the child of --inspect replays in process with this). */
  pauseAtStart?: boolean;
}

/** Steppers kept (each knows the checkpoints its moves reached cleanly, so moves back are short). */
const STEPPERS = 8;

interface Engine {
  replaySession: typeof import('../replay/engine.js').replaySession;
  Stepper: typeof Stepper;
  realms: RealmCache;
}

export class TuiData implements TuiSource {
  /** The replay engine and its realms, loaded on the first replay or step (the first frame does not wait for them). */
  private engine: Promise<Engine> | null = null;
  private readonly traces = new Map<SessionId, ReplayTrace>();
  private readonly stepsCache = new Map<SessionId, SessionSteps>();
  private readonly steppers = new Map<SessionId, Stepper>();
  /** In-process engine work (replays, step moves) runs one at a time: the realms and database states are shared. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Under --inspect, replays in the child, one at a time; step moves stay on `queue`, in this process. */
  private childQueue: Promise<unknown> = Promise.resolve();
  private closed = false;

  /** One status-bar line, short enough for 80 columns: where the damage is (`replay info` and `replay repair` say the rest). */
  get damage(): string | null {
    const corrupt = this.journalAccess.catalog.corruptionError('damaged journal');
    return corrupt === null ? null : `journal corrupt at position ${corrupt.offset}: shown up to there`;
  }

  /** Under --inspect, the child process the replays run in. */
  private readonly child: ReplayChild | null;

  private constructor(
    private readonly journalAccess: OpenJournal,
    readonly journal: string,
    readonly code: string | null,
    private readonly cacheSessions: number,
    private readonly pauseAtStart: boolean,
    inspect: string | undefined,
  ) {
    this.child = inspect === undefined ? null : ReplayChild.start({ journal, code, address: inspect });
  }

  get debugger(): DebuggerFeed | null {
    return this.child;
  }

  /** Resolves when replays can start: at once in process; under --inspect once the inspector listens (rejects with why not). */
  ready(): Promise<void> {
    return this.child ? this.child.ready() : Promise.resolve();
  }

  static open(options: TuiDataOptions): TuiData {
    const code = options.code === undefined ? null : path.resolve(options.code);
    if (code !== null && !fs.existsSync(code)) throw new UsageError(`--code ${options.code}: no such file`);
    const access = openJournal(options.journal);
    try {
      // Not sessionCount(): count(*) scans every row (10-20 ms on 1M sessions) before the first frame.
      if (access.catalog.sessions({ limit: 1 }).length === 0) throw new NotFoundError(`the journal at ${access.journalDir} holds no sessions yet`);
    } catch (error) {
      access.close();
      throw error;
    }
    try {
      return new TuiData(access, access.journalDir, code, options.cacheSessions ?? 32, options.pauseAtStart ?? false, options.inspect);
    } catch (error) {
      access.close();
      throw error;
    }
  }

  private get catalog(): OpenJournal['catalog'] {
    return this.journalAccess.catalog;
  }

  range(): { first: TxId; last: TxId } {
    return { first: this.catalog.firstTx(), last: this.catalog.lastTx };
  }

  tx(tx: TxId): TxView {
    const row = this.catalog.tx(tx);
    if (!row) throw new OutOfRangeError(`tx ${tx} is not in the journal (${this.describeRange()})`);
    const record = this.journalAccess.reader.readAt(row.position).record as WriteTxRecord;
    const tables = new Map<string, number>();
    for (const change of record.changes) tables.set(change.table, (tables.get(change.table) ?? 0) + 1);
    return {
      tx: row.tx,
      position: row.position,
      at: isoTime(row.committedAt),
      atMs: row.committedAt,
      session: row.session,
      sessionKind: row.session === null ? null : (this.catalog.session(row.session)?.kind ?? null),
      migration: row.migration,
      tables: [...tables].map(([table, rows]) => ({ table, rows })),
    };
  }

  alive(tx: TxId): AliveView[] {
    const row = this.catalog.tx(tx);
    if (!row) throw new OutOfRangeError(`tx ${tx} is not in the journal (${this.describeRange()})`);
    return this.catalog.aliveAt(row.tx, row.position).map((s) => ({
      id: s.id,
      kind: s.kind,
      status: s.status as SessionListStatus,
      startedAt: isoTime(s.startedAt),
      ageMs: Math.max(0, row.committedAt - s.startedAt),
      lastCheckpoint: s.lastCheckpoint,
      txs: s.txs,
    }));
  }

  resolveTx(text: string): TxId {
    const trimmed = text.trim().replace(/^tx\s*/i, '');
    const { first, last } = this.range();
    if (last === 0) throw new OutOfRangeError('the journal holds no write transactions');
    if (/^\d+$/.test(trimmed)) {
      const tx = Number(trimmed);
      if (tx < first || tx > last) throw new OutOfRangeError(`tx ${tx} is out of range: ${this.describeRange()}`);
      return tx;
    }
    // Short: the TUI shows these on one line, after what was typed.
    if (trimmed === '') throw new UsageError('type a transaction id or an ISO-8601 time');
    let ms: number;
    try {
      ms = parseTime(trimmed, 'the time');
    } catch {
      throw new UsageError('not a tx id nor an ISO-8601 time (2026-11-24T09:30Z)');
    }
    const row = this.catalog.lastTxAtOrBefore(ms);
    if (!row) throw new OutOfRangeError(`none committed by then: tx ${first} at ${isoTime(this.catalog.tx(first)!.committedAt)}`);
    return row.tx;
  }

  txForSession(session: SessionId): TxId {
    const row = this.catalog.session(session);
    if (!row) throw this.unknownSession(session);
    const own = this.catalog.txsOf(session);
    const { first, last } = this.range();
    if (last === 0) throw new OutOfRangeError('the journal holds no write transactions');
    if (own.length > 0) return own[0].tx;
    return Math.min(last, Math.max(first, row.startedAfterTx + 1));
  }

  steps(session: SessionId): SessionSteps {
    const cached = this.stepsCache.get(session);
    if (cached) return cached;
    const row = this.catalog.session(session);
    if (!row) throw this.unknownSession(session);
    let attempt = 1;
    const rows = this.journalAccess.reader.sessionRecords(row.lastPosition).map((entry, index): StepRow => {
      const record = entry.record;
      if (record.kind === 'session-attempt') attempt = record.attempt;
      return {
        index,
        attempt,
        kind: record.kind,
        position: entry.position,
        tx: record.kind === 'write-tx' ? record.tx : null,
        at: isoTimeOrNull(timeOf(record)),
        summary: summarize(record),
        record: recordView(record),
      };
    });
    const steps: SessionSteps = {
      session: {
        id: row.id,
        kind: row.kind,
        route: row.route,
        status: row.status as SessionListStatus,
        startedAt: isoTime(row.startedAt),
        endedAt: isoTimeOrNull(row.endedAt),
        attempts: row.attempts,
        txs: this.catalog.txsOf(session).map((t) => t.tx),
      },
      rows,
    };
    this.remember(this.stepsCache, session, steps);
    return steps;
  }

  replay(session: SessionId, listener: ReplayListener = {}, options: { fresh?: boolean } = {}): Promise<ReplayTrace> {
    const run = async (): Promise<ReplayTrace> => {
      const cached = options.fresh ? undefined : this.traces.get(session);
      if (cached) {
        this.remember(this.traces, session, cached);
        for (const event of cached.events) listener.event?.(event);
        return { ...cached, cached: true, ms: 0 };
      }
      if (!this.catalog.session(session)) throw this.unknownSession(session);
      const events: ReplayEvent[] = [];
      const emit = (event: ReplayEvent): void => {
        events.push(event);
        listener.event?.(event);
      };
      const started = performance.now();
      let trace: ReplayTrace;
      try {
        if (this.child) {
          const result = await this.child.replay(session, emit);
          return this.keep({ ...result, session, events, cached: false });
        }
        const { replaySession, realms } = await this.loadEngine();
        // The stepper learns the checkpoints this replay reaches cleanly, so the first step move is short too.
        const learner = (await this.stepperFor(session)).learner();
        const result = await replaySession(
          this.journalAccess,
          session,
          {
            code: this.code ?? undefined,
            pauseAtStart: this.pauseAtStart,
            observer: {
              step: (step) => {
                learner.step?.(step);
                emit(stepEvent(step));
              },
              divergence: (d, attempt) => {
                learner.divergence?.(d, attempt);
                emit({ type: 'divergence', attempt, divergence: divergenceView(d) });
              },
              end: (r) => {
                learner.end?.(r);
                emit({ type: 'end', equal: r.equal, steps: r.steps });
              },
            },
          },
          realms,
        );
        trace = { session, events, equal: result.equal, divergences: result.divergences.map(divergenceView), error: null, ms: performance.now() - started, cached: false };
      } catch (error) {
        trace = { session, events, equal: false, divergences: [], error: firstLine(error), ms: performance.now() - started, cached: false };
      }
      return this.keep(trace);
    };
    return this.child ? this.inChild(run) : this.inProcess(run);
  }

  /**
   * Every call re-executes (Stepper.goto): from the nearest checkpoint an
   * earlier move of this session's stepper reached cleanly, else from the
   * attempt's start. Under --inspect it still runs here, not in the child:
   * see docs/tui.md, "Stepping".
   */
  stepTo(session: SessionId, step: number): Promise<StepView> {
    return this.inProcess(async () => {
      if (this.closed) throw new Error('the journal is closed');
      const stepper = await this.stepperFor(session);
      return stepView(session, await stepper.goto(step));
    });
  }

  /** The session's stepper, kept for the next moves. Call inside the in-process queue: an evicted stepper has no move in flight. */
  private async stepperFor(session: SessionId): Promise<Stepper> {
    const { Stepper, realms } = await this.loadEngine();
    let stepper = this.steppers.get(session);
    this.steppers.delete(session);
    stepper ??= Stepper.open(this.journalAccess, session, { code: this.code ?? undefined, realms });
    this.steppers.set(session, stepper);
    while (this.steppers.size > STEPPERS) {
      const [oldest, evicted] = this.steppers.entries().next().value as [SessionId, Stepper];
      this.steppers.delete(oldest);
      evicted.close();
    }
    return stepper;
  }

  close(): void {
    this.closed = true;
    for (const stepper of this.steppers.values()) stepper.close();
    this.steppers.clear();
    this.child?.close();
    this.journalAccess.close();
  }

  private loadEngine(): Promise<Engine> {
    this.engine ??= Promise.all([import('../replay/engine.js'), import('../replay/stepper.js')]).then(([engine, stepper]) => ({
      replaySession: engine.replaySession,
      Stepper: stepper.Stepper,
      realms: new engine.RealmCache(),
    }));
    return this.engine;
  }

  private inProcess<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private inChild<T>(work: () => Promise<T>): Promise<T> {
    const next = this.childQueue.then(work, work);
    this.childQueue = next.catch(() => undefined);
    return next;
  }

  private keep(trace: ReplayTrace): ReplayTrace {
    if (!this.closed) this.remember(this.traces, trace.session, trace);
    return trace;
  }

  private remember<V>(cache: Map<SessionId, V>, key: SessionId, value: V): void {
    cache.delete(key);
    cache.set(key, value);
    while (cache.size > this.cacheSessions) cache.delete(cache.keys().next().value as SessionId);
  }

  private describeRange(): string {
    const { first, last } = this.range();
    return last === 0 ? 'the journal holds no write transactions' : `the journal holds tx ${first} to ${last}`;
  }

  private unknownSession(session: SessionId): NotFoundError {
    return new NotFoundError(`unknown session ${session}: the journal holds ${this.catalog.sessionCount()} sessions`);
  }
}

export interface TuiStartOptions extends TuiDataOptions {
  /** A write transaction id. At most one of tx and at. */
  tx?: string;
  /** ISO-8601: the last transaction committed at or before it. */
  at?: string;
  session?: string;
}

export interface TuiStart {
  source: TuiData;
  /** Where the timeline starts (undefined: the last transaction). */
  tx: TxId | undefined;
  session: SessionId | undefined;
}

/**
 * Open a journal for `replay tui` and work out where it starts. Every bad
 * flag, unknown session or missing file fails here, before the screen
 * changes. Close `source` when done.
 */
export function openTui(options: TuiStartOptions): TuiStart {
  if (options.tx !== undefined && options.at !== undefined) throw new UsageError('give either --tx or --at, not both');
  const tx = options.tx === undefined ? undefined : String(parseWholeNumber(options.tx, '--tx', 'a transaction id (a whole number from 1)', 1));
  if (options.at !== undefined) parseTime(options.at, '--at');
  let session: SessionId | undefined;
  if (options.session !== undefined) {
    session = parseSessionId(options.session);
    if (Number.isNaN(session)) throw new UsageError(`--session must be a session id (a whole number from 1), got "${options.session}"`);
  }
  const source = TuiData.open(options);
  try {
    if (session !== undefined) source.steps(session);
    const at = tx ?? options.at;
    const start = at !== undefined ? source.resolveTx(at) : session !== undefined ? source.txForSession(session) : undefined;
    return { source, tx: start, session };
  } catch (error) {
    source.close();
    throw error;
  }
}

// --- display form ----------------------------------------------------------------

function timeOf(record: JournalRecord): number | null {
  if (record.kind === 'write-tx') return record.committedAt;
  return 'at' in record && typeof record.at === 'number' ? record.at : null;
}

/** A record as the TUI shows it; a response's body decoded (JSON when it parses). */
export function recordView(record: JournalRecord): { [key: string]: Json } {
  const view = toJson(record) as { [key: string]: Json };
  if (record.kind === 'response') view.body = bodyView(record.body);
  return view;
}

/** A response body: parsed JSON, else UTF-8 text, else bytes. */
export function bodyView(body: Uint8Array | string): Json {
  const text = typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  try {
    return toJson(JSON.parse(text));
  } catch {
    return typeof body !== 'string' && Buffer.from(text, 'utf8').length !== body.byteLength ? toJson(body) : text;
  }
}

/** Any value as display JSON: bigints as "12n", bytes as "<n bytes: hex>". */
export function toJson(value: unknown, seen = new Set<unknown>()): Json {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'bigint':
      return `${value}n`;
    case 'function':
    case 'symbol':
      return String(value);
  }
  if (ArrayBuffer.isView(value)) {
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return `<${bytes.length} bytes${bytes.length ? `: ${bytes.toString('hex')}` : ''}>`;
  }
  if (seen.has(value)) return '<circular>';
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => toJson(v, seen));
    if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), toJson(v, seen)]));
    if (value instanceof Date) return Number.isFinite(value.getTime()) ? value.toISOString() : String(value);
    if (value instanceof Error) return { name: value.name, message: value.message };
    const out: { [key: string]: Json } = {};
    for (const [k, v] of Object.entries(value as object)) {
      if (v !== undefined) out[k] = toJson(v, seen);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

function locationText(location: { file: string; line: number; column: number } | null): string | null {
  if (!location) return null;
  const relative = path.relative(process.cwd(), location.file);
  const file = relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : location.file;
  return `${file}:${location.line}:${location.column}`;
}

function stepEvent(step: ReplayStep): ReplayEvent {
  return {
    type: 'step',
    step: step.step,
    attempt: step.attempt,
    inherited: step.inherited,
    kind: step.kind,
    position: step.position,
    actual: step.actual === undefined ? undefined : step.kind === 'response' ? responseSide(step.actual) : toJson(step.actual),
    location: locationText(step.location),
  };
}

function stepView(session: SessionId, s: StepState): StepView {
  return {
    session,
    index: s.index,
    attempt: s.attempt,
    verdict: s.verdict,
    actual: s.actual === null || s.actual === undefined ? null : s.step.kind === 'response' ? responseSide(s.actual) : toJson(s.actual),
    location: locationText(s.location),
    divergence: s.divergence ? divergenceView(s.divergence) : null,
    checkpoint: s.checkpoint ? { step: s.checkpoint.step, label: s.checkpoint.label, state: toJson(s.checkpoint.state) } : null,
    ran: s.ran,
  };
}

function divergenceView(d: Divergence): TuiDivergence {
  const response = d.kind === 'response';
  return {
    step: d.step,
    position: d.position,
    kind: d.kind,
    message: d.message,
    expected: response ? responseSide(d.expected) : toJson(d.expected),
    actual: response ? responseSide(d.actual) : toJson(d.actual),
    location: locationText(d.location),
    construct: d.construct,
  };
}

/** The engine reports a response as {status, body: text}; show the body parsed. */
function responseSide(value: unknown): Json {
  if (!value || typeof value !== 'object') return toJson(value);
  const { status, body } = value as { status?: unknown; body?: unknown };
  return { status: toJson(status), body: typeof body === 'string' ? bodyView(body) : toJson(body) };
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split('\n').find((l) => l.trim() !== '') ?? message).trim();
}
