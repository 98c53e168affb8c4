import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BANK_APP, LoadClient, recordArgs, spawnServer, type RecorderProcess, BIN } from '../scripts/load.js';
import { openBaselineBank, render, type Synchronous } from './baseline/bank-server.js';
import { type BenchResult, benchOptions, collectGarbage, emit, log, makeTempDir, median, nowMs, removeDir, wanted } from './lib/common.js';
import { startInProcessRuntime } from './lib/inprocess-runner.js';
import { startLoadProcess, type LoadProcess, type LoadResult } from './lib/load-gen.js';
import { slowSyncEnv } from './lib/slow-sync.js';

// What recording costs: the bank app (fixtures/apps/bank) served by
// `replay record` against the same handlers on a plain node:http +
// better-sqlite3 server (bench/baseline/bank-server.ts: same schema, SQL,
// validation and JSON), side by side in one run.
//
// Workloads: `deposit` (one write transaction) and `balance` (one read), JSON
// over HTTP/1.1 keep-alive, no external calls, over 100 accounts opened
// beforehand. Four servers run at once, each in its own process:
//   - Windback, --durability batch  vs  baseline, synchronous=FULL (durable)
//   - Windback, --durability none   vs  baseline, synchronous=OFF  (not durable)
// Windback runs with the defaults of `replay record` otherwise (a snapshot
// after 1000 write transactions once the journal has grown by half the
// database). The load comes from bench/lib/load-gen.ts in a
// process of its own (closed loop, fixed concurrency, one request in flight
// per connection), at concurrency 1 and 32. Each cell (workload x
// concurrency x server) runs a warm-up and then a measured window; the cells
// are interleaved round by round, in a rotated order, so that a busy
// neighbour hurts all servers alike. Ratios are the median of per-round
// ratios.
//
// Two measures of the CPU Windback adds per session:
//   1. in-process (the figure for the goal): N sessions pushed through
//      SessionRunner.run() directly (durability none, compiled dist/ code, no
//      HTTP, snapshots off), one at a time, against the baseline's handler
//      function called directly with its JSON rendering (synchronous=OFF),
//      same process, interleaved rounds; plus deposits with the default
//      snapshot cadence, for what snapshots add on average;
//   2. from the servers under load: each server process's CPU time
//      (utime + stime from /proc/<pid>/stat) over a cell divided by the
//      requests it answered, at concurrency 32 (HTTP parsing included on both
//      sides, so the difference is what Windback adds).
//
// `--case=in-process` runs only the in-process part (seconds, not minutes), and
// `--dist=<dir>` points it at another build of the sources. For an A/B of two
// builds in one process, interleaved, see bench/ab-inprocess.ts.
//
// WINDBACK_BENCH_SERVER_PROF=1 starts the Windback servers under
// `node --cpu-prof` and leaves the profiles in bench/results/profiles/.
//
// `--slow-sync-us=N` runs every server on a modelled slow disk: each fsync and
// fdatasync sleeps N µs first (bench/lib/slow-sync.c, preloaded; needs a C
// compiler). The labels say so, and the in-process part is skipped.

const options = benchOptions();
const WARMUP_MS = options.quick ? 300 : 1000;
const DURATION_MS = options.quick ? 700 : 3000;
const ACCOUNTS = 100;
/** --slow-sync-us=N: fsync/fdatasync N µs slower in every server process. */
const SLOW_SYNC_US = Number(process.argv.find((a) => a.startsWith('--slow-sync-us='))?.slice('--slow-sync-us='.length) ?? 0);
const CONCURRENCIES = [1, 32];
const WORKLOADS = ['deposit', 'balance'] as const;
type Workload = (typeof WORKLOADS)[number];
const IN_PROCESS_SESSIONS = options.quick ? 1000 : 5000;
/** --dist=<dir>: the in-process part runs another build of the sources (default dist/), e.g. a copy from before a change. */
const DIST_DIR = process.argv.find((a) => a.startsWith('--dist='))?.slice('--dist='.length);
const SESSION_GOAL_US = 30;
const SNAPSHOT_LABEL = 'in-process deposit, Windback none, default snapshots (1000 tx, growth 0.5), per session';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const profileDir = path.join(root, 'bench', 'results', 'profiles');
const serverProfiles = process.env.WINDBACK_BENCH_SERVER_PROF === '1';

interface ServerSpec {
  key: string;
  label: string;
  windback: boolean;
  durability?: 'batch' | 'none';
  synchronous?: Synchronous;
}

const SERVERS: ServerSpec[] = [
  { key: 'wb-batch', label: 'Windback batch', windback: true, durability: 'batch' },
  { key: 'base-full', label: 'baseline FULL', windback: false, synchronous: 'FULL' },
  { key: 'wb-none', label: 'Windback none', windback: true, durability: 'none' },
  { key: 'base-off', label: 'baseline OFF', windback: false, synchronous: 'OFF' },
];

if (SLOW_SYNC_US > 0) for (const s of SERVERS) s.label += `, disk +${SLOW_SYNC_US} µs/sync`;

const PAIRS = [
  { windback: 'wb-batch', baseline: 'base-full', goal: 1.0, text: 'durable: Windback batch >= 1.0x baseline synchronous=FULL' },
  { windback: 'wb-none', baseline: 'base-off', goal: 0.8, text: 'not durable: Windback none >= 0.8x baseline synchronous=OFF' },
];

const round = (v: number, digits = 1): number => Math.round(v * 10 ** digits) / 10 ** digits;
const cellLabel = (w: Workload, c: number, s: ServerSpec): string => `${w} c=${c}, ${s.label}`;
const pairLabel = (w: Workload, c: number, p: (typeof PAIRS)[number]): string =>
  `${w} c=${c}, ${SERVERS.find((s) => s.key === p.windback)!.label} / ${SERVERS.find((s) => s.key === p.baseline)!.label}`;

const CLK_TCK = 100; // getconf CLK_TCK: 100 on every Linux this runs on

/** utime + stime of a process, in µs (Linux); null elsewhere. */
function processCpuUs(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLK_TCK;
  } catch {
    return null;
  }
}

interface Running {
  spec: ServerSpec;
  process: RecorderProcess;
  accounts: string[];
  dir: string;
}

async function startServerFor(spec: ServerSpec, tmp: string): Promise<Running> {
  const dir = path.join(tmp, spec.key);
  fs.mkdirSync(dir, { recursive: true });
  const nodeFlags: string[] = [];
  if (serverProfiles && spec.windback) {
    fs.mkdirSync(profileDir, { recursive: true });
    nodeFlags.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=recording-overhead-${spec.key}-${process.pid}.cpuprofile`);
  }
  const argv = spec.windback
    ? [...nodeFlags, BIN, ...recordArgs(BANK_APP, { journal: path.join(dir, 'journal'), args: ['--durability', spec.durability!] })]
    : [...nodeFlags, '--import', 'tsx', path.join(root, 'bench', 'baseline', 'bank-server.ts'), '--db', path.join(dir, 'bank.sqlite'), '--synchronous', spec.synchronous!];
  const server = await spawnServer(argv, { startTimeoutMs: 60_000, env: SLOW_SYNC_US > 0 ? slowSyncEnv(tmp, SLOW_SYNC_US) : {} });
  const client = new LoadClient(server.url, { maxSockets: 8 });
  const accounts: string[] = [];
  try {
    for (let i = 0; i < ACCOUNTS; i++) {
      const r = await client.json('/open', { owner: `owner-${i}`, initial: 1_000_000 });
      if (!r.ok) throw new Error(`${spec.label}: open failed with ${r.status} ${r.body.toString('utf8')}`);
      accounts.push((r.value as { id: string }).id);
    }
  } finally {
    client.close();
  }
  return { spec, process: server, accounts, dir };
}

function bodies(workload: Workload, accounts: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < accounts.length * 4; i++) {
    const account = accounts[(i * 37) % accounts.length];
    out.push(JSON.stringify(workload === 'deposit' ? { account, amount: 1 + (i % 97) } : { account }));
  }
  return out;
}

interface Cell {
  workload: Workload;
  concurrency: number;
  server: ServerSpec;
  runs: (LoadResult & { serverCpuUsPerRequest: number | null })[];
}

async function fsyncMetrics(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/_windback/metrics`)).text();
  const value = (name: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : NaN;
  };
  const sessions = ['ok', 'error', 'aborted'].reduce((sum, s) => {
    const line = text.split('\n').find((l) => l.startsWith(`windback_sessions_total{status="${s}"}`));
    return sum + (line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0);
  }, 0);
  return {
    syncSeconds: value('windback_fsync_seconds_sum'),
    syncs: value('windback_fsync_seconds_count'),
    maxSyncSeconds: value('windback_fsync_seconds_max'),
    sessions,
  };
}

async function overHttp(results: BenchResult[], meta: Record<string, unknown>): Promise<void> {
  const wantedCells = new Set<string>();
  for (const w of WORKLOADS) {
    for (const c of CONCURRENCIES) {
      for (const s of SERVERS) if (wanted(options, cellLabel(w, c, s))) wantedCells.add(cellLabel(w, c, s));
      for (const p of PAIRS) {
        if (!wanted(options, pairLabel(w, c, p))) continue;
        wantedCells.add(cellLabel(w, c, SERVERS.find((s) => s.key === p.windback)!));
        wantedCells.add(cellLabel(w, c, SERVERS.find((s) => s.key === p.baseline)!));
      }
    }
  }
  const wantFsync = wanted(options, 'fdatasync');
  if (wantedCells.size === 0 && !wantFsync) return;
  const cells: Cell[] = [];
  for (const w of WORKLOADS) for (const c of CONCURRENCIES) for (const s of SERVERS) if (wantedCells.has(cellLabel(w, c, s))) cells.push({ workload: w, concurrency: c, server: s, runs: [] });
  const serverKeys = new Set(cells.map((c) => c.server.key));
  if (wantFsync) serverKeys.add('wb-batch');

  const tmp = makeTempDir('recording');
  const running = new Map<string, Running>();
  let load: LoadProcess | null = null;
  try {
    for (const spec of SERVERS.filter((s) => serverKeys.has(s.key))) {
      const t0 = nowMs();
      running.set(spec.key, await startServerFor(spec, tmp));
      log(`${spec.label}: listening on ${running.get(spec.key)!.process.url} (${((nowMs() - t0) / 1000).toFixed(1)} s to start and open ${ACCOUNTS} accounts)`);
    }
    load = startLoadProcess();
    for (let r = 0; r < options.runs; r++) {
      // Rotate the order of the servers from round to round.
      const order = [...cells].sort((a, b) => {
        if (a.workload !== b.workload) return WORKLOADS.indexOf(a.workload) - WORKLOADS.indexOf(b.workload);
        if (a.concurrency !== b.concurrency) return a.concurrency - b.concurrency;
        const ia = (SERVERS.indexOf(a.server) + r) % SERVERS.length;
        const ib = (SERVERS.indexOf(b.server) + r) % SERVERS.length;
        return ia - ib;
      });
      for (const cell of order) {
        const server = running.get(cell.server.key)!;
        const cpu0 = processCpuUs(server.process.pid);
        const result = await load.run({
          url: server.process.url,
          path: `/${cell.workload}`,
          bodies: bodies(cell.workload, server.accounts),
          concurrency: cell.concurrency,
          warmupMs: WARMUP_MS,
          durationMs: DURATION_MS,
        });
        const cpu1 = processCpuUs(server.process.pid);
        if (result.errors > 0) throw new Error(`${cellLabel(cell.workload, cell.concurrency, cell.server)}: ${result.errors} error responses ${JSON.stringify(result.statuses)}`);
        const serverCpuUsPerRequest = cpu0 === null || cpu1 === null || result.totalRequests === 0 ? null : (cpu1 - cpu0) / result.totalRequests;
        cell.runs.push({ ...result, serverCpuUsPerRequest });
        log(
          `run ${r + 1}/${options.runs}  ${cellLabel(cell.workload, cell.concurrency, cell.server).padEnd(36)} ${Math.round(result.requestsPerSec).toLocaleString('en-US').padStart(7)} req/s  p50 ${result.p50.toFixed(3)} ms  p99 ${result.p99.toFixed(3)} ms  server CPU ${serverCpuUsPerRequest === null ? '-' : serverCpuUsPerRequest.toFixed(0)} µs/req`,
        );
      }
    }

    const medianOf = (values: (number | null)[]): number | null => {
      const present = values.filter((v): v is number => v !== null && Number.isFinite(v));
      return present.length === 0 ? null : median(present);
    };
    for (const cell of cells) {
      const label = cellLabel(cell.workload, cell.concurrency, cell.server);
      if (!wanted(options, label)) continue;
      const rps = cell.runs.map((r) => r.requestsPerSec);
      const cpu = medianOf(cell.runs.map((r) => r.serverCpuUsPerRequest));
      results.push({
        label,
        value: Math.round(median(rps)),
        unit: 'req/s',
        runs: rps.map(Math.round),
        p50Ms: round(median(cell.runs.map((r) => r.p50)), 3),
        p99Ms: round(median(cell.runs.map((r) => r.p99)), 3),
        serverCpuUsPerRequest: cpu === null ? null : round(cpu),
        clientCpuUsPerRequest: round(median(cell.runs.map((r) => r.clientCpuUsPerRequest))),
        requests: cell.runs.reduce((sum, r) => sum + r.requests, 0),
      });
    }
    for (const w of WORKLOADS) {
      for (const c of CONCURRENCIES) {
        for (const p of PAIRS) {
          const label = pairLabel(w, c, p);
          if (!wanted(options, label)) continue;
          const wb = cells.find((x) => x.workload === w && x.concurrency === c && x.server.key === p.windback)!;
          const base = cells.find((x) => x.workload === w && x.concurrency === c && x.server.key === p.baseline)!;
          const ratios = wb.runs.map((run, i) => run.requestsPerSec / base.runs[i].requestsPerSec);
          const wbCpu = medianOf(wb.runs.map((r) => r.serverCpuUsPerRequest));
          const baseCpu = medianOf(base.runs.map((r) => r.serverCpuUsPerRequest));
          results.push({
            label,
            value: round(median(ratios), 2),
            unit: 'x',
            runs: ratios.map((v) => round(v, 2)),
            goal: { min: p.goal, text: p.text },
            p50Ratio: round(median(wb.runs.map((run, i) => run.p50 / base.runs[i].p50)), 2),
            p99Ratio: round(median(wb.runs.map((run, i) => run.p99 / base.runs[i].p99)), 2),
            addedServerCpuUsPerRequest: wbCpu === null || baseCpu === null ? null : round(wbCpu - baseCpu),
          });
        }
      }
    }

    const batch = running.get('wb-batch');
    if (batch && wantFsync) {
      const m = await fsyncMetrics(batch.process.url);
      const meanUs = (m.syncSeconds / m.syncs) * 1e6;
      results.push({
        label: 'fdatasync, Windback batch server (/_windback/metrics)',
        value: round(meanUs),
        unit: 'µs mean',
        maxUs: round(m.maxSyncSeconds * 1e6),
        syncs: m.syncs,
        sessions: m.sessions,
        sessionsPerSync: round(m.sessions / m.syncs, 2),
      });
    }
    const journals: Record<string, number> = {};
    for (const [key, r] of running) {
      if (!r.spec.windback) continue;
      const dir = path.join(r.dir, 'journal');
      journals[key] = fs.readdirSync(dir).filter((n) => n.endsWith('.wbj')).reduce((sum, n) => sum + fs.statSync(path.join(dir, n)).size, 0);
    }
    meta.journalBytes = journals;
  } finally {
    load?.close();
    await Promise.all([...running.values()].map((r) => r.process.stop(30_000)));
    removeDir(tmp);
  }
}

/** Added cost per session, in-process: SessionRunner.run() against the bare handler. */
async function inProcess(results: BenchResult[], meta: Record<string, unknown>): Promise<void> {
  const labels = WORKLOADS.map((w) => ({
    workload: w,
    windback: `in-process ${w}, Windback none, per session`,
    baseline: `in-process ${w}, baseline handler, per call`,
    added: `in-process ${w}, added by Windback per session`,
  }));
  const todo = labels.filter((l) => wanted(options, l.windback) || wanted(options, l.baseline) || wanted(options, l.added));
  if (todo.length === 0 && !wanted(options, SNAPSHOT_LABEL)) return;
  const tmp = makeTempDir('recording-inprocess');
  try {
    // Snapshots off: they cost in proportion to the database's size, not per
    // session. The second runtime keeps the default cadence (every 1000 write
    // transactions), for their amortized cost on deposits.
    const distDir = DIST_DIR === undefined ? undefined : path.resolve(DIST_DIR);
    const runtime = await startInProcessRuntime(BANK_APP, path.join(tmp, 'journal'), { durability: 'none', snapshotEvery: 0, distDir });
    const snapshotting = wanted(options, SNAPSHOT_LABEL)
      ? await startInProcessRuntime(BANK_APP, path.join(tmp, 'journal-snapshots'), { durability: 'none', snapshotEvery: 1000, distDir })
      : null;
    const bank = openBaselineBank(path.join(tmp, 'baseline.sqlite'), 'OFF');
    const meta0 = { host: '127.0.0.1:8080', 'content-type': 'application/json', 'content-length': '48' };
    const wbAccounts: string[] = [];
    const snapAccounts: string[] = [];
    const baseAccounts: string[] = [];
    for (let i = 0; i < ACCOUNTS; i++) {
      const request = { kind: 'open', route: '/open', transport: 'json' as const, input: { owner: `owner-${i}`, initial: 1_000_000 }, idempotencyKey: null, meta: meta0 };
      const r = await runtime.run(request);
      wbAccounts.push((JSON.parse(Buffer.from(r.response.body).toString('utf8')) as { id: string }).id);
      if (snapshotting) {
        const s = await snapshotting.run(request);
        snapAccounts.push((JSON.parse(Buffer.from(s.response.body).toString('utf8')) as { id: string }).id);
      }
      baseAccounts.push((bank.handlers.open({ owner: `owner-${i}`, initial: 1_000_000 }) as { id: string }).id);
    }
    const input = (w: Workload, accounts: string[], i: number): Record<string, unknown> => {
      const account = accounts[(i * 37) % accounts.length];
      return w === 'deposit' ? { account, amount: 1 + (i % 97) } : { account };
    };
    const timeWindback = async (w: Workload, n: number, rt = runtime, accounts = wbAccounts): Promise<{ us: number; cpuUs: number }> => {
      const cpu0 = process.cpuUsage();
      const t0 = nowMs();
      for (let i = 0; i < n; i++) {
        const r = await rt.run({ kind: w, route: `/${w}`, transport: 'json', input: input(w, accounts, i), idempotencyKey: null, meta: meta0 });
        if (r.status !== 'ok') throw new Error(`${w} failed: ${Buffer.from(r.response.body).toString('utf8')}`);
      }
      const us = ((nowMs() - t0) * 1000) / n;
      const cpu = process.cpuUsage(cpu0);
      return { us, cpuUs: (cpu.user + cpu.system) / n };
    };
    const timeBaseline = (w: Workload, n: number): { us: number; cpuUs: number } => {
      const handler = bank.handlers[w];
      const cpu0 = process.cpuUsage();
      const t0 = nowMs();
      for (let i = 0; i < n; i++) {
        const out = render(() => handler(input(w, baseAccounts, i)));
        if (out.status !== 200) throw new Error(`baseline ${w} failed: ${out.body.toString('utf8')}`);
      }
      const us = ((nowMs() - t0) * 1000) / n;
      const cpu = process.cpuUsage(cpu0);
      return { us, cpuUs: (cpu.user + cpu.system) / n };
    };
    // Warm-up: JIT and the statement caches.
    for (const l of todo) {
      await timeWindback(l.workload, 500);
      timeBaseline(l.workload, 500);
    }
    if (snapshotting) await timeWindback('deposit', 500, snapshotting, snapAccounts);
    const runs = new Map<string, { wb: number[]; wbCpu: number[]; base: number[]; baseCpu: number[] }>(todo.map((l) => [l.workload, { wb: [], wbCpu: [], base: [], baseCpu: [] }]));
    const snapRuns: number[] = [];
    for (let r = 0; r < options.runs; r++) {
      if (snapshotting) {
        collectGarbage();
        const s = await timeWindback('deposit', IN_PROCESS_SESSIONS, snapshotting, snapAccounts);
        snapRuns.push(s.us);
        log(`run ${r + 1}/${options.runs}  ${SNAPSHOT_LABEL}: ${s.us.toFixed(1)} µs/session`);
      }
      for (const l of todo) {
        collectGarbage();
        const wb = await timeWindback(l.workload, IN_PROCESS_SESSIONS);
        collectGarbage();
        const base = timeBaseline(l.workload, IN_PROCESS_SESSIONS);
        const m = runs.get(l.workload)!;
        m.wb.push(wb.us);
        m.wbCpu.push(wb.cpuUs);
        m.base.push(base.us);
        m.baseCpu.push(base.cpuUs);
        log(`run ${r + 1}/${options.runs}  in-process ${l.workload}: Windback ${wb.us.toFixed(1)} µs/session (CPU ${wb.cpuUs.toFixed(1)}), baseline ${base.us.toFixed(1)} µs/call, added ${(wb.us - base.us).toFixed(1)} µs`);
      }
    }
    for (const l of todo) {
      const m = runs.get(l.workload)!;
      const added = m.wb.map((v, i) => v - m.base[i]);
      if (wanted(options, l.windback)) results.push({ label: l.windback, value: round(median(m.wb)), unit: 'µs', runs: m.wb.map((v) => round(v)), cpuUs: round(median(m.wbCpu)) });
      if (wanted(options, l.baseline)) results.push({ label: l.baseline, value: round(median(m.base)), unit: 'µs', runs: m.base.map((v) => round(v)), cpuUs: round(median(m.baseCpu)) });
      if (wanted(options, l.added)) {
        results.push({ label: l.added, value: round(median(added)), unit: 'µs', runs: added.map((v) => round(v)), goal: { max: SESSION_GOAL_US, text: `<= ${SESSION_GOAL_US} µs per session` } });
      }
    }
    if (snapshotting) {
      const depositRuns = runs.get('deposit')?.wb;
      const result: BenchResult = { label: SNAPSHOT_LABEL, value: round(median(snapRuns)), unit: 'µs', runs: snapRuns.map((v) => round(v)) };
      if (depositRuns) result.snapshotShareUs = round(median(snapRuns.map((v, i) => v - depositRuns[i])));
      results.push(result);
      await snapshotting.close();
    }
    meta.inProcessSessionsPerRun = IN_PROCESS_SESSIONS;
    if (distDir !== undefined) meta.inProcessDist = distDir;
    await runtime.close();
    bank.close();
  } finally {
    removeDir(tmp);
  }
}

async function main(): Promise<void> {
  if (!fs.existsSync(path.join(root, 'dist', 'commands', 'main.js'))) throw new Error('dist/ is missing: run npm run build (npm run bench does)');
  const results: BenchResult[] = [];
  const meta: Record<string, unknown> = {
    warmupMs: WARMUP_MS,
    durationMs: DURATION_MS,
    accounts: ACCOUNTS,
    runs: options.runs,
    quick: options.quick,
    loadGenerator: 'bench/lib/load-gen.ts (own process, raw keep-alive sockets, closed loop)',
    windbackServer: 'node bin/replay.js record fixtures/apps/bank/app.ts --durability <batch|none> (default snapshots: every 1000 tx once the journal grew by half the database)',
    baselineServer: 'bench/baseline/bank-server.ts (node:http + better-sqlite3, WAL, synchronous FULL or OFF)',
  };
  if (SLOW_SYNC_US > 0) meta.slowSyncUs = SLOW_SYNC_US;
  else await inProcess(results, meta);
  await overHttp(results, meta);
  emit({ name: 'recording-overhead', results, meta });
}

await main();
