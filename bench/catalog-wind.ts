import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Catalog } from '../src/catalog/index.js';
import { wind } from '../src/services/wind.js';
import { writeSyntheticJournal, type SyntheticSummary } from '../scripts/synthetic-journal.js';
import { type BenchResult, benchOptions, collectGarbage, emit, log, median, nowMs, wanted } from './lib/common.js';
import { generatorVersion } from './lib/synthetic-cache.js';

// The catalog and `replay wind` on a synthetic journal of 1,000,000 sessions
// (scripts/synthetic-journal.ts; 100,000 with --quick):
//  - catalog build: a full rebuild (catalog.sqlite deleted, then Catalog.open),
//    in MB/s of journal bytes (10^6 bytes of segment files) read and indexed;
//  - the wind query alone: Catalog.tx() + Catalog.aliveAt() on a catalog that
//    is already open, for random tx ids (what `wind` does between opening and
//    closing the catalog), median and p99 in microseconds;
//  - wind() in-process including Catalog.open of an up-to-date catalog;
//  - `replay wind --tx N` as a whole process (node bin/replay.js, compiled
//    dist/), median of at least 11 runs with random tx ids, side by side with
//    `replay info --help`, the floor: node plus oclif start-up. The two are
//    interleaved run by run. When hyperfine is on the PATH it measures the
//    same two commands as well (one fixed tx), as a cross-check; the figures
//    of record are the child_process ones, which need nothing installed.
//
// The journal takes a while to write (about 30 s for 1M sessions here), so it
// is cached across runs in $WINDBACK_BENCH_CACHE (default
// <tmpdir>/windback-bench/), keyed by the generator's version (a hash of the
// generator and of the journal encoding sources) and the session count. The
// cached directory is kept on purpose (a new generator version replaces the
// old one of the same size); delete it to reclaim the space (about 1 GB for 1M
// sessions, with its catalog).

const options = benchOptions();
const SESSIONS = options.quick ? 100_000 : 1_000_000;
const SEED = 1;
const QUERIES = options.quick ? 400 : 4000;
const SERVICE_CALLS = options.quick ? 10 : 40;
const PROCESS_RUNS = Math.max(11, options.quick ? 11 : options.runs * 3);
const WIND_GOAL_MS = 300;

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const BIN = path.join(root, 'bin', 'replay.js');
const CATALOG_FILES = ['catalog.sqlite', 'catalog.sqlite-wal', 'catalog.sqlite-shm', 'catalog.sqlite-journal'];


interface CachedJournal {
  dir: string;
  summary: SyntheticSummary;
  generatedNow: boolean;
  generateSeconds: number | null;
}

/** The cached synthetic journal, written first if it is not there yet. */
async function cachedJournal(): Promise<CachedJournal> {
  const cacheRoot = process.env.WINDBACK_BENCH_CACHE || path.join(os.tmpdir(), 'windback-bench');
  const key = `synthetic-${generatorVersion()}-s${SEED}-${SESSIONS}`;
  const home = path.join(cacheRoot, key);
  const dir = path.join(home, 'journal');
  const summaryFile = path.join(home, 'summary.json');
  if (fs.existsSync(summaryFile)) {
    log(`using the cached journal ${dir}`);
    return { dir, summary: JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as SyntheticSummary, generatedNow: false, generateSeconds: null };
  }
  fs.mkdirSync(cacheRoot, { recursive: true });
  // Journals of the same seed and size from other generator versions are stale: make room.
  const stale = new RegExp(`^synthetic-[0-9a-f]{12}-s${SEED}-${SESSIONS}$`);
  for (const name of fs.readdirSync(cacheRoot)) {
    if (stale.test(name) && name !== key && fs.existsSync(path.join(cacheRoot, name, 'summary.json'))) {
      log(`removing the stale cached journal ${path.join(cacheRoot, name)}`);
      fs.rmSync(path.join(cacheRoot, name), { recursive: true, force: true });
    }
  }
  // Written beside, then renamed: an interrupted run leaves no half journal under the key.
  const partial = fs.mkdtempSync(path.join(cacheRoot, `.partial-${key}-`));
  log(`writing a synthetic journal of ${SESSIONS.toLocaleString('en-US')} sessions (cached afterwards in ${home})...`);
  const t0 = nowMs();
  try {
    const summary = await writeSyntheticJournal(path.join(partial, 'journal'), { sessions: SESSIONS, seed: SEED });
    const generateSeconds = (nowMs() - t0) / 1000;
    const stored = { ...summary, journal: dir };
    fs.writeFileSync(path.join(partial, 'summary.json'), `${JSON.stringify(stored, null, 2)}\n`);
    fs.rmSync(home, { recursive: true, force: true });
    fs.renameSync(partial, home);
    log(`wrote ${(summary.bytes / 1e6).toFixed(0)} MB, ${summary.records.toLocaleString('en-US')} records, ${summary.transactions.toLocaleString('en-US')} transactions in ${generateSeconds.toFixed(1)} s`);
    return { dir, summary: stored, generatedNow: true, generateSeconds };
  } catch (error) {
    fs.rmSync(partial, { recursive: true, force: true });
    throw error;
  }
}

function segmentBytes(dir: string): number {
  let total = 0;
  for (const name of fs.readdirSync(dir)) if (name.endsWith('.wbj')) total += fs.statSync(path.join(dir, name)).size;
  return total;
}

function removeCatalog(dir: string): void {
  for (const name of CATALOG_FILES) fs.rmSync(path.join(dir, name), { force: true });
}

/** mulberry32, so that the tx ids asked for are the same from run to run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

const round = (v: number, digits = 1): number => Math.round(v * 10 ** digits) / 10 ** digits;

/** Wall time of `node bin/replay.js <args>`, in ms; throws on a non-zero exit. */
function timeProcess(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = nowMs();
    const child = spawn(process.execPath, [BIN, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let stderr = '';
    child.stdout.resume();
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = nowMs() - t0;
      if (code !== 0) reject(new Error(`replay ${args.join(' ')} exited with ${code}: ${stderr.trim()}`));
      else resolve(ms);
    });
  });
}

function which(command: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const file = path.join(dir, command);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return null;
}

/** hyperfine's median (ms) for each command, or null if hyperfine is not installed or fails. */
function hyperfine(commands: string[], runs: number): Promise<number[] | null> {
  const bin = which('hyperfine');
  if (!bin) return Promise.resolve(null);
  const out = path.join(os.tmpdir(), `windback-bench-hyperfine-${process.pid}.json`);
  return new Promise((resolve) => {
    execFile(
      bin,
      ['-N', '--warmup', '2', '--runs', String(runs), '--style', 'none', '--export-json', out, ...commands],
      { cwd: root, env: { ...process.env, NO_COLOR: '1' } },
      (error) => {
        try {
          if (error) {
            log(`hyperfine failed: ${error.message}`);
            resolve(null);
            return;
          }
          const parsed = JSON.parse(fs.readFileSync(out, 'utf8')) as { results: { median: number }[] };
          resolve(parsed.results.map((r) => round(r.median * 1000)));
        } catch (e) {
          log(`hyperfine output unreadable: ${(e as Error).message}`);
          resolve(null);
        } finally {
          fs.rmSync(out, { force: true });
        }
      },
    );
  });
}

async function main(): Promise<void> {
  const results: BenchResult[] = [];
  const journal = await cachedJournal();
  const dir = journal.dir;
  const bytes = segmentBytes(dir);
  const meta: Record<string, unknown> = {
    sessions: journal.summary.sessions,
    records: journal.summary.records,
    transactions: journal.summary.transactions,
    journalBytes: bytes,
    journal: dir,
    generatedThisRun: journal.generatedNow,
    generateSeconds: journal.generateSeconds === null ? null : round(journal.generateSeconds),
    runs: options.runs,
    quick: options.quick,
  };

  // ---- catalog build -------------------------------------------------------------------
  const buildLabel = 'catalog build, full rebuild';
  if (wanted(options, buildLabel)) {
    const ms: number[] = [];
    for (let run = 0; run < options.runs; run++) {
      removeCatalog(dir);
      collectGarbage();
      const t0 = nowMs();
      const catalog = Catalog.open(dir);
      const elapsed = nowMs() - t0;
      const status = catalog.status;
      catalog.close();
      if (!status.rebuilt || status.corruption || status.scannedBytes <= 0) throw new Error(`unexpected catalog status ${JSON.stringify(status)}`);
      ms.push(elapsed);
      log(`run ${run + 1}/${options.runs}  ${buildLabel}: ${(elapsed / 1000).toFixed(2)} s, ${(bytes / 1e6 / (elapsed / 1000)).toFixed(1)} MB/s`);
    }
    const mbs = ms.map((m) => bytes / 1e6 / (m / 1000));
    results.push({
      label: buildLabel,
      value: round(median(mbs)),
      unit: 'MB/s',
      runs: mbs.map((v) => round(v)),
      seconds: round(median(ms) / 1000, 2),
      sessionsPerSec: Math.round(journal.summary.sessions / (median(ms) / 1000)),
      recordsPerSec: Math.round(journal.summary.records / (median(ms) / 1000)),
    });
  }

  // Whatever ran before, the catalog must be up to date now (and untimed).
  const t0 = nowMs();
  const catalog = Catalog.open(dir);
  const openMs = nowMs() - t0;
  meta.catalogBytes = fs.statSync(path.join(dir, 'catalog.sqlite')).size;
  meta.catalogWasRebuiltBeforeQueries = catalog.status.rebuilt;
  const firstTx = catalog.firstTx();
  const lastTx = catalog.lastTx;
  meta.txRange = [firstTx, lastTx];
  const randomTx = (() => {
    const next = rng(SEED);
    return () => firstTx + Math.floor(next() * (lastTx - firstTx + 1));
  })();

  // ---- the wind query alone ------------------------------------------------------------
  const queryLabel = 'wind query alone (in-process, catalog open)';
  if (wanted(options, queryLabel)) {
    // Warm the statements and the page cache the way a second query would find them.
    for (let i = 0; i < 50; i++) {
      const row = catalog.tx(randomTx())!;
      catalog.aliveAt(row.tx, row.position);
    }
    const all: number[] = [];
    const perRun: number[] = [];
    let alive = 0;
    const perBatch = Math.ceil(QUERIES / options.runs);
    for (let run = 0; run < options.runs; run++) {
      collectGarbage();
      const batch: number[] = [];
      for (let i = 0; i < perBatch; i++) {
        const tx = randomTx();
        const q0 = nowMs();
        const row = catalog.tx(tx);
        if (!row) throw new Error(`tx ${tx} missing from the catalog`);
        const rows = catalog.aliveAt(row.tx, row.position);
        batch.push((nowMs() - q0) * 1000);
        alive += rows.length;
      }
      perRun.push(round(median(batch)));
      all.push(...batch);
      log(`run ${run + 1}/${options.runs}  ${queryLabel}: median ${median(batch).toFixed(1)} µs over ${batch.length} queries`);
    }
    results.push({
      label: queryLabel,
      value: round(median(all)),
      unit: 'µs',
      runs: perRun,
      p90: round(percentile(all, 90)),
      p99: round(percentile(all, 99)),
      max: round(Math.max(...all)),
      queries: all.length,
      meanAlive: round(alive / all.length),
    });
  }
  catalog.close();

  // ---- wind() in-process, opening the catalog -----------------------------------------
  const serviceLabel = 'wind() in-process incl. Catalog.open (up to date)';
  if (wanted(options, serviceLabel)) {
    wind({ journal: dir, tx: randomTx() });
    const ms: number[] = [];
    for (let i = 0; i < SERVICE_CALLS; i++) {
      const s0 = nowMs();
      wind({ journal: dir, tx: randomTx() });
      ms.push(nowMs() - s0);
    }
    log(`${serviceLabel}: median ${median(ms).toFixed(2)} ms over ${ms.length} calls`);
    results.push({ label: serviceLabel, value: round(median(ms), 2), unit: 'ms', p90: round(percentile(ms, 90), 2), calls: ms.length, firstOpenMs: round(openMs, 2) });
  }

  // ---- whole processes -----------------------------------------------------------------
  const windLabel = 'replay wind --tx N, whole process';
  const floorLabel = 'replay info --help, whole process (floor)';
  const wantWind = wanted(options, windLabel);
  const wantFloor = wanted(options, floorLabel);
  if (wantWind || wantFloor) {
    if (!fs.existsSync(path.join(root, 'dist', 'commands', 'main.js'))) throw new Error('dist/ is missing: run npm run build (npm run bench does)');
    const windArgs = (tx: number): string[] => ['wind', '--tx', String(tx), '--journal', dir];
    // One untimed run of each: the first start-up pays for a cold page cache.
    if (wantWind) await timeProcess(windArgs(randomTx()));
    if (wantFloor) await timeProcess(['info', '--help']);
    const windMs: number[] = [];
    const floorMs: number[] = [];
    for (let run = 0; run < PROCESS_RUNS; run++) {
      if (wantWind) windMs.push(await timeProcess(windArgs(randomTx())));
      if (wantFloor) floorMs.push(await timeProcess(['info', '--help']));
    }
    log(
      `${PROCESS_RUNS} runs each: wind median ${wantWind ? median(windMs).toFixed(0) : '-'} ms, info --help median ${wantFloor ? median(floorMs).toFixed(0) : '-'} ms`,
    );
    const fixedTx = Math.floor((firstTx + lastTx) / 2);
    const quote = (a: string): string => (/^[\w./=-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
    const commands: string[] = [];
    if (wantWind) commands.push([process.execPath, BIN, ...windArgs(fixedTx)].map(quote).join(' '));
    if (wantFloor) commands.push([process.execPath, BIN, 'info', '--help'].map(quote).join(' '));
    const hf = await hyperfine(commands, PROCESS_RUNS);
    meta.hyperfine = hf === null ? 'not installed (or failed): child_process figures only' : { runs: PROCESS_RUNS, tx: fixedTx, medianMs: hf };
    if (wantWind) {
      const result: BenchResult = {
        label: windLabel,
        value: round(median(windMs)),
        unit: 'ms',
        runs: windMs.map((v) => round(v)),
        p90: round(percentile(windMs, 90)),
        goal: { max: WIND_GOAL_MS, text: `< ${WIND_GOAL_MS} ms` },
      };
      if (hf) result.hyperfineMedianMs = hf[0];
      // Paired run by run (the two were interleaved), then the median.
      if (wantFloor) result.aboveFloorMs = round(median(windMs.map((v, i) => v - floorMs[i])));
      results.push(result);
    }
    if (wantFloor) {
      const result: BenchResult = { label: floorLabel, value: round(median(floorMs)), unit: 'ms', runs: floorMs.map((v) => round(v)), p90: round(percentile(floorMs, 90)) };
      if (hf) result.hyperfineMedianMs = hf[wantWind ? 1 : 0];
      results.push(result);
    }
  }

  emit({ name: 'catalog-wind', results, meta });
}

await main();
