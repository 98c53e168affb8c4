import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, expect } from 'vitest';
import { JournalReader, nodeFileLayer, packValue, type FileLayer, type PositionedRecord, type ReadOptions } from '../../src/journal/index.js';
import type { ScanResult } from '../../src/journal/scanner.js';
import type { JournalWriter } from '../../src/journal/writer.js';
import type { AppendableRecord, UnknownRecord } from '../../src/model/records.js';
import { decoded, plain } from './arbitraries.js';

// Small helpers shared by the journal tests: temporary directories, reading a
// whole journal, and comparing what was appended with what was read back.

/** WINDBACK_LONG=1 selects the full size of the long campaigns. */
export const LONG = process.env.WINDBACK_LONG === '1';
export const size = (quick: number, full: number): number => (LONG ? full : quick);

/** Returns a maker of temporary directories that are removed after the file's tests. */
export function tempDirs(): (label?: string) => string {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
  });
  return (label = 'journal') => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `windback-${label}-`));
    made.push(dir);
    return dir;
  };
}

export interface Appended {
  position: number;
  record: AppendableRecord | UnknownRecord;
}

export interface ReadOutcome {
  /** Records (batch commits included) yielded before the end or the error. */
  records: PositionedRecord[];
  result: ScanResult | null;
  error: unknown;
}

/** Read every committed record; never throws (the error is returned). */
export function readOutcome(dir: string, layer: FileLayer = nodeFileLayer, options: ReadOptions = {}): ReadOutcome {
  const records: PositionedRecord[] = [];
  try {
    const reader = JournalReader.open(dir, layer);
    const it = reader.records(options);
    for (let step = it.next(); ; step = it.next()) {
      if (step.done) return { records, result: step.value, error: null };
      records.push(step.value);
    }
  } catch (error) {
    return { records, result: null, error };
  }
}

/** Read every committed record; throws on corruption. */
export function readAll(dir: string, layer: FileLayer = nodeFileLayer, options: ReadOptions = {}): { records: PositionedRecord[]; result: ScanResult } {
  const outcome = readOutcome(dir, layer, options);
  if (outcome.error) throw outcome.error;
  return { records: outcome.records, result: outcome.result! };
}

export function withoutCommits(records: PositionedRecord[]): PositionedRecord[] {
  return records.filter((r) => r.record.kind !== 'batch-commit');
}

/**
 * A cheap identity for a comparable value (see `plain` and `decoded`): equal
 * fingerprints mean equal values. Unequal ones fall back to toEqual, which
 * also gives a readable diff.
 */
export function fingerprint(value: unknown): string {
  return Buffer.from(packValue(value)).toString('base64');
}

function expectEqualValues(actual: unknown, expected: unknown, message: string): void {
  if (fingerprint(actual) === fingerprint(expected)) return;
  expect(actual, message).toEqual(expected);
}

/** Assert that `actual` (from a reader) holds exactly `expected` (what was appended), in order. */
export function expectSameRecords(actual: PositionedRecord[], expected: Appended[]): void {
  const got = withoutCommits(actual).map((r) => ({ position: r.position, record: plain(r.record) }));
  const want = expected.map((e) => ({ position: e.position, record: decoded(e.record) }));
  expect(got.map((r) => r.position)).toEqual(want.map((r) => r.position));
  for (let i = 0; i < want.length; i++) expectEqualValues(got[i], want[i], `record ${i} at position ${want[i].position}`);
}

/** Assert that `actual` equals the first `actual.length` frames of `original` (both as read by a reader). */
export function expectPrefixOf(actual: PositionedRecord[], original: PositionedRecord[]): void {
  expect(actual.length).toBeLessThanOrEqual(original.length);
  for (let i = 0; i < actual.length; i++) {
    expect(actual[i].position).toBe(original[i].position);
    expectEqualValues(plain(actual[i].record), plain(original[i].record), `frame ${i} at position ${original[i].position}`);
  }
}

/** Check that every acknowledged record is present at its position and intact; returns what is missing or altered. */
export function lostRecords(actual: PositionedRecord[], acknowledged: Iterable<Appended>): string[] {
  const byPosition = new Map(actual.map((r) => [r.position, r]));
  const lost: string[] = [];
  for (const { position, record } of acknowledged) {
    const found = byPosition.get(position);
    if (!found) {
      lost.push(`position ${position} (${record.kind}) is missing`);
      continue;
    }
    try {
      expectEqualValues(plain(found.record), decoded(record), '');
    } catch {
      lost.push(`position ${position} (${record.kind}) was altered: got ${found.record.kind}`);
    }
  }
  return lost;
}

/** Append one record (an unknown one through appendRaw). */
export function appendOne(writer: JournalWriter, record: AppendableRecord | UnknownRecord): { position: number; durable: Promise<void> } {
  return record.kind === 'unknown' ? writer.appendRaw(record.type, record.payload) : writer.append(record);
}

/** Append records in order and return their positions; waits for nothing. */
export function appendAll(writer: JournalWriter, records: (AppendableRecord | UnknownRecord)[]): Appended[] {
  return records.map((record) => ({ position: appendOne(writer, record).position, record }));
}

export function segmentNames(dir: string, layer: FileLayer = nodeFileLayer): string[] {
  return layer
    .list(dir)
    .filter((name) => /^\d{8}\.wbj$/.test(name))
    .sort();
}

/** Let the event loop turn `n` times. */
export async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** The error a function throws (fails the test if it does not throw). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  expect.fail('expected an error to be thrown');
}

export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  expect.fail('expected the promise to reject');
}
