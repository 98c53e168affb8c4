import type {
  AppendableRecord,
  ErrorInfo,
  JournalRecord,
  Position,
  ReadTxRecord,
  RowChange,
  SessionId,
  TxId,
  WriteTxRecord,
} from '../model/records.js';
import type { SourceLocation } from './source-maps.js';

// The executor's contracts with its two users: the runtime (recording and
// resume: effects live and journaled) and replay (effects served and
// compared). One executor, two policies (DESIGN.md, "executor").

/** A record as the executor hands it to the journal: the session and prev pointer are filled in by SessionJournal. */
export type SessionRecordDraft = DistributiveOmit<Extract<AppendableRecord, { session: unknown }>, 'session' | 'prev'>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface AppendResult {
  position: Position;
  durable: Promise<void>;
}

/** Appends a session's records, keeping its `prev` chain. */
export interface SessionJournal {
  append(draft: SessionRecordDraft): AppendResult;
}

/** The database side of a live transaction (the runtime's store plus its tx sequencer). */
export interface LiveDatabase {
  /** The last transaction committed. */
  readonly lastTx: TxId;
  /**
   * Run `body` as the next write transaction. `journal` is called with its
   * outcome before it commits (write-ahead): if it throws (the record is too
   * large for the journal, the journal failed), the transaction rolls back
   * and the error propagates, so the database is never ahead of the journal.
   */
  write<T>(body: (db: AppDb) => T, journal: (committing: LiveWrite<T>) => void): LiveWrite<T>;
  read<T>(body: (db: AppDb) => T): { readAtTx: TxId; readDigest: Uint8Array; result: T };
}

/** A live write transaction's outcome. */
export interface LiveWrite<T> {
  tx: TxId;
  committedAt: number;
  readAtTx: TxId;
  changes: RowChange[];
  readDigest: Uint8Array;
  result: T;
}

/** What a transaction body sees: the app API's ReadDb/WriteDb. */
export interface AppDb {
  all(sql: string, ...params: unknown[]): unknown[];
  get(sql: string, ...params: unknown[]): unknown;
  run(sql: string, ...params: unknown[]): { changes: number; lastInsertRowid: number | bigint };
}

/** Where live effects come from while recording (or after a resume has used up the journal). */
export interface LiveEffects {
  journal: SessionJournal;
  database: LiveDatabase;
  /** Performs an external call; `name` is 'fetch' or an app-defined call name. */
  call(name: string, request: unknown, idempotencyKey: string): Promise<unknown>;
  now(): number;
  monotonicNow(): number;
  randomSeed(): number[];
  uuid(): string;
  randomBytes(length: number): Uint8Array;
  log(level: string, args: readonly unknown[]): void;
  /**
   * The code asked for an effect other than the one the journal holds there
   * (a resumed or retried attempt that does not do what the attempt it
   * re-runs did): told before the app gets it as an error, which may not
   * say so (a fetch() fails with "TypeError: fetch failed").
   */
  nondeterminism?(message: string): void;
  /**
   * What the journal holds of a value: the app's secrets replaced by their
   * placeholders. Absent when the app has none. A resumed session compares
   * its calls with the journal's through it: the journal never held the
   * secret, only its placeholder.
   */
  redact?(value: unknown): unknown;
}

/** How replay re-runs a served transaction against the rebuilt state, for comparison. */
export interface ReplayDatabase {
  write(recorded: WriteTxRecord, body: (db: AppDb) => unknown): { changes: RowChange[]; readDigest: Uint8Array; result: unknown };
  read(recorded: ReadTxRecord, body: (db: AppDb) => unknown): { readDigest: Uint8Array; result: unknown };
  /** Re-run a transaction or read whose function threw when recorded; throws what it throws now, writes nothing. */
  attempt(recorded: ReadTxRecord, body: (db: AppDb) => unknown, write: boolean): void;
}

/** 'response' is reported by the replay engine (the rendered outcome), never by the executor. */
export type StepKind = 'value' | 'call' | 'call-result' | 'timer' | 'tx' | 'read' | 'checkpoint' | 'response';

/** One effect as it happened during an execution, for observers (the TUI, `replay show`). */
export interface ExecutionStep {
  kind: StepKind;
  /** 'served' from the journal, or 'live' (performed and journaled now). */
  origin: 'served' | 'live';
  record: JournalRecord;
  position: Position | null;
  /** For replayed transactions and reads: what the re-execution produced. */
  actual?: unknown;
  location: SourceLocation | null;
}

export type DivergenceKind =
  | 'value'
  | 'call'
  | 'tx'
  | 'read'
  | 'checkpoint'
  | 'response'
  | 'missing-step'
  | 'extra-step'
  | 'determinism';

export interface Divergence {
  /** 0-based index of the step, as `replay show` numbers them. */
  step: number;
  /** Position of the recorded record that differs, or null for an extra step. */
  position: Position | null;
  kind: DivergenceKind;
  expected: unknown;
  actual: unknown;
  location: SourceLocation | null;
  construct: string | null;
  message: string;
  /**
   * Where the replay ended differently because the session failed (a
   * missing step or a different response): the session's error when
   * recorded and when replayed (null: it did not fail). A failed session's
   * response only says that it failed. Absent when neither failed.
   */
  errors?: { recorded: SessionErrorBrief | null; replayed: SessionErrorBrief | null };
}

/** A session's error in a divergence: what it was and where app code raised it (no stack). */
export interface SessionErrorBrief {
  name: string;
  message: string;
  location: SourceLocation | null;
}

export interface ExecutionObserver {
  step?(step: ExecutionStep): void;
  divergence?(divergence: Divergence): void;
}

export interface SessionOutcome {
  status: 'ok' | 'error' | 'retry';
  /** The handler's return value when ok. */
  output: unknown;
  error: ErrorInfo | null;
  /** The thrown value itself (context realm), for the caller's own checks. */
  thrown: unknown;
  randomDraws: number;
  divergences: Divergence[];
  /** True when replay stopped at a divergence before the handler finished. */
  stopped: boolean;
}

export interface SessionIdentity {
  id: SessionId;
  kind: string;
  route: string;
  input: unknown;
  attempt: number;
  config: unknown;
  timeZone: string;
  locale: string;
  /** Prefix of the idempotency keys of this session's calls (unique per journal). */
  keyPrefix: string;
}
