import fc from 'fast-check';
import type {
  AppendableRecord,
  BatchCommitRecord,
  ErrorInfo,
  RecordOf,
  RowChange,
  SqlValue,
  UnknownRecord,
} from '../../src/model/records.js';
import { RECORD_TYPE } from '../../src/model/records.js';

// fast-check arbitraries for every record kind, generated within the codec's
// contract (docs/journal-format.md, section 7): strings are well-formed
// Unicode (MessagePack `str` is UTF-8), maps have string keys, and `any`
// values use only what the spec lists (nil, bool, numbers, BigInt, str, bin,
// Date, undefined, arrays, plain objects).
//
// `decoded(x)` is what a value is expected to look like after a round trip.

type AppendableKind = AppendableRecord['kind'];

/** Well-formed Unicode text (any code point, no lone surrogates). */
export const text = (maxLength = 16): fc.Arbitrary<string> => fc.string({ unit: 'binary', maxLength });

/**
 * Map keys. `__proto__` is left out on purpose: msgpackr decodes it as
 * `__proto_` (prototype-pollution guard), so it does not round-trip.
 */
export const mapKey: fc.Arbitrary<string> = text(10).filter((k) => k !== '__proto__');

export const stringMap: fc.Arbitrary<Record<string, string>> = fc.dictionary(mapKey, text(), {
  maxKeys: 4,
  noNullPrototype: true,
});

/** `int` fields: small values most of the time, any safe integer sometimes. */
export const int: fc.Arbitrary<number> = fc.oneof(fc.nat(1000), fc.maxSafeNat(), fc.integer());
export const sessionId: fc.Arbitrary<number> = fc.oneof(fc.integer({ min: 1, max: 500 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }));
export const pos: fc.Arbitrary<number> = fc.oneof(fc.nat(1 << 20), fc.maxSafeNat());
export const posOrNil: fc.Arbitrary<number | null> = fc.option(pos, { nil: null });
/** `float|int` timestamps; -0 included to check that it decodes as 0. */
export const timestamp: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: 1_500_000_000_000, max: 2_500_000_000_000 }),
  fc.double({ min: 0, max: 1e16, noNaN: true }),
  fc.constant(-0),
);
export const bytes = (maxLength = 48): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength });

const int64: fc.Arbitrary<bigint> = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });

/** Application values (`any` in the spec). */
export const appValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.constant(undefined),
    fc.boolean(),
    fc.integer(),
    fc.double(), // NaN, ±Infinity, -0 and subnormals included
    fc.maxSafeInteger(),
    int64,
    fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }), // beyond 64 bits: extension 0x42
    text(),
    bytes(),
    fc.date({ noInvalidDate: true }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(mapKey, tie('value'), { maxKeys: 4, noNullPrototype: true }),
  ),
})).value;

const sqlValue: fc.Arbitrary<SqlValue> = fc.oneof(
  fc.constant(null),
  fc.integer(),
  fc.maxSafeInteger(),
  int64,
  fc.double(),
  text(),
  bytes(24),
);
const row = fc.dictionary(mapKey, sqlValue, { maxKeys: 4, noNullPrototype: true });
const rowChange: fc.Arbitrary<RowChange> = fc.record({
  table: text(12),
  key: fc.oneof(fc.maxSafeInteger(), int64),
  before: fc.option(row, { nil: null }),
  after: fc.option(row, { nil: null }),
});
const errorInfo: fc.Arbitrary<ErrorInfo> = fc.record(
  { name: text(), message: text(40), stack: fc.option(text(60), { nil: null }), retryable: fc.boolean() },
  { requiredKeys: ['name', 'message'] },
);
const valueSource = fc.oneof(
  fc.constantFrom('date', 'performance', 'random-seed', 'uuid', 'random-bytes', 'timer'),
  text(8),
);

/** One arbitrary per appendable kind; a new kind without one fails to compile. */
export const recordArbitraries: { [K in AppendableKind]: fc.Arbitrary<RecordOf<K>> } = {
  'process-start': fc.record({
    kind: fc.constant('process-start'),
    at: timestamp,
    codeVersion: text(),
    app: text(),
    config: appValue,
    node: text(),
    v8: text(),
    timeZone: text(),
    locale: text(),
    pid: int,
    durability: fc.constantFrom('none', 'batch', 'always'),
  }),
  'session-start': fc.record({
    kind: fc.constant('session-start'),
    session: sessionId,
    prev: posOrNil,
    at: timestamp,
    sessionKind: text(),
    route: text(),
    transport: fc.constantFrom('json', 'json-rpc', 'xml-rpc', 'direct'),
    input: appValue,
    codeVersion: text(),
    startedAfterTx: int,
    idempotencyKey: fc.option(text(), { nil: null }),
    meta: stringMap,
  }),
  'session-attempt': fc.record({
    kind: fc.constant('session-attempt'),
    session: sessionId,
    prev: posOrNil,
    at: timestamp,
    attempt: int,
    reason: fc.constantFrom('retry', 'resume'),
    fromCheckpoint: posOrNil,
    codeVersion: text(),
  }),
  value: fc.record({
    kind: fc.constant('value'),
    session: sessionId,
    prev: posOrNil,
    source: valueSource,
    value: appValue,
  }),
  'call-start': fc.record({
    kind: fc.constant('call-start'),
    session: sessionId,
    prev: posOrNil,
    call: int,
    name: text(),
    request: appValue,
    idempotencyKey: text(),
    at: timestamp,
  }),
  'call-result': fc.record({
    kind: fc.constant('call-result'),
    session: sessionId,
    prev: posOrNil,
    call: int,
    ok: fc.boolean(),
    value: fc.oneof(appValue, errorInfo),
    at: timestamp,
  }),
  'write-tx': fc.record({
    kind: fc.constant('write-tx'),
    session: fc.option(sessionId, { nil: null }),
    prev: posOrNil,
    tx: int,
    committedAt: timestamp,
    readAtTx: int,
    changes: fc.array(rowChange, { maxLength: 4 }),
    readDigest: bytes(32),
    result: appValue,
    migration: fc.option(text(), { nil: null }),
  }),
  'read-tx': fc.record({
    kind: fc.constant('read-tx'),
    session: sessionId,
    prev: posOrNil,
    readAtTx: int,
    readDigest: bytes(32),
    result: appValue,
    error: fc.option(fc.record({ name: text(), message: text() }), { nil: null }),
    write: fc.boolean(),
  }),
  checkpoint: fc.record({
    kind: fc.constant('checkpoint'),
    session: sessionId,
    prev: posOrNil,
    at: timestamp,
    label: text(),
    state: appValue,
    randomDraws: int,
  }),
  response: fc.record({
    kind: fc.constant('response'),
    session: sessionId,
    prev: posOrNil,
    at: timestamp,
    status: fc.integer({ min: 100, max: 599 }),
    headers: stringMap,
    body: bytes(200),
  }),
  'duplicate-request': fc.record(
    {
      kind: fc.constant('duplicate-request'),
      at: timestamp,
      originalSession: sessionId,
      idempotencyKey: text(),
      route: text(),
      rpcId: text(),
    },
    { requiredKeys: ['kind', 'at', 'originalSession', 'idempotencyKey', 'route'] },
  ),
  'session-end': fc.record({
    kind: fc.constant('session-end'),
    session: sessionId,
    prev: posOrNil,
    at: timestamp,
    status: fc.constantFrom('ok', 'error', 'aborted'),
    error: fc.option(errorInfo, { nil: null }),
    randomDraws: int,
  }),
  snapshot: fc.record({
    kind: fc.constant('snapshot'),
    at: timestamp,
    tx: int,
    file: text(),
    bytes: pos,
    sha256: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex')),
  }),
  'snapshot-removed': fc.record({
    kind: fc.constant('snapshot-removed'),
    at: timestamp,
    tx: int,
    file: text(),
    reason: fc.oneof(fc.constant('retention'), text(8)),
  }),
  suspension: fc.record({
    kind: fc.constant('suspension'),
    session: sessionId,
    prev: posOrNil,
    at: timestamp,
    sessionKind: text(),
    missing: appValue,
  }),
};

export const APPENDABLE_KINDS = Object.keys(recordArbitraries) as AppendableKind[];

export const anyRecord: fc.Arbitrary<AppendableRecord> = fc.oneof(
  ...(Object.values(recordArbitraries) as fc.Arbitrary<AppendableRecord>[]),
);

/** A record of a type this reader does not know (16 to 127), appended raw. */
export const unknownRecord: fc.Arbitrary<UnknownRecord> = fc.record({
  kind: fc.constant('unknown'),
  type: fc.integer({ min: Math.max(...Object.values(RECORD_TYPE)) + 1, max: 127 }),
  payload: bytes(64),
});

export const batchCommit: fc.Arbitrary<BatchCommitRecord> = fc.record({
  kind: fc.constant('batch-commit'),
  seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  records: fc.nat({ max: 0xffffffff }),
  bytes: fc.nat({ max: 0xffffffff }),
  at: fc.maxSafeNat(),
  prevHead: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  head: fc.uint8Array({ minLength: 32, maxLength: 32 }),
});

/**
 * A value as read back from the journal, made comparable: Buffers become
 * plain Uint8Arrays (copied), nothing else changes. Use on what a reader returns.
 */
export function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (value instanceof Date || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(plain);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
}

/**
 * What a value written to the journal is expected to decode to (section 7):
 * -0 becomes 0; everything else in the generated domain is unchanged.
 */
export function decoded(value: unknown): unknown {
  if (typeof value === 'number') return Object.is(value, -0) ? 0 : value;
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (value instanceof Date || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(decoded);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decoded(v)]));
}

/** A small deterministic PRNG (mulberry32) for campaigns driven by one seed. */
export class Rng {
  private state: number;
  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)];
  }
  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(0, 255);
    return out;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** `n` records drawn deterministically from `seed` (the same in every process). */
export function recordPool(seed: number, n: number, arb: fc.Arbitrary<AppendableRecord> = anyRecord): AppendableRecord[] {
  return fc.sample(arb, { seed, numRuns: n });
}
