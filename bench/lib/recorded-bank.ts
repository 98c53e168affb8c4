import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AppendableRecord } from '../../src/model/records.js';
import { log } from './common.js';

// A REAL recorded journal of the demo bank (fixtures/apps/bank/app.ts), for
// replay benchmarks: startServer() (src/runtime/server.ts, the compiled copy in
// dist/) with durability 'none' records `accounts` account openings and then
// `sessions` transfers driven over HTTP by `concurrency` keep-alive clients;
// the fraud-scoring stub (fixtures/apps/bank/stub.ts) runs in a child process
// of its own and answers the transfers' external calls. Every transfer is a
// real session with its code bundle, so `replay run` and `replay verify`
// re-execute it.
//
// Optionally the journal is then padded with FILLER sessions appended through
// the journal writer API (openJournalWriter) after the server has stopped, up
// to `fillTo` sessions in all, so that the catalog holds a realistic number
// of sessions. Filler sessions are of kind `filler` (not a kind the app has),
// three records each (session-start, response, session-end), no transaction:
// they change neither the database nor any transfer's records, and must never
// be selected for replay (select with --kind transfer).
//
// Journals are cached under $WINDBACK_BENCH_CACHE (default
// <tmpdir>/windback-bench/), keyed by the sources that decide their content
// and by the options; a directory is complete once its `bench-journal.json`
// exists. Delete the directories to reclaim the space.

const root = path.dirname(path.dirname(path.dirname(fileURLToPath(import.meta.url))));
const dist = path.join(root, 'dist');
export const BANK_APP = path.join(root, 'fixtures', 'apps', 'bank', 'app.ts');
const STUB = path.join(root, 'fixtures', 'apps', 'bank', 'stub.ts');
export const FILLER_KIND = 'filler';

/**
 * What the cache key covers: the app and its stub, the workload (this file,
 * through WORKLOAD_VERSION) and the record format. Not the runtime or the
 * executor: a journal recorded by an earlier build must still replay (that
 * is the product's promise), so a change there does not call for a new
 * recording. A cached journal that no longer replays makes the benchmark
 * fail; delete the cache directory then.
 */
const SOURCES = ['fixtures/apps/bank/app.ts', 'fixtures/apps/bank/stub.ts', 'src/model/records.ts', 'src/journal/codec.ts', 'src/journal/constants.ts'];
/** Bump when the workload below (accounts, amounts, filler records) changes. */
const WORKLOAD_VERSION = 1;

export interface RecordOptions {
  /** Transfer sessions to record. */
  sessions: number;
  /** LiveStore snapshot interval, in write transactions. */
  snapshotEvery: number;
  /** Accounts opened first (default 200). */
  accounts?: number;
  /** Concurrent HTTP clients (default 32). */
  concurrency?: number;
  /** Pad with filler sessions up to this many sessions in all (default: no padding). */
  fillTo?: number;
}

export interface RecordedJournal {
  dir: string;
  /** Transfer sessions recorded. */
  transfers: number;
  /** Sessions in the journal (openings, transfers, filler). */
  sessions: number;
  filler: number;
  accounts: number;
  lastTx: number;
  snapshotEvery: number;
  snapshots: number;
  /** Session ids of the transfers: firstTransfer .. firstTransfer + transfers - 1. */
  firstTransfer: number;
  concurrency: number;
  /** How long recording took: wall ms per transfer session, and the bench process's CPU per session. */
  recordMsPerSession: number;
  recordCpuMsPerSession: number;
  recordSeconds: number;
  fillSeconds: number;
  journalBytes: number;
  statuses: Record<string, number>;
  cached: boolean;
}

export function cacheRoot(): string {
  return process.env.WINDBACK_BENCH_CACHE ?? path.join(os.tmpdir(), 'windback-bench');
}

export function sourcesHash(): string {
  const h = createHash('sha256').update(`workload ${WORKLOAD_VERSION}\0`);
  for (const file of SOURCES) h.update(file).update('\0').update(fs.readFileSync(path.join(root, file)));
  return h.digest('hex').slice(0, 12);
}

async function load<T>(relative: string): Promise<T> {
  const file = path.join(dist, relative);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run npm run build (npm run bench does)`);
  return (await import(file)) as T;
}

/** The cached journal for these options, recorded (and padded) first if needed. */
export async function recordedBankJournal(options: RecordOptions): Promise<RecordedJournal> {
  const accounts = options.accounts ?? 200;
  const concurrency = options.concurrency ?? 32;
  const base = `bank-${sourcesHash()}-n${options.sessions}-a${accounts}-c${concurrency}-snap${options.snapshotEvery}`;
  const make = (dir: string): Promise<RecordedJournal> => record(dir, { ...options, accounts, concurrency });
  if (!options.fillTo) return cached(base, make);
  const fillTo = options.fillTo;
  const padded = `${base}-fill${fillTo}`;
  if (isCached(padded)) return cached(padded, () => Promise.reject(new Error('unreachable')));
  // Record (or reuse) the unpadded journal, pad a copy, and drop the unpadded one: nothing else uses it.
  const keep = isCached(base);
  const recorded = await cached(base, make);
  const result = await cached(padded, async (dir) => {
    copyJournal(recorded.dir, dir);
    return fill(dir, recorded, fillTo);
  });
  if (!keep) fs.rmSync(recorded.dir, { recursive: true, force: true });
  return result;
}

function isCached(name: string): boolean {
  return fs.existsSync(path.join(cacheRoot(), name, 'bench-journal.json'));
}

/** Copy a journal directory; snapshot files are never modified, so they are hard-linked where possible. */
function copyJournal(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.name === 'bench-journal.json') continue;
    if (entry.isDirectory() && entry.name === 'snapshots') {
      fs.mkdirSync(target);
      for (const name of fs.readdirSync(source)) {
        try {
          fs.linkSync(path.join(source, name), path.join(target, name));
        } catch {
          fs.copyFileSync(path.join(source, name), path.join(target, name));
        }
      }
    } else if (entry.isDirectory()) {
      fs.cpSync(source, target, { recursive: true });
    } else {
      fs.copyFileSync(source, target);
    }
  }
}

async function cached(name: string, make: (dir: string) => Promise<RecordedJournal>): Promise<RecordedJournal> {
  const dir = path.join(cacheRoot(), name);
  const marker = path.join(dir, 'bench-journal.json');
  if (fs.existsSync(marker)) return { ...(JSON.parse(fs.readFileSync(marker, 'utf8')) as RecordedJournal), dir, cached: true };
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const made = await make(dir);
  // Build the catalog now, so that no measured command pays for it.
  const { Catalog } = await load<typeof import('../../src/catalog/index.js')>('catalog/index.js');
  const catalog = Catalog.open(dir);
  made.lastTx = catalog.lastTx;
  made.sessions = catalog.sessionCount();
  made.snapshots = catalog.snapshots().length;
  catalog.close();
  made.journalBytes = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.wbj'))
    .reduce((t, f) => t + fs.statSync(path.join(dir, f)).size, 0);
  fs.writeFileSync(marker, `${JSON.stringify({ ...made, dir, cached: false }, null, 2)}\n`);
  return made;
}

/** mulberry32, so that the workload is the same on every machine. */
function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function startStubProcess(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', STUB, '0'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      out += chunk;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the bank stub exited with code ${code}`)));
  });
  return { url, child };
}

async function record(dir: string, o: Required<Omit<RecordOptions, 'fillTo'>>): Promise<RecordedJournal> {
  const { startServer } = await load<typeof import('../../src/runtime/server.js')>('runtime/server.js');
  log(`recording ${o.sessions} bank transfers (snapshot every ${o.snapshotEvery} tx, ${o.concurrency} clients) into ${dir}`);
  const stub = await startStubProcess();
  const began = performance.now();
  const server = await startServer(BANK_APP, {
    journal: dir,
    durability: 'none',
    snapshotEvery: o.snapshotEvery,
    config: { fraudUrl: stub.url },
    timeZone: 'UTC',
    locale: 'en-US',
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency });
  const statuses: Record<string, number> = {};
  const post = (route: string, body: unknown): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      const data = JSON.stringify(body);
      const req = http.request(
        `${server.url}${route}`,
        { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  let recordMs = 0;
  let cpuMs = 0;
  try {
    const ids: string[] = [];
    for (let i = 0; i < o.accounts; i++) {
      const r = await post('/open', { owner: `customer-${i + 1}`, initial: 1_000_000_000 });
      if (r.status !== 200) throw new Error(`opening an account answered ${r.status}: ${r.text}`);
      ids.push((JSON.parse(r.text) as { id: string }).id);
    }
    const random = rng(20261128);
    const work = Array.from({ length: o.sessions }, () => {
      const a = Math.floor(random() * ids.length);
      let b = Math.floor(random() * (ids.length - 1));
      if (b >= a) b++;
      // Under 50,000 cents the stub's risk stays below 0.4: no transfer is refused.
      return { from: ids[a], to: ids[b], amount: 100 + Math.floor(random() * 49_900) };
    });
    let next = 0;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    let lastReport = t0;
    await Promise.all(
      Array.from({ length: o.concurrency }, async () => {
        while (next < work.length) {
          const r = await post('/transfer', work[next++]);
          statuses[r.status] = (statuses[r.status] ?? 0) + 1;
          const now = performance.now();
          if (now - lastReport > 15_000) {
            lastReport = now;
            log(`  ${next} / ${work.length} transfers, ${((next / (now - t0)) * 1000).toFixed(0)}/s`);
          }
        }
      }),
    );
    recordMs = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    cpuMs = (cpu.user + cpu.system) / 1000;
  } finally {
    agent.destroy();
    await server.close();
    stub.child.kill();
  }
  const seconds = (performance.now() - began) / 1000;
  log(`recorded in ${seconds.toFixed(1)} s: ${(recordMs / o.sessions).toFixed(2)} ms a transfer (${((o.sessions / recordMs) * 1000).toFixed(0)}/s), statuses ${JSON.stringify(statuses)}`);
  if (Object.keys(statuses).some((s) => s !== '200')) throw new Error(`some transfers failed while recording: ${JSON.stringify(statuses)}`);
  return {
    dir,
    transfers: o.sessions,
    sessions: 0,
    filler: 0,
    accounts: o.accounts,
    lastTx: 0,
    snapshotEvery: o.snapshotEvery,
    snapshots: 0,
    firstTransfer: o.accounts + 1,
    concurrency: o.concurrency,
    recordMsPerSession: recordMs / o.sessions,
    recordCpuMsPerSession: cpuMs / o.sessions,
    recordSeconds: seconds,
    fillSeconds: 0,
    journalBytes: 0,
    statuses,
    cached: false,
  };
}

/** Append filler sessions through the writer API until the journal holds `fillTo` sessions. */
async function fill(dir: string, recorded: RecordedJournal, fillTo: number): Promise<RecordedJournal> {
  const { Catalog } = await load<typeof import('../../src/catalog/index.js')>('catalog/index.js');
  const { openJournalWriter } = await load<typeof import('../../src/journal/index.js')>('journal/index.js');
  const catalog = Catalog.open(dir);
  const lastSession = catalog.sessionCount();
  const lastTx = catalog.lastTx;
  const last = catalog.session(lastSession)!;
  catalog.close();
  const count = fillTo - lastSession;
  log(`padding ${dir} with ${count} filler sessions (kind "${FILLER_KIND}") up to ${fillTo}`);
  const began = performance.now();
  let clock = (last.endedAt ?? last.startedAt) + 1000;
  const { writer } = await openJournalWriter(dir, { durability: 'none', now: () => clock });
  const body = Buffer.from('{"ok":true}');
  const append = (record: AppendableRecord): number => {
    const appended = writer.append(record);
    appended.durable.catch(() => {});
    return appended.position;
  };
  append({
    kind: 'process-start',
    at: clock,
    codeVersion: last.codeVersion,
    app: 'bench-filler',
    config: {},
    node: process.version,
    v8: process.versions.v8,
    timeZone: 'UTC',
    locale: 'en-US',
    pid: process.pid,
    durability: 'none',
  });
  for (let i = 1; i <= count; i++) {
    const session = lastSession + i;
    clock += 1;
    let prev = append({
      kind: 'session-start',
      session,
      prev: null,
      at: clock,
      sessionKind: FILLER_KIND,
      route: `/${FILLER_KIND}`,
      transport: 'json',
      input: { n: i },
      codeVersion: last.codeVersion,
      startedAfterTx: lastTx,
      idempotencyKey: null,
      meta: {},
    });
    prev = append({ kind: 'response', session, prev, at: clock, status: 200, headers: { 'content-type': 'application/json' }, body });
    append({ kind: 'session-end', session, prev, at: clock, status: 'ok', error: null, randomDraws: 0 });
    if (i % 8192 === 0) await writer.flush();
  }
  await writer.close();
  const seconds = (performance.now() - began) / 1000;
  log(`padded in ${seconds.toFixed(1)} s`);
  return { ...recorded, dir, filler: count, fillSeconds: seconds };
}
