import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodePayload, encodePayload, packValue, unpackValue } from '../../src/journal/index.js';
import { MalformedPayloadError, UnsupportedRecordError } from '../../src/journal/codec.js';
import { RECORD_TYPE, type AppendableRecord, type ReadTxRecord } from '../../src/model/records.js';
import { APPENDABLE_KINDS, appValue, batchCommit, decoded, plain, recordArbitraries } from '../helpers/arbitraries.js';
import { size, thrown } from '../helpers/journal.js';

// Payload codec (docs/journal-format.md, sections 7 and 10), tested against
// the spec: field order is copied here from the spec's table, not from the
// codec, so that a codec that drifts from the document fails.

const RUNS = size(150, 3000);

/** Section 7's table: each kind's type byte and fields, in order. */
const SPEC_FIELDS: Record<AppendableRecord['kind'], [type: number, fields: string[]]> = {
  'process-start': [1, ['at', 'codeVersion', 'app', 'config', 'node', 'v8', 'timeZone', 'locale', 'pid', 'durability']],
  'session-start': [
    2,
    ['session', 'prev', 'at', 'sessionKind', 'route', 'transport', 'input', 'codeVersion', 'startedAfterTx', 'idempotencyKey', 'meta'],
  ],
  'session-attempt': [3, ['session', 'prev', 'at', 'attempt', 'reason', 'fromCheckpoint', 'codeVersion']],
  value: [4, ['session', 'prev', 'source', 'value']],
  'call-start': [5, ['session', 'prev', 'call', 'name', 'request', 'idempotencyKey', 'at']],
  'call-result': [6, ['session', 'prev', 'call', 'ok', 'value', 'at']],
  'write-tx': [7, ['session', 'prev', 'tx', 'committedAt', 'readAtTx', 'changes', 'readDigest', 'result', 'migration', 'randomDraws']],
  'read-tx': [8, ['session', 'prev', 'readAtTx', 'readDigest', 'result', 'error', 'write', 'randomDraws']],
  checkpoint: [9, ['session', 'prev', 'at', 'label', 'state', 'randomDraws']],
  response: [10, ['session', 'prev', 'at', 'status', 'headers', 'body']],
  'duplicate-request': [11, ['at', 'originalSession', 'idempotencyKey', 'route', 'rpcId']],
  'session-end': [12, ['session', 'prev', 'at', 'status', 'error', 'randomDraws']],
  snapshot: [13, ['at', 'tx', 'file', 'bytes', 'sha256']],
  suspension: [14, ['session', 'prev', 'at', 'sessionKind', 'missing']],
  'snapshot-removed': [16, ['at', 'tx', 'file', 'reason']],
};

/** Fields appended within version 1 (spec, read-tx, write-tx and duplicate-request rows): older records may lack them. */
const OPTIONAL_TRAILING: Partial<Record<string, number>> = { 'read-tx': 3, 'write-tx': 1, 'duplicate-request': 1 };

/** The optional trailing field a record may leave out (section 7), and a value for it. */
const OMISSIBLE_FIELD: Partial<Record<string, [string, unknown]>> = { randomDraws: ['randomDraws', 7], rpcId: ['rpcId', '7'] };

/** The spec's fields a record's payload holds: `randomDraws` (or `rpcId`) is left out when the record has none (section 7). */
function fieldsOf(record: AppendableRecord): string[] {
  const fields = SPEC_FIELDS[record.kind][1];
  const last = fields.at(-1)!;
  return last in OMISSIBLE_FIELD && (record as unknown as Record<string, unknown>)[last] === undefined ? fields.slice(0, -1) : fields;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('payload codec', () => {
  it('covers every appendable kind of the model', () => {
    expect(new Set(APPENDABLE_KINDS)).toEqual(new Set(Object.keys(SPEC_FIELDS)));
    expect(new Set(Object.keys(RECORD_TYPE))).toEqual(new Set([...APPENDABLE_KINDS, 'batch-commit']));
  });

  it.each(APPENDABLE_KINDS)('a %s record round-trips through encodePayload and decodePayload', (kind) => {
    fc.assert(
      fc.property(recordArbitraries[kind] as fc.Arbitrary<AppendableRecord>, (record) => {
        const { type, payload } = encodePayload(record);
        expect(type).toBe(SPEC_FIELDS[kind][0]);
        expect(plain(decodePayload(type, payload))).toEqual(decoded(record));
      }),
      { numRuns: RUNS },
    );
  });

  it.each(APPENDABLE_KINDS)('a %s payload is a MessagePack array of the fields in the spec order', (kind) => {
    fc.assert(
      fc.property(recordArbitraries[kind] as fc.Arbitrary<AppendableRecord>, (record) => {
        const fields = fieldsOf(record);
        const { payload } = encodePayload(record);
        // fixarray (0x90-0x9f), array 16 (0xdc) or array 32 (0xdd)
        expect(payload[0] >> 4 === 0x9 || payload[0] === 0xdc || payload[0] === 0xdd).toBe(true);
        const values = unpackValue(payload) as unknown[];
        expect(values).toHaveLength(fields.length);
        const source = record as unknown as Record<string, unknown>;
        fields.forEach((field, i) => {
          const want =
            field === 'changes'
              ? (source.changes as { table: string; key: unknown; before: unknown; after: unknown }[]).map((c) => [c.table, c.key, c.before, c.after])
              : source[field];
          expect(plain(values[i]), field).toEqual(decoded(want));
        });
      }),
      { numRuns: Math.ceil(RUNS / 3) },
    );
  });

  it('a batch commit round-trips through its fixed 88-byte payload', () => {
    fc.assert(
      fc.property(batchCommit, (record) => {
        const { type, payload } = encodePayload(record);
        expect(type).toBe(15);
        expect(payload.byteLength).toBe(88);
        expect(plain(decodePayload(type, payload))).toEqual(plain(record));
      }),
      { numRuns: RUNS },
    );
  });

  it('a batch commit payload of the wrong size is malformed', () => {
    expect(thrown(() => decodePayload(15, new Uint8Array(87)))).toBeInstanceOf(MalformedPayloadError);
    expect(thrown(() => decodePayload(15, new Uint8Array(89)))).toBeInstanceOf(MalformedPayloadError);
  });

  it('application values round-trip, with -0 decoded as 0', () => {
    fc.assert(
      fc.property(appValue, (value) => {
        expect(plain(unpackValue(packValue(value)))).toEqual(decoded(value));
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('numbers: -0 is stored as 0, 32-bit integers as integers, everything else as float 64', () => {
    expect(hex(packValue(-0))).toBe('00');
    expect(Object.is(unpackValue(packValue(-0)), 0)).toBe(true);
    expect(hex(packValue(2 ** 31))).toBe('ce80000000'); // uint 32
    expect(hex(packValue(-(2 ** 31)))).toBe('d280000000'); // int 32
    expect(hex(packValue(2 ** 32))).toBe('cb41f0000000000000'); // not a 32-bit integer: float 64
    expect(hex(packValue(-(2 ** 31) - 1))).toBe('cbc1e0000000200000');
    expect(hex(packValue(1.5))).toBe('cb3ff8000000000000');
    expect(unpackValue(packValue(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
    fc.assert(
      fc.property(fc.double(), (n) => {
        const bytes = packValue(n);
        const int32 = Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 32;
        if (!int32) expect(bytes[0]).toBe(0xcb);
        expect(unpackValue(bytes)).toBe(Object.is(n, -0) ? 0 : n);
      }),
      { numRuns: RUNS },
    );
  });

  it('int 64 and uint 64 decode as BigInt, smaller integers as numbers', () => {
    expect(unpackValue(Buffer.from('d30000000000000005', 'hex'))).toBe(5n); // int 64
    expect(unpackValue(Buffer.from('cf8000000000000000', 'hex'))).toBe(2n ** 63n); // uint 64
    expect(unpackValue(Buffer.from('cd0100', 'hex'))).toBe(256); // uint 16
    expect(unpackValue(Buffer.from('d2ffffffff', 'hex'))).toBe(-1); // int 32
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }), (n) => {
        const bytes = packValue(n);
        expect([0xd3, 0xcf]).toContain(bytes[0]);
        expect(unpackValue(bytes)).toBe(n);
      }),
      { numRuns: RUNS },
    );
  });

  it('integers beyond 64 bits use extension 0x42, two’s complement big-endian', () => {
    expect(hex(packValue(2n ** 64n))).toBe('d84200000000000000010000000000000000');
    fc.assert(
      fc.property(fc.oneof(fc.bigInt({ min: 2n ** 64n, max: 2n ** 200n }), fc.bigInt({ min: -(2n ** 200n), max: -(2n ** 63n) - 1n })), (n) => {
        const bytes = packValue(n);
        expect(unpackValue(bytes)).toBe(n);
      }),
      { numRuns: RUNS },
    );
  });

  it('undefined is a fixext 1 of type 0 with one zero byte, a Date is the timestamp extension', () => {
    expect(hex(packValue(undefined))).toBe('d40000');
    expect(unpackValue(packValue([undefined]))).toEqual([undefined]);
    expect(hex(packValue(new Date(0)))).toBe('d6ff00000000'); // timestamp 32, type -1
    fc.assert(
      fc.property(fc.date({ noInvalidDate: true }), (date) => {
        expect(unpackValue(packValue(date))).toEqual(date);
      }),
      { numRuns: RUNS },
    );
  });

  it('maps decode to plain objects with string keys', () => {
    const value = unpackValue(packValue({ a: 1, b: { c: 'd' } })) as object;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(value).toEqual({ a: 1, b: { c: 'd' } });
  });

  it('unknown record types below 128 come back as unknown records with their raw payload', () => {
    fc.assert(
      fc.property(fc.integer({ min: Math.max(...Object.values(RECORD_TYPE)) + 1, max: 127 }), fc.uint8Array({ maxLength: 64 }), (type, payload) => {
        const record = decodePayload(type, payload);
        expect(record.kind).toBe('unknown');
        expect(plain(record)).toEqual({ kind: 'unknown', type, payload: new Uint8Array(payload) });
      }),
      { numRuns: RUNS },
    );
  });

  it('unknown record types from 128 to 255 are unsupported', () => {
    fc.assert(
      fc.property(fc.integer({ min: 128, max: 255 }), fc.uint8Array({ maxLength: 16 }), (type, payload) => {
        const error = thrown(() => decodePayload(type, payload));
        expect(error).toBeInstanceOf(UnsupportedRecordError);
        expect((error as UnsupportedRecordError).type).toBe(type);
        expect((error as Error).message).toContain(String(type));
      }),
      { numRuns: 100 },
    );
  });

  it('array elements beyond the known fields are ignored', () => {
    fc.assert(
      fc.property(fc.oneof(...(Object.values(recordArbitraries) as fc.Arbitrary<AppendableRecord>[])), fc.array(appValue, { minLength: 1, maxLength: 3 }), (record, extra) => {
        // Every known field present, so the extras lie beyond them all.
        const omitted = fieldsOf(record).length < SPEC_FIELDS[record.kind][1].length ? OMISSIBLE_FIELD[SPEC_FIELDS[record.kind][1].at(-1)!]! : null;
        const full = omitted ? ({ ...record, [omitted[0]]: omitted[1] } as AppendableRecord) : record;
        const { type, payload } = encodePayload(full);
        const longer = packValue([...(unpackValue(payload) as unknown[]), ...extra]);
        expect(plain(decodePayload(type, longer))).toEqual(decoded(full));
      }),
      { numRuns: RUNS },
    );
  });

  it('a payload with fewer fields than its kind requires is malformed', () => {
    for (const kind of APPENDABLE_KINDS) {
      const [type, fields] = SPEC_FIELDS[kind];
      const required = fields.length - (OPTIONAL_TRAILING[kind] ?? 0);
      const error = thrown(() => decodePayload(type, packValue(new Array(required - 1).fill(null))));
      expect(error, kind).toBeInstanceOf(MalformedPayloadError);
    }
  });

  it('a read-tx written before its error and write fields were appended reads them as nil and false', () => {
    const record = decodePayload(8, packValue([3, null, 7, new Uint8Array([1]), { ok: 1 }])) as ReadTxRecord;
    expect(record).toMatchObject({ kind: 'read-tx', session: 3, readAtTx: 7, error: null, write: false });
  });

  it('a payload that is not a MessagePack array is malformed', () => {
    expect(thrown(() => decodePayload(4, packValue({ session: 1 })))).toBeInstanceOf(MalformedPayloadError);
    expect(thrown(() => decodePayload(4, Buffer.from([0xc1])))).toBeInstanceOf(MalformedPayloadError); // 0xc1: never used
  });
});
