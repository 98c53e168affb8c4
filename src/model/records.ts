// The journal's record kinds, as one discriminated union on `kind`.
// docs/journal-format.md specifies each payload byte by byte; this file is its
// TypeScript mirror and must change in the same commit as that document.

/** A logical byte offset across all segments of a journal (see "Positions"). */
export type Position = number;
/** Sessions are numbered from 1 in start order within a journal. */
export type SessionId = number;
/** Write transactions are numbered from 1 in journal order. 0 means "none yet". */
export type TxId = number;

export type Durability = 'none' | 'batch' | 'always';
export const DURABILITY_MODES: readonly Durability[] = ['none', 'batch', 'always'];

export type SessionStatus = 'ok' | 'error' | 'aborted';
export type Transport = 'json' | 'json-rpc' | 'xml-rpc' | 'direct';
export type AttemptReason = 'retry' | 'resume';

/** Where a nondeterministic value came from inside the sandbox. */
export type ValueSource =
  | 'date' // Date.now() and new Date()
  | 'performance' // performance.now()
  | 'random-seed' // the seed of the session's Math.random generator
  | 'uuid' // crypto.randomUUID()
  | 'random-bytes' // crypto.getRandomValues()
  | 'timer' // the order in which timers fired
  | (string & {});

/** A SQLite value as captured by change capture. */
export type SqlValue = null | number | bigint | string | Uint8Array;
export type Row = Record<string, SqlValue>;

/** One captured row change, from inside the same SQLite transaction. */
export interface RowChange {
  table: string;
  /** The rowid of the changed row. */
  key: number | bigint;
  /** null for an insert. */
  before: Row | null;
  /** null for a delete. */
  after: Row | null;
}

export interface ErrorInfo {
  name: string;
  message: string;
  stack?: string | null;
  /** Set when the app marked the error as retryable. */
  retryable?: boolean;
  /** An HTTP status the error carried (business errors), if any. */
  status?: number;
  /** Where in the app's sources it was raised, when known (through the bundle's source map). */
  location?: { file: string; line: number; column: number };
}

/** Fields shared by every record that belongs to a session. */
interface SessionScoped {
  session: SessionId;
  /** Position of the session's previous record, or null for its first. */
  prev: Position | null;
}

export interface ProcessStartRecord {
  kind: 'process-start';
  at: number;
  codeVersion: string;
  app: string;
  config: unknown;
  node: string;
  v8: string;
  timeZone: string;
  locale: string;
  pid: number;
  durability: Durability;
}

export interface SessionStartRecord extends SessionScoped {
  kind: 'session-start';
  at: number;
  sessionKind: string;
  route: string;
  transport: Transport;
  input: unknown;
  codeVersion: string;
  startedAfterTx: TxId;
  idempotencyKey: string | null;
  /** Request metadata kept for replay (headers minus secrets). */
  meta: Record<string, string>;
}

export interface SessionAttemptRecord extends SessionScoped {
  kind: 'session-attempt';
  at: number;
  /** 2 for the first retry or resume; the session-start record opens attempt 1. */
  attempt: number;
  reason: AttemptReason;
  /** The checkpoint a retry winds back to, or null to start over. */
  fromCheckpoint: Position | null;
  codeVersion: string;
}

export interface ValueRecord extends SessionScoped {
  kind: 'value';
  source: ValueSource;
  value: unknown;
}

export interface CallStartRecord extends SessionScoped {
  kind: 'call-start';
  /** 0-based index of the call within its attempt. */
  call: number;
  name: string;
  request: unknown;
  idempotencyKey: string;
  at: number;
}

export interface CallResultRecord extends SessionScoped {
  kind: 'call-result';
  call: number;
  ok: boolean;
  /** The result when ok, otherwise an ErrorInfo. */
  value: unknown;
  at: number;
}

export interface WriteTxRecord {
  kind: 'write-tx';
  /** null for a migration. */
  session: SessionId | null;
  prev: Position | null;
  tx: TxId;
  committedAt: number;
  readAtTx: TxId;
  changes: RowChange[];
  readDigest: Uint8Array;
  result: unknown;
  /** The migration's name, or null for an ordinary transaction. A migration's `result` is its SQL text. */
  migration: string | null;
  /**
   * The session's Math.random draw count when the function returned, so that
   * serving the record can bring the generator there. Absent: unknown (older
   * journals, migrations).
   */
  randomDraws?: number;
}

export interface ReadTxRecord extends SessionScoped {
  kind: 'read-tx';
  readAtTx: TxId;
  readDigest: Uint8Array;
  result: unknown;
  /**
   * Set when the function threw: what the app saw. A write transaction that
   * threw rolled back and wrote nothing, so it is journaled here, as a read.
   */
  error: ErrorInfo | null;
  /** True for a ctx.tx() whose function threw (see `error`). */
  write: boolean;
  /** The session's Math.random draw count when the function returned or threw; absent: unknown (older journals). */
  randomDraws?: number;
}

export interface CheckpointRecord extends SessionScoped {
  kind: 'checkpoint';
  at: number;
  label: string;
  state: unknown;
  /** How many Math.random draws the session had made at this point. */
  randomDraws: number;
}

export interface ResponseRecord extends SessionScoped {
  kind: 'response';
  at: number;
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

export interface DuplicateRequestRecord {
  kind: 'duplicate-request';
  at: number;
  originalSession: SessionId;
  idempotencyKey: string;
  route: string;
  /**
   * JSON-RPC only, and only when the duplicate was not answered with the
   * journaled response's bytes: the duplicate's own id as JSON text (its
   * response was the original's with this id), or "" for a notification
   * (answered 204, no body). Absent in records written before it existed.
   */
  rpcId?: string;
}

export interface SessionEndRecord extends SessionScoped {
  kind: 'session-end';
  at: number;
  status: SessionStatus;
  error: ErrorInfo | null;
  randomDraws: number;
}

export interface SnapshotRecord {
  kind: 'snapshot';
  at: number;
  tx: TxId;
  /** File name relative to the journal directory. */
  file: string;
  bytes: number;
  sha256: string;
}

/**
 * A snapshot's file was removed (by the recorder's retention, after this
 * record was durable): rebuilds no longer start from it.
 */
export interface SnapshotRemovedRecord {
  kind: 'snapshot-removed';
  at: number;
  /** The removed snapshot's transaction and file, as its snapshot record names them. */
  tx: TxId;
  file: string;
  /** Why: 'retention'. */
  reason: string;
}

export interface SuspensionRecord extends SessionScoped {
  kind: 'suspension';
  at: number;
  sessionKind: string;
  missing: unknown;
}

export interface BatchCommitRecord {
  kind: 'batch-commit';
  /** Batch sequence number, from 1. */
  seq: number;
  /** Records in the batch, this one excluded. */
  records: number;
  /** Bytes of the batch's records, this one excluded. */
  bytes: number;
  at: number;
  prevHead: Uint8Array;
  head: Uint8Array;
}

/** A record of a type this reader does not know (forward compatibility). */
export interface UnknownRecord {
  kind: 'unknown';
  type: number;
  payload: Uint8Array;
}

export type JournalRecord =
  | ProcessStartRecord
  | SessionStartRecord
  | SessionAttemptRecord
  | ValueRecord
  | CallStartRecord
  | CallResultRecord
  | WriteTxRecord
  | ReadTxRecord
  | CheckpointRecord
  | ResponseRecord
  | DuplicateRequestRecord
  | SessionEndRecord
  | SnapshotRecord
  | SnapshotRemovedRecord
  | SuspensionRecord
  | BatchCommitRecord
  | UnknownRecord;

export type RecordKind = JournalRecord['kind'];
export type RecordOf<K extends RecordKind> = Extract<JournalRecord, { kind: K }>;
/** Records an application appends; batch commits are written by the writer itself. */
export type AppendableRecord = Exclude<JournalRecord, BatchCommitRecord | UnknownRecord>;

/** An exhaustive handler map: adding a kind without a handler fails to compile. */
export type RecordHandlers<R> = { [K in RecordKind]: (record: RecordOf<K>) => R };

/** The wire type byte of each kind. Never renumber; only add. */
export const RECORD_TYPE = {
  'process-start': 1,
  'session-start': 2,
  'session-attempt': 3,
  value: 4,
  'call-start': 5,
  'call-result': 6,
  'write-tx': 7,
  'read-tx': 8,
  checkpoint: 9,
  response: 10,
  'duplicate-request': 11,
  'session-end': 12,
  snapshot: 13,
  suspension: 14,
  'batch-commit': 15,
  'snapshot-removed': 16,
} as const satisfies Record<Exclude<RecordKind, 'unknown'>, number>;

export type KnownRecordKind = keyof typeof RECORD_TYPE;

export const KIND_OF_TYPE: ReadonlyMap<number, KnownRecordKind> = new Map(
  Object.entries(RECORD_TYPE).map(([kind, type]) => [type, kind as KnownRecordKind]),
);

/** Session id of a record, or null when it belongs to no session. */
export function sessionOf(record: JournalRecord): SessionId | null {
  return 'session' in record ? record.session : null;
}

