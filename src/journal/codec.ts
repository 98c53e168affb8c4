import { Packr, RESET_BUFFER_MODE, REUSE_BUFFER_MODE } from 'msgpackr';
import {
  KIND_OF_TYPE,
  RECORD_TYPE,
  type AppendableRecord,
  type BatchCommitRecord,
  type JournalRecord,
  type KnownRecordKind,
  type RecordOf,
} from '../model/records.js';
import { BATCH_COMMIT_PAYLOAD_SIZE, BATCH_COMMIT_TYPE, FIRST_CRITICAL_TYPE, HEAD_SIZE, MAX_PAYLOAD } from './constants.js';

// Payload codec (docs/journal-format.md, section 7): each kind is a MessagePack
// array of its fields in a fixed order; the batch commit is fixed binary.

type PayloadKind = Exclude<KnownRecordKind, 'batch-commit'>;
type FieldsOf<K extends PayloadKind> = readonly Exclude<keyof RecordOf<K>, 'kind'>[];

const FIELDS: { [K in PayloadKind]: FieldsOf<K> } = {
  'process-start': ['at', 'codeVersion', 'app', 'config', 'node', 'v8', 'timeZone', 'locale', 'pid', 'durability'],
  'session-start': [
    'session',
    'prev',
    'at',
    'sessionKind',
    'route',
    'transport',
    'input',
    'codeVersion',
    'startedAfterTx',
    'idempotencyKey',
    'meta',
  ],
  'session-attempt': ['session', 'prev', 'at', 'attempt', 'reason', 'fromCheckpoint', 'codeVersion'],
  value: ['session', 'prev', 'source', 'value'],
  'call-start': ['session', 'prev', 'call', 'name', 'request', 'idempotencyKey', 'at'],
  'call-result': ['session', 'prev', 'call', 'ok', 'value', 'at'],
  'write-tx': ['session', 'prev', 'tx', 'committedAt', 'readAtTx', 'changes', 'readDigest', 'result', 'migration', 'randomDraws'],
  'read-tx': ['session', 'prev', 'readAtTx', 'readDigest', 'result', 'error', 'write', 'randomDraws'],
  checkpoint: ['session', 'prev', 'at', 'label', 'state', 'randomDraws'],
  response: ['session', 'prev', 'at', 'status', 'headers', 'body'],
  'duplicate-request': ['at', 'originalSession', 'idempotencyKey', 'route', 'rpcId'],
  'session-end': ['session', 'prev', 'at', 'status', 'error', 'randomDraws'],
  snapshot: ['at', 'tx', 'file', 'bytes', 'sha256'],
  'snapshot-removed': ['at', 'tx', 'file', 'reason'],
  suspension: ['session', 'prev', 'at', 'sessionKind', 'missing'],
};

/**
 * Trailing fields a reader may find missing (a record written before they
 * were appended), with the value they then take (format section 10).
 * `undefined` means the field stays absent from the decoded record, and a
 * record without it is written without it (the payload of older versions).
 */
const OPTIONAL: { [K in PayloadKind]?: Partial<Record<Exclude<keyof RecordOf<K>, 'kind'>, unknown>> } = {
  'write-tx': { randomDraws: undefined },
  'read-tx': { error: null, write: false, randomDraws: undefined },
  'duplicate-request': { rpcId: undefined },
};

/** Per kind, how many trailing fields may be left out when the record does not carry them (OPTIONAL, default undefined). */
const OMISSIBLE = new Map<string, number>(
  Object.entries(FIELDS).map(([kind, fields]) => {
    const optional = (OPTIONAL[kind as PayloadKind] ?? {}) as Record<string, unknown>;
    let n = 0;
    while (n < fields.length && fields[fields.length - 1 - n] in optional && optional[fields[fields.length - 1 - n]] === undefined) n++;
    return [kind, n];
  }),
);

const packr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  useBigIntExtension: true,
  moreTypes: false,
  // Decoded `bin` values must own their bytes: the reader reuses its buffer.
  copyBuffers: true,
});

export interface EncodedRecord {
  type: number;
  payload: Uint8Array;
}

export class UnsupportedRecordError extends Error {
  constructor(readonly type: number) {
    super(`unsupported record type ${type}`);
  }
}

export class MalformedPayloadError extends Error {}

/**
 * A record too large for the journal (its payload over MAX_PAYLOAD). Nothing
 * was appended; the writer goes on. Callers that journal before they commit
 * (a write transaction) roll back on it.
 */
export class RecordTooLargeError extends RangeError {
  override readonly name = 'RecordTooLargeError';
  constructor(
    readonly kind: string,
    readonly bytes: number,
  ) {
    super(`a ${kind} record of ${bytes.toLocaleString('en-US')} bytes is larger than a journal record may be (${MAX_PAYLOAD.toLocaleString('en-US')} bytes)`);
  }
}

/** Encode a record's payload. Change rows are stored as arrays (section 7). */
export function encodePayload(record: AppendableRecord | BatchCommitRecord): EncodedRecord {
  if (record.kind === 'batch-commit') {
    return { type: BATCH_COMMIT_TYPE, payload: encodeBatchCommit(record) };
  }
  const values = payloadValues(record, new Array(FIELDS[record.kind].length));
  values.length = payloadLength(record.kind, values);
  return { type: RECORD_TYPE[record.kind], payload: packr.pack(values) };
}

/** The array of a record's fields, in payload order, filled into `values`. */
function payloadValues(record: AppendableRecord, values: unknown[]): unknown[] {
  const fields = FIELDS[record.kind as PayloadKind] as readonly string[];
  const source = record as unknown as Record<string, unknown>;
  for (let i = 0; i < fields.length; i++) values[i] = source[fields[i]];
  if (record.kind === 'write-tx') values[WRITE_TX_CHANGES] = record.changes.map((c) => [c.table, c.key, c.before, c.after]);
  return values;
}

/** How many of `values` to write: omissible trailing fields the record does not carry are left out. */
function payloadLength(kind: string, values: unknown[]): number {
  let n = values.length;
  if (values[n - 1] !== undefined) return n;
  const floor = n - (OMISSIBLE.get(kind) ?? 0);
  while (n > floor && values[n - 1] === undefined) n--;
  return n;
}

const WRITE_TX_CHANGES = FIELDS['write-tx'].indexOf('changes');

/** One reusable field array per record kind, for packTransient (packing is synchronous and never reentrant). */
const SCRATCH = new Map<string, unknown[]>(Object.entries(FIELDS).map(([kind, fields]) => [kind, new Array(fields.length)]));

/** A payload packed into the codec's own buffer: valid only until the next call that packs. */
export interface TransientPayload {
  type: number;
  bytes: Uint8Array;
  start: number;
  end: number;
}

const transient: TransientPayload = { type: 0, bytes: new Uint8Array(0), start: 0, end: 0 };

/**
 * Encode a record's payload (the same bytes as encodePayload) without copying
 * it out of the encoder's buffer: the result, and the bytes it points to, are
 * overwritten by the next call. For the writer, which copies them into its
 * batch at once.
 */
export function packTransient(record: AppendableRecord): TransientPayload {
  const full = SCRATCH.get(record.kind)!;
  payloadValues(record, full);
  const n = payloadLength(record.kind, full);
  // Rare (a migration, a record of an older shape): a shorter array, so the scratch one keeps its length.
  const values = n === full.length ? full : full.slice(0, n);
  let packed: Uint8Array & { start?: number; end?: number };
  try {
    packed = packr.pack(values, REUSE_BUFFER_MODE | RESET_BUFFER_MODE) as Uint8Array & { start?: number; end?: number };
  } finally {
    full.fill(undefined);
  }
  transient.type = RECORD_TYPE[record.kind as PayloadKind];
  transient.bytes = packed;
  transient.start = packed.start!;
  transient.end = packed.end!;
  return transient;
}

export function decodePayload(type: number, payload: Uint8Array): JournalRecord {
  const kind = KIND_OF_TYPE.get(type);
  if (kind === undefined) {
    if (type >= FIRST_CRITICAL_TYPE) throw new UnsupportedRecordError(type);
    return { kind: 'unknown', type, payload: Uint8Array.prototype.slice.call(payload) };
  }
  if (kind === 'batch-commit') return decodeBatchCommit(payload);
  let values: unknown;
  try {
    values = packr.unpack(payload);
  } catch (error) {
    throw new MalformedPayloadError(`${kind} payload is not MessagePack: ${(error as Error).message}`);
  }
  if (!Array.isArray(values)) throw new MalformedPayloadError(`${kind} payload is not an array`);
  const fields = FIELDS[kind] as readonly string[];
  const optional = (OPTIONAL[kind] ?? {}) as Record<string, unknown>;
  const required = fields.length - Object.keys(optional).length;
  if (values.length < required) {
    throw new MalformedPayloadError(`${kind} payload has ${values.length} fields, expected ${required}`);
  }
  const record: Record<string, unknown> = { kind };
  for (let i = 0; i < fields.length; i++) {
    if (i < values.length) record[fields[i]] = values[i];
    else if (optional[fields[i]] !== undefined) record[fields[i]] = optional[fields[i]];
  }
  if (kind === 'write-tx') {
    record.changes = (record.changes as unknown[][]).map(([table, key, before, after]) => ({ table, key, before, after }));
  }
  return record as unknown as JournalRecord;
}

/** Encode any MessagePack value the way payload fields are encoded. */
export function packValue(value: unknown): Uint8Array {
  return packr.pack(value);
}

export function unpackValue(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}

function encodeBatchCommit(record: BatchCommitRecord): Buffer {
  const out = Buffer.alloc(BATCH_COMMIT_PAYLOAD_SIZE);
  writeBatchCommit(out, 0, record.seq, record.records, record.bytes, record.at, record.prevHead, record.head);
  return out;
}

/** Write a batch-commit payload in place (the writer's hot path). */
export function writeBatchCommit(
  out: Buffer,
  offset: number,
  seq: number,
  records: number,
  bytes: number,
  at: number,
  prevHead: Uint8Array,
  head: Uint8Array,
): void {
  writeU64(out, seq, offset);
  out.writeUInt32LE(records, offset + 8);
  out.writeUInt32LE(bytes, offset + 12);
  writeU64(out, Math.max(0, Math.floor(at)), offset + 16);
  out.set(prevHead, offset + 24);
  out.set(head, offset + 24 + HEAD_SIZE);
}

/** A non-negative safe integer as u64 LE, without a BigInt. */
export function writeU64(out: Buffer, value: number, offset: number): void {
  if (!Number.isSafeInteger(value)) {
    out.writeBigUInt64LE(BigInt(value), offset); // throws for what is not an integer, as before
    return;
  }
  out.writeUInt32LE(value % 0x1_0000_0000, offset);
  out.writeUInt32LE(Math.floor(value / 0x1_0000_0000), offset + 4);
}

export function decodeBatchCommit(payload: Uint8Array): BatchCommitRecord {
  if (payload.byteLength !== BATCH_COMMIT_PAYLOAD_SIZE) {
    throw new MalformedPayloadError(`batch-commit payload is ${payload.byteLength} bytes, expected ${BATCH_COMMIT_PAYLOAD_SIZE}`);
  }
  const view = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  return {
    kind: 'batch-commit',
    seq: Number(view.readBigUInt64LE(0)),
    records: view.readUInt32LE(8),
    bytes: view.readUInt32LE(12),
    at: Number(view.readBigUInt64LE(16)),
    prevHead: Buffer.from(view.subarray(24, 24 + HEAD_SIZE)),
    head: Buffer.from(view.subarray(24 + HEAD_SIZE, 24 + 2 * HEAD_SIZE)),
  };
}
