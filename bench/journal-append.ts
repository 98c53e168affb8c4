import * as fs from 'node:fs';
import * as path from 'node:path';
import pino from 'pino';
import { maskedCrc } from '../src/journal/checksum.js';
import { encodePayload } from '../src/journal/codec.js';
import { FRAME_HEADER_SIZE } from '../src/journal/constants.js';
import { nodeFileLayer, type FileLayer } from '../src/journal/file-layer.js';
import { openJournalWriter, type OpenWriterOptions } from '../src/journal/open.js';
import type { JournalWriter } from '../src/journal/writer.js';
import type { Durability, ValueRecord } from '../src/model/records.js';
import {
  type BenchResult,
  benchOptions,
  collectGarbage,
  emit,
  log,
  makeTempDir,
  median,
  nowMs,
  removeDir,
  wanted,
} from './lib/common.js';

// Journal append throughput (records/s and MB/s) for 100 B and 1 KiB payloads,
// side by side with pino writing the same events as JSON lines and with the
// "raw limit": the same frame bytes copied into a 1 MiB buffer and written
// with fs.writeSync, no checksum and no hash (plus one fdatasync per group for
// the `batch` comparisons). Cases are interleaved run by run so that a noisy
// neighbour hurts every case alike. MB are 10^6 bytes of what reaches the
// file: frames and batch commits for the journal, JSON lines for pino.
//
// The `batch` cases run with the writer's defaults (preallocated space: zeros
// kept synced ahead of the write position, docs/journal-format.md section 9;
// the group commit's fdatasync on the event loop when no other is in flight),
// and without each, and report the group commits' fdatasync latency (median
// and p99; the preallocation steps' own syncs are left out).

const options = benchOptions();
const scale = options.quick ? 0.05 : 1;
const RECORD_TYPE_VALUE = 4;
const GROUP = 64;

interface Workload {
  size: number;
  record: (prev: number | null) => ValueRecord;
  /** The encoded payload of record(SAMPLE_PREV): what appendRaw writes. */
  payload: Uint8Array;
  /** The same event as a plain object, for pino. */
  event: Record<string, unknown>;
}

const NO_PREALLOCATION = 'no preallocation';
const SYNC_ON_POOL = 'fdatasync on the thread pool';

const SESSION = 48_213;
const SAMPLE_PREV = 123_456_789;

/** A `value` record whose msgpack payload is exactly `size` bytes. */
function workload(size: number): Workload {
  const make = (n: number) => {
    const value = 'x'.repeat(n);
    return (prev: number | null): ValueRecord => ({ kind: 'value', session: SESSION, prev, source: 'random-bytes', value });
  };
  let n = size;
  for (;;) {
    const length = encodePayload(make(n)(SAMPLE_PREV)).payload.byteLength;
    if (length === size) break;
    n -= length - size;
    if (n < 0) throw new Error(`cannot build a ${size}-byte payload`);
  }
  const record = make(n);
  const sample = record(SAMPLE_PREV);
  return {
    size,
    record,
    payload: encodePayload(sample).payload,
    event: { session: sample.session, prev: sample.prev, source: sample.source, value: sample.value },
  };
}

interface Measured {
  records: number;
  bytes: number;
  ms: number;
  extra?: Record<string, number>;
}

interface Case {
  label: string;
  group: string;
  size: number;
  run: (dir: string) => Promise<Measured>;
}

/** Writer settings a case varies: preallocation on or off, the group commit's fdatasync on the event loop or the thread pool. */
type WriterVariant = Pick<OpenWriterOptions, 'preallocateBytes' | 'inlineSync'>;

/** fdatasync latencies of one writer, in microseconds; a preallocation step's sync (after its zeros) is left out. */
interface SyncTimes {
  micros: number[];
}

/** The real file layer, timing every fdatasync that follows a batch write. */
function timedLayer(times: SyncTimes): FileLayer {
  return {
    ...nodeFileLayer,
    open(file, mode) {
      const real = nodeFileLayer.open(file, mode);
      let zeroFill = false;
      const timed = <T>(sync: () => T): T => {
        const counted = !zeroFill;
        zeroFill = false;
        const started = process.hrtime.bigint();
        const record = (): void => void times.micros.push(Number(process.hrtime.bigint() - started) / 1000);
        const result = sync();
        if (counted && result instanceof Promise) result.then(record, () => {});
        else if (counted) record();
        return result;
      };
      return {
        path: real.path,
        write: (data, position) => {
          zeroFill = false;
          real.write(data, position);
        },
        writeAsync: (data, position) => {
          zeroFill = true;
          return real.writeAsync!(data, position);
        },
        read: (into, offset, length, position) => real.read(into, offset, length, position),
        datasync: () => timed(() => real.datasync()),
        datasyncSync: () => timed(() => real.datasyncSync()),
        size: () => real.size(),
        truncate: (length) => real.truncate(length),
        close: () => real.close(),
      };
    },
  };
}

async function openWriter(dir: string, durability: Durability, variant: WriterVariant = {}, times?: SyncTimes): Promise<JournalWriter> {
  const layer = times ? timedLayer(times) : undefined;
  const { writer } = await openJournalWriter(path.join(dir, 'journal'), { durability, layer, ...variant });
  return writer;
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

function writerExtra(writer: JournalWriter, times?: SyncTimes): Record<string, number> {
  const { stats } = writer;
  const extra: Record<string, number> = {
    recordsPerBatch: stats.records / Math.max(1, stats.batches),
    syncs: stats.syncs,
    meanSyncMicros: stats.syncs > 0 ? stats.syncNanos / stats.syncs / 1000 : 0,
  };
  if (times) {
    extra.syncMedianMicros = Math.round(percentile(times.micros, 0.5));
    extra.syncP99Micros = Math.round(percentile(times.micros, 0.99));
    extra.preallocatedMB = Math.round(stats.preallocatedBytes / 1e5) / 10;
  }
  return extra;
}

/** Fire appends in a loop, await the last record's durable promise. */
function journalFire(w: Workload, count: number, durability: Durability, encode: 'raw' | 'msgpack') {
  return async (dir: string): Promise<Measured> => {
    const writer = await openWriter(dir, durability);
    const start0 = writer.position;
    const t0 = nowMs();
    let last: Promise<void> | null = null;
    if (encode === 'raw') {
      for (let i = 0; i < count; i++) last = writer.appendRaw(RECORD_TYPE_VALUE, w.payload).durable;
    } else {
      let prev: number | null = null;
      for (let i = 0; i < count; i++) {
        const appended = writer.append(w.record(prev));
        prev = appended.position;
        last = appended.durable;
      }
    }
    await last;
    const ms = nowMs() - t0;
    const bytes = writer.position - start0;
    const extra = writerExtra(writer);
    await writer.close();
    return { records: count, bytes, ms, extra };
  };
}

/** Append GROUP records, await the group's durable promise, repeat. */
function journalAwaitEachBatch(w: Workload, count: number, durability: Durability) {
  return async (dir: string): Promise<Measured> => {
    const writer = await openWriter(dir, durability);
    const start0 = writer.position;
    const t0 = nowMs();
    for (let done = 0; done < count; done += GROUP) {
      let last: Promise<void> | null = null;
      for (let i = 0; i < GROUP; i++) last = writer.appendRaw(RECORD_TYPE_VALUE, w.payload).durable;
      await last;
    }
    const ms = nowMs() - t0;
    const bytes = writer.position - start0;
    const extra = writerExtra(writer);
    await writer.close();
    return { records: Math.ceil(count / GROUP) * GROUP, bytes, ms, extra };
  };
}

/** `appenders` concurrent loops, each awaiting its record's durable promise before the next. */
function journalAppenders(
  w: Workload,
  count: number,
  durability: Durability,
  appenders: number,
  encode: 'raw' | 'msgpack',
  variant: WriterVariant = {},
) {
  return async (dir: string): Promise<Measured> => {
    const times: SyncTimes | undefined = durability === 'none' ? undefined : { micros: [] };
    const writer = await openWriter(dir, durability, variant, times);
    const start0 = writer.position;
    const each = Math.ceil(count / appenders);
    const t0 = nowMs();
    const loop = async (): Promise<void> => {
      let prev: number | null = null;
      for (let i = 0; i < each; i++) {
        if (encode === 'raw') {
          await writer.appendRaw(RECORD_TYPE_VALUE, w.payload).durable;
        } else {
          const appended = writer.append(w.record(prev));
          prev = appended.position;
          await appended.durable;
        }
      }
    };
    await Promise.all(Array.from({ length: appenders }, loop));
    const ms = nowMs() - t0;
    const bytes = writer.position - start0;
    const extra = writerExtra(writer, times);
    await writer.close();
    return { records: each * appenders, bytes, ms, extra };
  };
}

/** pino to a file through pino.destination({sync: false, minLength: 4096}). */
function pinoLines(w: Workload, count: number, yieldEvery: number | null) {
  return async (dir: string): Promise<Measured> => {
    const file = path.join(dir, 'pino.log');
    const dest = pino.destination({ dest: file, sync: false, minLength: 4096 });
    const fd = (dest as unknown as { fd: number }).fd;
    await new Promise<void>((resolve) => (fd >= 0 ? resolve() : dest.once('ready', () => resolve())));
    // No pid, hostname or time: pino writes the same fields as the journal record (plus "level").
    const logger = pino({ base: null, timestamp: false }, dest);
    const event = w.event;
    const t0 = nowMs();
    for (let i = 0; i < count; i++) {
      logger.info(event);
      if (yieldEvery !== null && i % yieldEvery === yieldEvery - 1) await new Promise<void>((r) => setImmediate(r));
    }
    await new Promise<void>((resolve, reject) => dest.flush((error) => (error ? reject(error) : resolve())));
    const ms = nowMs() - t0;
    await new Promise<void>((resolve) => {
      dest.once('close', () => resolve());
      dest.end();
    });
    return { records: count, bytes: fs.statSync(file).size, ms };
  };
}

/** The frame (header, CRC and payload) that appendRaw writes, built once. */
function frameOf(payload: Uint8Array): Buffer {
  const frame = Buffer.alloc(FRAME_HEADER_SIZE + payload.byteLength);
  frame.writeUInt32LE(payload.byteLength, 4);
  frame[8] = RECORD_TYPE_VALUE;
  frame.set(payload, FRAME_HEADER_SIZE);
  frame.writeUInt32LE(maskedCrc(frame.subarray(4)), 0);
  return frame;
}

/**
 * The raw limit: copy the same frame bytes into a 1 MiB buffer and writeSync
 * it when full. With `group`, write after every `group` records and
 * fdatasync each write, as a group commit of that size would.
 */
function rawLimit(w: Workload, count: number, group: number | null) {
  return async (dir: string): Promise<Measured> => {
    const frame = frameOf(w.payload);
    const fd = fs.openSync(path.join(dir, 'raw.bin'), 'wx', 0o600);
    const buf = Buffer.allocUnsafe(1 << 20);
    let at = 0;
    let bytes = 0;
    let syncs = 0;
    const t0 = nowMs();
    for (let i = 0; i < count; i++) {
      if (at + frame.length > buf.length) {
        fs.writeSync(fd, buf, 0, at);
        bytes += at;
        at = 0;
      }
      buf.set(frame, at);
      at += frame.length;
      if (group !== null && i % group === group - 1) {
        fs.writeSync(fd, buf, 0, at);
        bytes += at;
        at = 0;
        fs.fdatasyncSync(fd);
        syncs++;
      }
    }
    if (at > 0) {
      fs.writeSync(fd, buf, 0, at);
      bytes += at;
      if (group !== null) {
        fs.fdatasyncSync(fd);
        syncs++;
      }
    }
    const ms = nowMs() - t0;
    fs.closeSync(fd);
    return { records: count, bytes, ms, extra: { syncs } };
  };
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const size of [100, 1024]) {
    const w = workload(size);
    const s = size === 100 ? '100 B' : '1 KiB';
    // Counts: about 0.3 to 1.5 s per run at the rates seen on the reference machine.
    const fire = Math.round((size === 100 ? 1_000_000 : 150_000) * scale);
    const awaited = Math.round((size === 100 ? 400_000 : 100_000) * scale);
    const batch1 = Math.round(10_000 * scale);
    const batch32 = Math.round((size === 100 ? 100_000 : 60_000) * scale);
    const batch64 = Math.round((size === 100 ? 200_000 : 100_000) * scale);
    const off: WriterVariant = { preallocateBytes: 0 };
    const pool: WriterVariant = { inlineSync: false };
    out.push(
      { label: `none, fire loop, appendRaw, ${s}`, group: 'none', size, run: journalFire(w, fire, 'none', 'raw') },
      { label: `none, fire loop, append (msgpack), ${s}`, group: 'none', size, run: journalFire(w, fire, 'none', 'msgpack') },
      { label: `none, await each batch of ${GROUP}, appendRaw, ${s}`, group: 'none', size, run: journalAwaitEachBatch(w, awaited, 'none') },
      { label: `pino, fire loop, ${s}`, group: 'none', size, run: pinoLines(w, fire, null) },
      { label: `pino, yield every ${GROUP}, ${s}`, group: 'none', size, run: pinoLines(w, awaited, GROUP) },
      { label: `raw limit, 1 MiB writeSync, ${s}`, group: 'none', size, run: rawLimit(w, fire, null) },
      { label: `batch, 1 appender, appendRaw, ${s}`, group: 'batch', size, run: journalAppenders(w, batch1, 'batch', 1, 'raw') },
      { label: `batch, 1 appender, appendRaw, ${s}, ${NO_PREALLOCATION}`, group: 'batch', size, run: journalAppenders(w, batch1, 'batch', 1, 'raw', off) },
      { label: `batch, 1 appender, appendRaw, ${s}, ${SYNC_ON_POOL}`, group: 'batch', size, run: journalAppenders(w, batch1, 'batch', 1, 'raw', pool) },
      { label: `batch, 32 appenders, appendRaw, ${s}`, group: 'batch', size, run: journalAppenders(w, batch32, 'batch', 32, 'raw') },
      { label: `batch, 32 appenders, appendRaw, ${s}, ${NO_PREALLOCATION}`, group: 'batch', size, run: journalAppenders(w, batch32, 'batch', 32, 'raw', off) },
      { label: `batch, 32 appenders, appendRaw, ${s}, ${SYNC_ON_POOL}`, group: 'batch', size, run: journalAppenders(w, batch32, 'batch', 32, 'raw', pool) },
      { label: `batch, ${GROUP} appenders, appendRaw, ${s}`, group: 'batch', size, run: journalAppenders(w, batch64, 'batch', GROUP, 'raw') },
      {
        label: `batch, ${GROUP} appenders, appendRaw, ${s}, ${NO_PREALLOCATION}`,
        group: 'batch',
        size,
        run: journalAppenders(w, batch64, 'batch', GROUP, 'raw', off),
      },
      {
        label: `batch, ${GROUP} appenders, append (msgpack), ${s}`,
        group: 'batch',
        size,
        run: journalAppenders(w, batch64, 'batch', GROUP, 'msgpack'),
      },
      { label: `raw limit, fdatasync per 1 record, ${s}`, group: 'batch', size, run: rawLimit(w, batch1, 1) },
      { label: `raw limit, fdatasync per ${GROUP} records, ${s}`, group: 'batch', size, run: rawLimit(w, batch64, GROUP) },
    );
  }
  return out.filter((c) => wanted(options, c.label));
}

async function main(): Promise<void> {
  const list = cases();
  const runs = new Map<string, Measured[]>(list.map((c) => [c.label, []]));
  // Warm-up: one small pass of everything, so the JIT has seen each path.
  for (let round = -1; round < options.runs; round++) {
    for (const c of list) {
      const dir = makeTempDir('append');
      try {
        collectGarbage();
        const m = await c.run(dir);
        if (round >= 0) runs.get(c.label)!.push(m);
        log(
          `${round < 0 ? 'warm-up' : `run ${round + 1}/${options.runs}`}  ${c.label}: ${Math.round(m.records / (m.ms / 1000)).toLocaleString('en-US')} records/s`,
        );
      } finally {
        removeDir(dir);
      }
    }
  }

  const results: BenchResult[] = [];
  for (const c of list) {
    const ms = runs.get(c.label)!;
    const rates = ms.map((m) => m.records / (m.ms / 1000));
    const mbs = ms.map((m) => m.bytes / 1e6 / (m.ms / 1000));
    const extraKeys = Object.keys(ms[0]?.extra ?? {});
    const extra: Record<string, number> = {};
    for (const k of extraKeys) extra[k] = median(ms.map((m) => m.extra![k]));
    const result: BenchResult = {
      label: c.label,
      value: Math.round(median(rates)),
      unit: 'records/s',
      runs: rates.map(Math.round),
      mbPerSec: Math.round(median(mbs) * 10) / 10,
      recordsPerRun: ms[0]?.records,
      bytesPerRecord: ms[0] ? Math.round((ms[0].bytes / ms[0].records) * 10) / 10 : undefined,
      group: c.group,
      payloadBytes: c.size,
      ...extra,
    };
    if (c.label === 'none, fire loop, appendRaw, 100 B') result.goal = { min: 1_000_000, text: '>= 1,000,000 records/s and faster than pino' };
    if (c.label === `batch, ${GROUP} appenders, appendRaw, 100 B`) result.goal = { min: 200_000, text: '>= 200,000 records/s' };
    results.push(result);
  }
  // Ratios against the peers: the median of the per-round ratios. Each round
  // runs every case once, close together in time, so a ratio within a round
  // cancels most of what a busy neighbour does to both sides.
  const pairedRatio = (label: string, other: string): number | undefined => {
    const mine = runs.get(label);
    const theirs = runs.get(other);
    if (!mine || !theirs || theirs.length !== mine.length || mine.length === 0) return undefined;
    const ratios = mine.map((m, i) => m.records / m.ms / (theirs[i].records / theirs[i].ms));
    return Math.round(median(ratios) * 100) / 100;
  };
  for (const r of results) {
    const s = r.payloadBytes === 100 ? '100 B' : '1 KiB';
    if (r.label.startsWith('none,')) {
      r.vsPino = pairedRatio(r.label, `pino, fire loop, ${s}`);
      r.vsRawLimit = pairedRatio(r.label, `raw limit, 1 MiB writeSync, ${s}`);
    } else if (r.label.startsWith('batch, 1 appender')) {
      r.vsRawLimit = pairedRatio(r.label, `raw limit, fdatasync per 1 record, ${s}`);
    } else if (r.label.startsWith('batch,')) {
      r.vsRawLimit = pairedRatio(r.label, `raw limit, fdatasync per ${GROUP} records, ${s}`);
    }
    // The defaults (preallocated space, the sync on the event loop) against each alternative, same appenders.
    if (/^batch, \d+ appenders?, appendRaw, [^,]+$/.test(r.label)) {
      r.vsNoPreallocation = pairedRatio(r.label, `${r.label}, ${NO_PREALLOCATION}`);
      r.vsThreadPoolSync = pairedRatio(r.label, `${r.label}, ${SYNC_ON_POOL}`);
    }
  }
  emit({ name: 'journal-append', results, meta: { runs: options.runs, quick: options.quick, group: GROUP } });
}

await main();
