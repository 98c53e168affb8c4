// Makes the golden journal of format version 1: fixtures/journal-v1/ (a small
// journal in several segments holding at least one record of every kind) and
// fixtures/journal-v1.json (its records, decoded, as JSON). Every later
// Windback must read that journal and find exactly those records
// (test/journal/golden.test.ts).
//
// The fixture was made once and committed; it is not meant to be remade. The
// journal id is random, so running this again gives different bytes (same
// records). This script documents how the fixture was made:
//
//   npx tsx scripts/make-golden-fixture.ts [--force] [target-dir]
//
// JSON encoding of values that JSON lacks: binary {"$base64": "..."}, BigInt
// {"$bigint": "123"}, Date {"$date": "<ISO 8601>"}, undefined {"$undefined": true},
// NaN and infinities {"$number": "NaN" | "Infinity" | "-Infinity"}.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { JournalReader, openJournalWriter } from '../src/journal/index.js';
import type { AppendableRecord, JournalRecord } from '../src/model/records.js';

const NOW = 1_767_225_600_000; // 2026-01-01T00:00:00Z, every timestamp the writer adds
const SEGMENT_BYTES = 640;

/** The records, in batches. Values exercise the codec: -0, floats, 64-bit and larger integers, bin, Date, undefined, Unicode. */
const BATCHES: (AppendableRecord | { kind: 'unknown'; type: number; payload: Uint8Array })[][] = [
  [
    {
      kind: 'process-start',
      at: NOW,
      codeVersion: 'sha256-3f1c',
      app: 'bank',
      config: { port: 8080, durability: 'batch', features: ['retry', 'resume'], limits: { body: 1048576 } },
      node: 'v20.20.2',
      v8: '11.3.244.8-node.30',
      timeZone: 'Europe/Paris',
      locale: 'fr-FR',
      pid: 4242,
      durability: 'batch',
    },
  ],
  [
    {
      kind: 'write-tx',
      session: null,
      prev: null,
      tx: 1,
      committedAt: NOW + 1,
      readAtTx: 0,
      changes: [],
      readDigest: new Uint8Array(32),
      result: 'CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT, cents INTEGER, photo BLOB)',
      migration: '001-accounts',
    },
  ],
  [
    {
      kind: 'session-start',
      session: 1,
      prev: null,
      at: NOW + 2.5,
      sessionKind: 'transfer',
      route: '/transfer',
      transport: 'json',
      input: { from: 1, to: 2, cents: 1250, note: 'loyer — janvier ✓' },
      codeVersion: 'sha256-3f1c',
      startedAfterTx: 1,
      idempotencyKey: 'idem-7',
      meta: { 'user-agent': 'curl/8.5', 'x-request-id': 'r-1' },
    },
    { kind: 'value', session: 1, prev: 0, source: 'random-seed', value: 2654435769 },
    { kind: 'value', session: 1, prev: 0, source: 'date', value: new Date(NOW + 3) },
  ],
  [
    {
      kind: 'call-start',
      session: 1,
      prev: 0,
      call: 0,
      name: 'fx.rate',
      request: { pair: 'EURUSD', at: undefined, amount: 12.5 },
      idempotencyKey: 'idem-7/0',
      at: NOW + 4,
    },
    { kind: 'call-result', session: 1, prev: 0, call: 0, ok: true, value: { rate: 1.0832, asOf: -0 }, at: NOW + 5 },
  ],
  [
    {
      kind: 'write-tx',
      session: 1,
      prev: 0,
      tx: 2,
      committedAt: NOW + 6,
      readAtTx: 1,
      changes: [
        { table: 'accounts', key: 1, before: { owner: 'ana', cents: 10000n, photo: null }, after: { owner: 'ana', cents: 8750n, photo: null } },
        { table: 'accounts', key: 9007199254740993n, before: null, after: { owner: 'bo', cents: -1250n, photo: new Uint8Array([0xff, 0xd8, 0xff]) } },
      ],
      readDigest: new Uint8Array(Array.from({ length: 32 }, (_, i) => i)),
      result: { ok: true, balance: 8750 },
      migration: null,
    },
    // Written before read-tx gained its trailing `error` and `write` fields: the
    // committed fixture holds this 5-field form, which readers must keep reading.
    { kind: 'read-tx', session: 1, prev: 0, readAtTx: 2, readDigest: new Uint8Array([1, 2, 3, 4]), result: [{ id: 1, cents: 8750n }] } as unknown as AppendableRecord,
    { kind: 'checkpoint', session: 1, prev: 0, at: NOW + 7, label: 'after-debit', state: { step: 2, big: 2n ** 70n, ratio: 0.1 }, randomDraws: 3 },
  ],
  [
    { kind: 'session-attempt', session: 1, prev: 0, at: NOW + 8, attempt: 2, reason: 'retry', fromCheckpoint: 0, codeVersion: 'sha256-3f1c' },
    {
      kind: 'response',
      session: 1,
      prev: 0,
      at: NOW + 9,
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: new TextEncoder().encode('{"ok":true,"balance":8750}'),
    },
    { kind: 'session-end', session: 1, prev: 0, at: NOW + 10, status: 'ok', error: null, randomDraws: 3 },
  ],
  [
    { kind: 'duplicate-request', at: NOW + 11, originalSession: 1, idempotencyKey: 'idem-7', route: '/transfer' },
    { kind: 'snapshot', at: NOW + 12, tx: 2, file: 'snapshots/tx-2.sqlite', bytes: 8192, sha256: 'ab'.repeat(32) },
  ],
  [
    {
      kind: 'session-start',
      session: 2,
      prev: null,
      at: NOW + 13,
      sessionKind: 'report',
      route: 'report.monthly',
      transport: 'json-rpc',
      input: [2026, 1],
      codeVersion: 'sha256-3f1c',
      startedAfterTx: 2,
      idempotencyKey: null,
      meta: {},
    },
    { kind: 'suspension', session: 2, prev: 0, at: NOW + 14, sessionKind: 'report', missing: { call: 'fx.rate', reason: 'offline' } },
    {
      kind: 'session-end',
      session: 2,
      prev: 0,
      at: NOW + 15,
      status: 'error',
      error: { name: 'UpstreamError', message: 'fx.rate unavailable', stack: 'UpstreamError: fx.rate unavailable\n    at report (report.ts:12:9)', retryable: true },
      randomDraws: 0,
    },
  ],
  [
    // A record of a type this version does not know (below 128): readers return it as `unknown`.
    { kind: 'unknown', type: 100, payload: new Uint8Array([0x92, 0x01, 0xa1, 0x78]) },
    { kind: 'value', session: 2, prev: 0, source: 'uuid', value: '0b6f2c1e-8a51-4a5e-9a2b-5d2f1c3e4b6a' },
  ],
];

function toJson(value: unknown): unknown {
  if (value === undefined) return { $undefined: true };
  if (typeof value === 'bigint') return { $bigint: value.toString() };
  if (typeof value === 'number') return Number.isFinite(value) ? (Object.is(value, -0) ? 0 : value) : { $number: String(value) };
  if (value instanceof Uint8Array) return { $base64: Buffer.from(value).toString('base64') };
  if (value instanceof Date) return { $date: value.toISOString() };
  if (Array.isArray(value)) return value.map(toJson);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  return value;
}

/** JSON with sorted keys, for comparing values whatever their key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const force = args.includes('--force');
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const target = path.resolve(args.find((a) => !a.startsWith('--')) ?? path.join(root, 'fixtures/journal-v1'));
  const jsonPath = `${target}.json`;
  if (fs.existsSync(target) && !force) throw new Error(`${target} exists; the golden fixture is made once (use --force to remake it)`);
  fs.rmSync(target, { recursive: true, force: true });

  const { writer } = await openJournalWriter(target, { durability: 'batch', segmentBytes: SEGMENT_BYTES, now: () => NOW });
  // Fill in `prev`: each session record points at the same session's previous one.
  const last = new Map<number, number>();
  const appended = new Map<number, unknown>();
  for (const batch of BATCHES) {
    for (const record of batch) {
      if (record.kind === 'unknown') {
        appended.set(writer.appendRaw(record.type, record.payload).position, record);
        continue;
      }
      const session = 'session' in record ? record.session : null;
      if (session !== null && 'prev' in record) (record as { prev: number | null }).prev = last.get(session) ?? null;
      const { position } = writer.append(record);
      appended.set(position, record);
      if (session !== null) last.set(session, position);
    }
    await writer.flush();
  }
  await writer.close();

  const reader = JournalReader.open(target);
  const records: { position: number; kind: string; type?: number; fields: unknown }[] = [];
  const it = reader.records({ verifyChain: true });
  let step = it.next();
  for (; !step.done; step = it.next()) {
    const { position, record } = step.value;
    const { kind, ...fields } = record as JournalRecord & Record<string, unknown>;
    // What was read back must be what was appended (section 7's decoding rules applied by toJson).
    if (kind !== 'batch-commit' && canonical(toJson(appended.get(position))) !== canonical(toJson(record))) {
      throw new Error(`record at ${position} did not read back as appended`);
    }
    records.push({ position, kind, fields: toJson(fields) });
  }
  const result = step.value;
  if (result.tailBytes !== 0 || result.corruption) throw new Error('the fixture did not read back cleanly');
  const description = {
    format: 1,
    description: 'Golden journal of format version 1: every record below, in order, at its position. See scripts/make-golden-fixture.ts.',
    segments: reader.layout.segments.map((s) => ({ file: path.basename(s.path), baseOffset: s.header.baseOffset, bytes: s.fileSize })),
    journalId: reader.layout.segments[0].header.journalId.toString('hex'),
    createdAt: NOW,
    records: result.records,
    batches: result.batches,
    committedEnd: result.committedEnd,
    chainHead: result.chainHead.toString('hex'),
    entries: records,
  };
  // One line per record keeps the description small and easy to diff.
  const { entries, ...summary } = description;
  const lines = entries.map((entry) => `    ${JSON.stringify(entry)}`).join(',\n');
  fs.writeFileSync(jsonPath, `${JSON.stringify(summary, null, 2).replace(/\n}$/, `,\n  "entries": [\n${lines}\n  ]\n}`)}\n`);
  console.log(`wrote ${target} (${description.segments.length} segments, ${records.length} records) and ${jsonPath}`);
}

await main();
