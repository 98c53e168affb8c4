import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodePayload, encodePayload, JournalReader, openJournalWriter, packValue, unpackValue } from '../../src/journal/index.js';
import { packTransient } from '../../src/journal/codec.js';
import type { AppendableRecord, ReadTxRecord, WriteTxRecord } from '../../src/model/records.js';
import { decoded, plain, recordArbitraries } from '../helpers/arbitraries.js';
import { expectSameRecords, size, tempDirs, withoutCommits } from '../helpers/journal.js';

// `randomDraws`, the trailing field write-tx and read-tx records gained within
// format version 1 (docs/journal-format.md, section 7 and Versioning): the
// session's Math.random draw count when the transaction's function ended.
// Field positions are the spec's, written out here, not taken from the codec.

const RUNS = size(150, 2000);
const tmp = tempDirs();

/** Section 7: the fields before `randomDraws`, in order. */
const BEFORE = {
  'write-tx': ['session', 'prev', 'tx', 'committedAt', 'readAtTx', 'changes', 'readDigest', 'result', 'migration'],
  'read-tx': ['session', 'prev', 'readAtTx', 'readDigest', 'result', 'error', 'write'],
} as const;

/** Any draw count a session can reach: small ones are MessagePack integers, the rest float 64. */
const draws = fc.oneof(fc.nat({ max: 1000 }), fc.nat(), fc.integer({ min: 2 ** 32, max: Number.MAX_SAFE_INTEGER }));

const withDraws = {
  'write-tx': fc.tuple(recordArbitraries['write-tx'], draws).map(([r, n]): WriteTxRecord => ({ ...r, randomDraws: n })),
  'read-tx': fc.tuple(recordArbitraries['read-tx'], draws).map(([r, n]): ReadTxRecord => ({ ...r, randomDraws: n })),
};

/** The payload as an older writer wrote it: the fields before randomDraws, changes as arrays. */
function oldPayload(record: WriteTxRecord | ReadTxRecord): Uint8Array {
  const source = record as unknown as Record<string, unknown>;
  return packValue(
    BEFORE[record.kind].map((f) =>
      f === 'changes' ? (record as WriteTxRecord).changes.map((c) => [c.table, c.key, c.before, c.after]) : source[f],
    ),
  );
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

function transientHex(record: AppendableRecord): string {
  const t = packTransient(record);
  return hex(t.bytes.subarray(t.start, t.end));
}

describe.each(['write-tx', 'read-tx'] as const)('%s randomDraws', (kind) => {
  it('round-trips, as the field right after the spec’s last one, through both encoders', () => {
    fc.assert(
      fc.property(withDraws[kind] as fc.Arbitrary<WriteTxRecord | ReadTxRecord>, (record) => {
        const { type, payload } = encodePayload(record);
        const values = unpackValue(payload) as unknown[];
        expect(values).toHaveLength(BEFORE[kind].length + 1);
        expect(values[BEFORE[kind].length]).toBe(record.randomDraws);
        const back = decodePayload(type, payload) as WriteTxRecord | ReadTxRecord;
        expect(back.randomDraws).toBe(record.randomDraws);
        expect(plain(back)).toEqual(decoded(record));
        expect(transientHex(record)).toBe(hex(payload));
      }),
      { numRuns: RUNS },
    );
  });

  it('is left out of the payload when the record has none: the bytes an older writer wrote', () => {
    fc.assert(
      fc.property(recordArbitraries[kind] as fc.Arbitrary<WriteTxRecord | ReadTxRecord>, (record) => {
        const { payload } = encodePayload(record);
        expect(hex(payload)).toBe(hex(oldPayload(record)));
        expect(transientHex(record)).toBe(hex(payload));
        // An explicit undefined is no different.
        expect(hex(encodePayload({ ...record, randomDraws: undefined }).payload)).toBe(hex(payload));
      }),
      { numRuns: RUNS },
    );
  });

  it('an older record (without it) still decodes, with the field absent: unknown', () => {
    fc.assert(
      fc.property(recordArbitraries[kind] as fc.Arbitrary<WriteTxRecord | ReadTxRecord>, (record) => {
        const back = decodePayload(kind === 'write-tx' ? 7 : 8, oldPayload(record));
        expect('randomDraws' in back).toBe(false);
        expect(plain(back)).toEqual(decoded(record));
      }),
      { numRuns: RUNS },
    );
  });
});

describe('randomDraws in a journal', () => {
  it('a read-tx of the oldest shape (before error and write) still decodes, without randomDraws', () => {
    const record = decodePayload(8, packValue([3, null, 7, new Uint8Array([1]), { ok: 1 }]));
    expect(plain(record)).toEqual({ kind: 'read-tx', session: 3, prev: null, readAtTx: 7, readDigest: new Uint8Array([1]), result: { ok: 1 }, error: null, write: false });
    expect('randomDraws' in record).toBe(false);
  });

  it('records with and without it, mixed, read back from disk as written', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(recordArbitraries['write-tx'], recordArbitraries['read-tx'], withDraws['write-tx'], withDraws['read-tx']), { minLength: 1, maxLength: 12 }),
        async (records) => {
          const dir = tmp('random-draws');
          const { writer } = await openJournalWriter(dir, { durability: 'none' });
          const appended = records.map((record) => ({ position: writer.append(record).position, record }));
          await writer.close();
          const read = withoutCommits([...JournalReader.open(dir).records()]);
          expectSameRecords(read, appended);
          read.forEach((r, i) => expect('randomDraws' in r.record).toBe(records[i].randomDraws !== undefined));
        },
      ),
      { numRuns: size(20, 200) },
    );
  });
});
