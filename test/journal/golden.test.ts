import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { JournalReader, openJournalWriter } from '../../src/journal/index.js';
import { RECORD_TYPE } from '../../src/model/records.js';
import { plain } from '../helpers/arbitraries.js';
import { readAll, tempDirs, withoutCommits } from '../helpers/journal.js';
import { REPO } from '../helpers/spawn.js';

// The golden journal of format version 1 (fixtures/journal-v1/, made once by
// scripts/make-golden-fixture.ts) must read back, record for record, as its
// JSON twin says, in every later version. Never regenerate it to make this
// pass: a failure here means old journals no longer read.

const tmp = tempDirs();
const FIXTURE = path.join(REPO, 'fixtures/journal-v1');

interface Golden {
  format: number;
  segments: { file: string; baseOffset: number; bytes: number }[];
  journalId: string;
  records: number;
  batches: number;
  committedEnd: number;
  chainHead: string;
  entries: { position: number; kind: string; fields: Record<string, unknown> }[];
}

const golden = JSON.parse(fs.readFileSync(`${FIXTURE}.json`, 'utf8')) as Golden;

/** Undo the JSON encoding the fixture documents ($base64, $bigint, $date, $undefined, $number). */
function revive(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(revive);
  if (value === null || typeof value !== 'object') return value;
  const tagged = value as Record<string, unknown>;
  if (typeof tagged.$base64 === 'string') return new Uint8Array(Buffer.from(tagged.$base64, 'base64'));
  if (typeof tagged.$bigint === 'string') return BigInt(tagged.$bigint);
  if (typeof tagged.$date === 'string') return new Date(tagged.$date);
  if (tagged.$undefined === true) return undefined;
  if (typeof tagged.$number === 'string') return Number(tagged.$number);
  return Object.fromEntries(Object.entries(tagged).map(([k, v]) => [k, revive(v)]));
}

describe('the golden journal of format version 1', () => {
  it('is small, in several segments, with at least one record of every kind', () => {
    const files = fs.readdirSync(FIXTURE).sort();
    expect(files).toEqual(golden.segments.map((s) => s.file));
    expect(files.length).toBeGreaterThanOrEqual(3);
    const total = files.reduce((n, f) => n + fs.statSync(path.join(FIXTURE, f)).size, 0);
    expect(total).toBeLessThan(8 * 1024);
    const kinds = new Set(golden.entries.map((e) => e.kind));
    // The fixture is made once; kinds added to version 1 after it are covered by the codec's spec test.
    const addedSince = ['snapshot-removed'];
    for (const kind of [...Object.keys(RECORD_TYPE), 'unknown']) {
      if (addedSince.includes(kind)) expect(kinds, kind).not.toContain(kind);
      else expect(kinds, kind).toContain(kind);
    }
  });

  it('every record decodes and equals its JSON twin, at its position', () => {
    const reader = JournalReader.open(FIXTURE);
    expect(reader.layout.segments.map((s) => ({ file: path.basename(s.path), baseOffset: s.header.baseOffset, bytes: s.fileSize }))).toEqual(
      golden.segments,
    );
    expect(reader.layout.segments.every((s) => s.header.journalId.toString('hex') === golden.journalId)).toBe(true);
    const { records } = readAll(FIXTURE);
    expect(records.map((r) => r.position)).toEqual(golden.entries.map((e) => e.position));
    records.forEach((r, i) => {
      const entry = golden.entries[i];
      expect(plain(r.record), `${entry.kind} at ${entry.position}`).toEqual({ kind: entry.kind, ...(revive(entry.fields) as object) });
      // Random access finds the same record.
      expect(plain(reader.readAt(r.position).record)).toEqual(plain(r.record));
    });
  });

  it('passes audit-style verification: every checksum, the batch accounting and the whole hash chain', () => {
    const { records, result } = readAll(FIXTURE, undefined, { verifyChain: true });
    expect(result.corruption).toBeNull();
    expect(result.tailBytes).toBe(0);
    expect(result.tail).toBeNull();
    expect(result.records).toBe(golden.records);
    expect(withoutCommits(records).length).toBe(golden.records);
    expect(result.batches).toBe(golden.batches);
    expect(result.committedEnd).toBe(golden.committedEnd);
    expect(result.chainHead.toString('hex')).toBe(golden.chainHead);
    expect(golden.chainHead).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a session read backwards through prev gives its records in order', () => {
    const session1 = golden.entries.filter((e) => e.fields.session === 1);
    const chain = JournalReader.open(FIXTURE).sessionRecords(session1[session1.length - 1].position);
    expect(chain.map((r) => r.position)).toEqual(session1.map((e) => e.position));
  });

  it('a writer opens a copy without cutting anything and continues its chain', async () => {
    const dir = tmp('golden-copy');
    for (const file of fs.readdirSync(FIXTURE)) fs.copyFileSync(path.join(FIXTURE, file), path.join(dir, file));
    const { writer, recovery } = await openJournalWriter(dir);
    expect(recovery).toEqual({ truncatedBytes: 0, reason: null, removedSegments: [], created: false });
    expect(writer.position).toBe(golden.committedEnd);
    expect(writer.chainHead).toBe(golden.chainHead);
    await writer.append({ kind: 'duplicate-request', at: 1, originalSession: 1, idempotencyKey: 'again', route: '/transfer' }).durable;
    await writer.close();
    const { records, result } = readAll(dir, undefined, { verifyChain: true });
    expect(result.batches).toBe(golden.batches + 1);
    const commit = records[records.length - 1].record;
    expect(commit.kind === 'batch-commit' && Buffer.from(commit.prevHead).toString('hex')).toBe(golden.chainHead);
  });
});
