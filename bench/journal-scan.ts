import * as fs from 'node:fs';
import * as path from 'node:path';
import { openJournalWriter } from '../src/journal/open.js';
import { JournalReader } from '../src/journal/reader.js';
import { FrameScanner, type ScanResult } from '../src/journal/scanner.js';
import { nodeFileLayer } from '../src/journal/file-layer.js';
import {
  type BenchResult,
  benchOptions,
  collectGarbage,
  dirBytes,
  emit,
  log,
  makeTempDir,
  median,
  nowMs,
  removeDir,
  wanted,
} from './lib/common.js';
import { sessionRecords, valueRecords } from './lib/sample-records.js';

// Scan throughput (MB/s of journal bytes, 10^6 bytes) over two journals of
// TARGET_BYTES each: a session-like mix of small records (bench/lib/
// sample-records.ts, ~136 B a record) and 1 KiB `value` records. Cases:
// JournalReader.records() with and without verifyChain, FrameScanner.frames()
// alone (framing, CRC and batch checks, no decode), and a plain read of the
// same files in 1 MiB chunks (the I/O limit). The files are read from the
// page cache (they were just written), so these are CPU figures, not disk
// figures.

const options = benchOptions();
const TARGET_BYTES = options.quick ? 16e6 : 256e6;
/** Batches of about 64 small records, as `batch` mode with 64 appenders makes them. */
const MAX_BATCH_BYTES = 16 * 1024;

type RecordSource = typeof sessionRecords;

const JOURNALS: { name: string; generate: RecordSource }[] = [
  { name: 'mixed', generate: sessionRecords },
  { name: '1 KiB values', generate: valueRecords },
];

async function buildJournal(dir: string, generate: RecordSource): Promise<{ bytes: number; records: number }> {
  const { writer } = await openJournalWriter(dir, { durability: 'none', maxBatchBytes: MAX_BATCH_BYTES });
  let session = 0;
  let records = 0;
  let last: Promise<void> = Promise.resolve();
  while (writer.position < TARGET_BYTES) {
    session++;
    let prevPosition: number | null = null;
    const prev = () => prevPosition;
    for (const record of generate(session, session, prev)) {
      const appended = writer.append(record);
      prevPosition = appended.position;
      last = appended.durable;
      records++;
    }
    // Let batches seal at the configured size or at the end of each turn, like a server would.
    if (session % 16 === 0) {
      await last;
    }
  }
  await writer.close();
  return { bytes: writer.position, records };
}

interface Measured {
  ms: number;
  bytes: number;
  records: number;
}

interface Case {
  label: string;
  run: (dir: string) => Measured;
}

function finish(t0: number, result: ScanResult, records: number): Measured {
  const ms = nowMs() - t0;
  if (result.corruption || result.tailBytes !== 0) throw new Error(`unexpected scan result: ${JSON.stringify(result)}`);
  return { ms, bytes: result.committedEnd, records };
}

const CASES: Case[] = [
  {
    label: 'read files, 1 MiB chunks (I/O limit)',
    run: (dir) => {
      const t0 = nowMs();
      const buf = Buffer.allocUnsafe(1 << 20);
      let bytes = 0;
      for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.wbj')).sort()) {
        const fd = fs.openSync(path.join(dir, name), 'r');
        try {
          for (let n = fs.readSync(fd, buf, 0, buf.length, null); n > 0; n = fs.readSync(fd, buf, 0, buf.length, null)) bytes += n;
        } finally {
          fs.closeSync(fd);
        }
      }
      return { ms: nowMs() - t0, bytes, records: 0 };
    },
  },
  ...[false, true].map(
    (verifyChain): Case => ({
      label: `FrameScanner.frames(), no decode${verifyChain ? ', verifyChain' : ''}`,
      run: (dir) => {
        const t0 = nowMs();
        const reader = JournalReader.open(dir);
        const scanner = new FrameScanner(reader.layout, nodeFileLayer, { verifyChain });
        const frames = scanner.frames();
        let records = 0;
        let step = frames.next();
        while (!step.done) {
          records++;
          step = frames.next();
        }
        return finish(t0, step.value, records);
      },
    }),
  ),
  ...[false, true].map(
    (verifyChain): Case => ({
      label: `JournalReader.records()${verifyChain ? ', verifyChain' : ''}`,
      run: (dir) => {
        const t0 = nowMs();
        const reader = JournalReader.open(dir);
        const iterator = reader.records({ verifyChain });
        let records = 0;
        let step = iterator.next();
        while (!step.done) {
          records++;
          step = iterator.next();
        }
        return finish(t0, step.value, records);
      },
    }),
  ),
];

async function main(): Promise<void> {
  const tmp = makeTempDir('scan');
  const results: BenchResult[] = [];
  const meta: Record<string, unknown> = { maxBatchBytes: MAX_BATCH_BYTES, runs: options.runs, quick: options.quick };
  try {
    for (const journal of JOURNALS) {
      const cases = CASES.map((c) => ({ ...c, label: `${c.label}, ${journal.name}` })).filter((c) => wanted(options, c.label));
      if (cases.length === 0) continue;
      const dir = path.join(tmp, journal.name.replace(/\W+/g, '-'));
      const t0 = nowMs();
      const built = await buildJournal(dir, journal.generate);
      const segments = fs.readdirSync(dir).filter((n) => n.endsWith('.wbj')).length;
      log(
        `built ${journal.name} journal: ${(built.bytes / 1e6).toFixed(0)} MB, ${built.records.toLocaleString('en-US')} records, ${segments} segments, in ${((nowMs() - t0) / 1000).toFixed(1)} s`,
      );
      meta[journal.name] = {
        journalBytes: built.bytes,
        fileBytes: dirBytes(dir),
        segments,
        records: built.records,
        meanRecordBytes: Math.round(built.bytes / built.records),
      };
      const runs = new Map<string, Measured[]>(cases.map((c) => [c.label, []]));
      for (let round = -1; round < options.runs; round++) {
        for (const c of cases) {
          collectGarbage();
          const m = c.run(dir);
          if (round >= 0) runs.get(c.label)!.push(m);
          log(`${round < 0 ? 'warm-up' : `run ${round + 1}/${options.runs}`}  ${c.label}: ${(m.bytes / 1e6 / (m.ms / 1000)).toFixed(0)} MB/s`);
        }
      }
      const mine: BenchResult[] = [];
      for (const c of cases) {
        const ms = runs.get(c.label)!;
        const mbs = ms.map((m) => m.bytes / 1e6 / (m.ms / 1000));
        const result: BenchResult = {
          label: c.label,
          value: Math.round(median(mbs)),
          unit: 'MB/s',
          runs: mbs.map(Math.round),
          journal: journal.name,
          journalBytes: ms[0]?.bytes,
        };
        if (!c.label.startsWith('read files')) {
          result.framesPerSec = Math.round(median(ms.map((m) => m.records / (m.ms / 1000))));
          result.goal = { min: 300, text: '>= 300 MB/s' };
        }
        mine.push(result);
      }
      const limit = mine.find((r) => r.label.startsWith('read files'))?.value;
      if (limit) for (const r of mine) if (!r.label.startsWith('read files')) r.vsReadLimit = Math.round((r.value / limit) * 1000) / 1000;
      results.push(...mine);
      removeDir(dir);
    }
    emit({ name: 'journal-scan', results, meta });
  } finally {
    removeDir(tmp);
  }
}

await main();
