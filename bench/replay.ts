import { execFileSync, fork, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type BenchResult, benchOptions, collectGarbage, emit, log, makeTempDir, median, nowMs, removeDir, wanted } from './lib/common.js';
import { recordRoundsSession } from './lib/rounds.js';
import { recordedBankJournal, type RecordedJournal } from './lib/recorded-bank.js';

// Replay on a REAL recorded journal (bench/lib/recorded-bank.ts): the demo
// bank recorded through startServer() with durability 'none', N transfer
// sessions driven over HTTP (each a read, a checkpoint, the fraud-score
// fetch, a write transaction, the notify call, the response), padded with
// filler sessions of another kind to 1,000,000 sessions in all. Journals are
// cached in $WINDBACK_BENCH_CACHE (default <tmpdir>/windback-bench/).
//
//  - `replay run <id>`: the whole process (node bin/replay.js, compiled
//    dist/), random transfer sessions of the padded journal, interleaved run
//    by run with `replay --version` (node + oclif start-up, the floor); and
//    run() in-process.
//  - `replay state --tx N` against journals recorded with snapshots every
//    100, 1000 and 10000 transactions (the same workload, 20,000 transfers
//    each, unpadded), at the same random N in the upper half, whole process
//    and in-process; and on the padded journal.
//  - `replay verify --kind transfer` over a window of sessions
//    (--from-tx/--to-tx) in the middle of the padded journal, --jobs 1 and 2,
//    in-process verify() and whole process; and over every transfer of the
//    journal, whole process (fewer runs: it takes longer); sessions/s.
//  - The peer: Temporal's TypeScript replayer (Worker.runReplayHistories,
//    @temporalio/worker 1.x in bench/peers/temporal/, its own package and
//    node_modules, installed on first use), replaying one hand-built history
//    per transfer session of a sub-window, against Windback's verify() of
//    the same sessions in one thread, interleaved round by round. The peer
//    runs in a child process of its own (bench/peers/temporal/serve.ts), so
//    that neither replayer pays for the other's heap. Before any timing:
//    every peer history must replay clean, and one with an activity renamed
//    must fail with DeterminismViolationError (else the module fails);
//    Windback must pass every session it verifies.
//
// Whole-process cases also report the children's CPU time (from
// /proc/self/stat), which a busy machine disturbs less than wall time.
//
//  - Stepping (src/replay/stepper.ts) on a REAL 1,000-step session: one
//    `walk` request of fixtures/apps/rounds (165 rounds of checkpoint, read,
//    call, value and write transaction, after 7 Date.now() values) recorded
//    by startServer() into a temporary journal. For the Stepper from
//    'checkpoint' and from 'start': the first move (goto the response, on a
//    fresh stepper: nothing known yet, so the whole attempt runs), then
//    the median ms of next() from step 0 to the end, back() from the end to
//    step 0, and goto() to seeded random steps; every move re-executes.
//    This case needs no cached bank journal (--case=step runs it alone).

const options = benchOptions();
const quick = options.quick;
const env = process.env;
const MAIN_SESSIONS = Number(env.WINDBACK_BENCH_REPLAY_SESSIONS ?? (quick ? 2_000 : 50_000));
const FILL_TO = Number(env.WINDBACK_BENCH_REPLAY_FILL ?? (quick ? 100_000 : 1_000_000));
const STATE_SESSIONS = quick ? 1_000 : 20_000;
const STATE_INTERVALS = [100, 1000, 10000];
const VERIFY_WINDOW = quick ? 600 : 8_000;
const PEER_WINDOW = quick ? 100 : 1000;
const PROCESS_RUNS = Math.max(11, options.runs * 3);
const RUN_GOAL_MS = 500;
const VERIFY_GOAL = 2000;
const PEER_GOAL = 5;
const STEP_ROUNDS = 165;
const STEP_EXTRA = 7;
/** The start, the response and the end, the extra values, six records a round: 1,000 (the recorder journals no checkpoint of its own). */
const STEP_COUNT = 3 + STEP_EXTRA + 6 * STEP_ROUNDS;
const STEP_MOVES = quick ? 100 : STEP_COUNT - 1;
const STEP_GOTOS = quick ? 50 : 200;
const STEP_GOAL_MS = 50;

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const BIN = path.join(root, 'bin', 'replay.js');
const PEER_DIR = path.join(root, 'bench', 'peers', 'temporal');

type Dist = {
  run: typeof import('../src/services/run.js');
  state: typeof import('../src/services/state.js');
  verify: typeof import('../src/services/verify.js');
  catalog: typeof import('../src/catalog/index.js');
  server: typeof import('../src/runtime/server.js');
  access: typeof import('../src/services/journal-access.js');
  engine: typeof import('../src/replay/engine.js');
  stepper: typeof import('../src/replay/stepper.js');
};

async function loadDist(): Promise<Dist> {
  const file = (rel: string): string => pathToFileURL(path.join(root, 'dist', rel)).href;
  if (!fs.existsSync(path.join(root, 'dist', 'services', 'verify.js'))) throw new Error('dist/ is missing: run npm run build (npm run bench does)');
  return {
    run: (await import(file('services/run.js'))) as Dist['run'],
    state: (await import(file('services/state.js'))) as Dist['state'],
    verify: (await import(file('services/verify.js'))) as Dist['verify'],
    catalog: (await import(file('catalog/index.js'))) as Dist['catalog'],
    server: (await import(file('runtime/server.js'))) as Dist['server'],
    access: (await import(file('services/journal-access.js'))) as Dist['access'],
    engine: (await import(file('replay/engine.js'))) as Dist['engine'],
    stepper: (await import(file('replay/stepper.js'))) as Dist['stepper'],
  };
}

// ---- helpers ---------------------------------------------------------------------------------

/** mulberry32, for the same random choices on every machine. */
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

let clockTicks: number | null = null;

/** CPU time of this process's waited-for children, ms (null where /proc is missing). */
function childrenCpuMs(): number | null {
  try {
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command: state is field 3, so cutime (16) and cstime (17) are at 13 and 14.
    return ((Number(fields[13]) + Number(fields[14])) * 1000) / clockTicks;
  } catch {
    return null;
  }
}

interface ProcessRun {
  ms: number;
  cpuMs: number | null;
  stdout: string;
}

function runProcess(args: string[]): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const cpu0 = childrenCpuMs();
    const t0 = nowMs();
    const child = spawn(process.execPath, [BIN, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = nowMs() - t0;
      const cpu1 = childrenCpuMs();
      if (code !== 0) reject(new Error(`replay ${args.join(' ')} exited with ${code}: ${stderr.trim()} ${stdout.trim()}`.slice(0, 2000)));
      else resolve({ ms, cpuMs: cpu0 === null || cpu1 === null ? null : cpu1 - cpu0, stdout });
    });
  });
}

function cpuNow(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;
const round2 = (x: number): number => Math.round(x * 100) / 100;
const medianOrNull = (xs: (number | null)[]): number | null => (xs.some((x) => x === null) ? null : round1(median(xs as number[])));

function result(label: string, unit: string, runs: number[], extra: Record<string, unknown> = {}): BenchResult {
  return { label, value: round1(median(runs)), unit, runs: runs.map(round1), ...extra };
}

/** The sessions of kind transfer whose startedAfterTx lies in [fromTx, toTx]. */
function windowOf(dist: Dist, journal: RecordedJournal, fromTx: number, toTx: number): number[] {
  const catalog = dist.catalog.Catalog.open(journal.dir);
  try {
    return catalog
      .sessions({ kind: 'transfer' })
      .filter((s) => s.status !== 'open' && s.startedAfterTx >= fromTx && s.startedAfterTx <= toTx)
      .map((s) => s.id);
  } finally {
    catalog.close();
  }
}

// ---- the peer ----------------------------------------------------------------------------------

interface PeerReplay {
  histories: number;
  ms: number;
  cpuMs: number;
  failures: Record<string, number>;
  firstFailure: string | null;
  determinismViolations: number;
}

interface PeerLoaded {
  version: string;
  bundleMs: number;
  bundleBytes: number;
  events: Record<'transfer' | 'transferBriefed', number>;
  checks: Record<string, { clean: PeerReplay; renamed: PeerReplay }>;
}

/** bench/peers/temporal/serve.ts in a child process, called over IPC one message at a time. */
async function startPeer(): Promise<{ call(message: unknown): Promise<unknown>; close(): void }> {
  const child = fork(path.join(PEER_DIR, 'serve.ts'), [], { cwd: root, execArgv: ['--import', 'tsx', '--expose-gc'], stdio: ['ignore', 2, 2, 'ipc'] }); // its stdout to our stderr: our stdout is the result line
  let failed: Error | null = null;
  const waiting: { resolve(value: unknown): void; reject(error: Error): void }[] = [];
  child.on('message', (message: { ok: boolean; reply?: unknown; error?: string }) => {
    const next = waiting.shift();
    if (!next) return;
    if (message.ok) next.resolve(message.reply);
    else next.reject(new Error(`Temporal peer: ${message.error}`));
  });
  child.on('exit', (code) => {
    failed = new Error(`the Temporal peer process exited with code ${code}`);
    for (const w of waiting.splice(0)) w.reject(failed);
  });
  const next = (): Promise<unknown> =>
    new Promise((resolve, reject) => {
      if (failed) reject(failed);
      else waiting.push({ resolve, reject });
    });
  await next(); // 'ready'
  return {
    call(message) {
      const reply = next();
      child.send(message as object);
      return reply;
    },
    close() {
      child.kill();
    },
  };
}

interface TransferFacts {
  session: number;
  input: { from: string; to: string; amount: number };
  accounts: { id: string; balance: number }[];
  risk: number;
  balance: number;
  transferId: string;
}

/** Install bench/peers/temporal's own dependencies on first use (npm install --prefix). */
function ensurePeerInstalled(): void {
  if (fs.existsSync(path.join(PEER_DIR, 'node_modules', '@temporalio', 'worker', 'package.json'))) return;
  log('installing the Temporal peer: npm install --prefix bench/peers/temporal (once; its own node_modules, not a Windback dependency)');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  execFileSync(npm, ['install', '--prefix', PEER_DIR, '--no-audit', '--no-fund', '--loglevel=error'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
}

/** What each transfer did, from its records: the input, the read, the score, the write's result. */
function transferFacts(dist: Dist, journal: RecordedJournal, ids: number[]): TransferFacts[] {
  const catalog = dist.catalog.Catalog.open(journal.dir);
  try {
    return ids.map((id) => {
      const row = catalog.session(id)!;
      const records = catalog.reader.sessionRecords(row.lastPosition).map((r) => r.record);
      const start = records.find((r) => r.kind === 'session-start');
      const read = records.find((r) => r.kind === 'read-tx');
      const response = records.find((r) => r.kind === 'response');
      if (!start || start.kind !== 'session-start' || !read || read.kind !== 'read-tx' || !response || response.kind !== 'response') {
        throw new Error(`session ${id} is not a complete transfer`);
      }
      const body = JSON.parse(Buffer.from(response.body).toString('utf8')) as { id: string; risk: number; balance: number };
      return {
        session: id,
        input: start.input as TransferFacts['input'],
        accounts: read.result as TransferFacts['accounts'],
        risk: body.risk,
        balance: body.balance,
        transferId: body.id,
      };
    });
  } finally {
    catalog.close();
  }
}

// ---- stepping -------------------------------------------------------------------------------

function stepLabels(from?: 'checkpoint' | 'start'): string[] {
  if (from === undefined) return [...stepLabels('checkpoint'), ...stepLabels('start')];
  return [
    `step: next(), from ${from} (1,000-step session)`,
    `step: back(), from ${from} (1,000-step session)`,
    `step: goto(random), from ${from} (1,000-step session)`,
    `step: first move (goto the response, fresh stepper), from ${from}`,
  ];
}


async function steppingBench(dist: Dist, results: BenchResult[], meta: Record<string, unknown>): Promise<void> {
  const dir = makeTempDir('stepping');
  try {
    const t0 = nowMs();
    await recordRoundsSession(dist.server.startServer, path.join(dir, 'journal'), STEP_ROUNDS, STEP_EXTRA);
    const journal = dist.access.openJournal(path.join(dir, 'journal'));
    try {
      const check = await dist.engine.replaySession(journal, 1, {});
      if (!check.equal) throw new Error(`the 1,000-step session does not replay equal: ${check.divergence?.message}`);
      const pick = rng(99);
      const targets = Array.from({ length: STEP_GOTOS }, () => Math.floor(pick() * STEP_COUNT));
      meta.stepping = { steps: STEP_COUNT, rounds: STEP_ROUNDS, moves: STEP_MOVES, gotos: STEP_GOTOS, recordMs: Math.round(nowMs() - t0) };
      log(`stepping: a ${STEP_COUNT}-step session, ${STEP_MOVES} moves each way and ${STEP_GOTOS} random gotos, from checkpoint and from start`);
      for (const from of ['checkpoint', 'start'] as const) {
        const realms = new dist.engine.RealmCache();
        const stepper = dist.stepper.Stepper.open(journal, 1, { from, realms });
        try {
          if (stepper.steps.length !== STEP_COUNT) throw new Error(`the session has ${stepper.steps.length} steps, expected ${STEP_COUNT}`);
          const time = async (move: () => Promise<{ verdict: string; index: number }>): Promise<number> => {
            const m0 = nowMs();
            const state = await move();
            const ms = nowMs() - m0;
            if (state.verdict === 'diverged' || state.verdict === 'not-reached') throw new Error(`step ${state.index} is ${state.verdict}`);
            return ms;
          };
          collectGarbage();
          // The response: the whole attempt runs (the last step, the session's end, runs nothing).
          const first = await time(() => stepper.goto(STEP_COUNT - 2));
          await stepper.goto(0);
          const next: number[] = [];
          for (let i = 0; i < STEP_MOVES; i++) next.push(await time(() => stepper.next()));
          if (stepper.position !== STEP_MOVES) throw new Error(`next() ended at ${stepper.position}`);
          await stepper.goto(STEP_COUNT - 1);
          const back: number[] = [];
          for (let i = 0; i < STEP_MOVES; i++) back.push(await time(() => stepper.back()));
          const jumps: number[] = [];
          for (const target of targets) jumps.push(await time(() => stepper.goto(target)));
          const p90 = (xs: number[]): number => round2([...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)]);
          const goal = { max: STEP_GOAL_MS, text: `< ${STEP_GOAL_MS} ms a step` };
          log(`  from ${from}: first move ${round1(first)} ms; next ${round2(median(next))}, back ${round2(median(back))}, goto ${round2(median(jumps))} ms (medians)`);
          const [nextLabel, backLabel, gotoLabel, firstLabel] = stepLabels(from);
          results.push(
            { label: nextLabel, value: round2(median(next)), unit: 'ms', p90: p90(next), max: round2(Math.max(...next)), moves: next.length, goal },
            { label: backLabel, value: round2(median(back)), unit: 'ms', p90: p90(back), max: round2(Math.max(...back)), moves: back.length, goal },
            { label: gotoLabel, value: round2(median(jumps)), unit: 'ms', p90: p90(jumps), max: round2(Math.max(...jumps)), moves: jumps.length, goal },
            { label: firstLabel, value: round1(first), unit: 'ms' },
          );
        } finally {
          stepper.close();
        }
      }
    } finally {
      journal.close();
    }
  } finally {
    removeDir(dir);
  }
}

// ---- main ----------------------------------------------------------------------------------

async function main(): Promise<void> {
  const dist = await loadDist();
  const results: BenchResult[] = [];
  const meta: Record<string, unknown> = { quick, processRuns: PROCESS_RUNS, runs: options.runs };

  const wantRun = ['run <session>, whole process', '--version, whole process (floor)', 'run() in-process'].some((l) => wanted(options, l));
  const stateLabels = [...STATE_INTERVALS.map((e) => `state --tx N, snapshot every ${e} tx`), 'state --tx N, padded journal'];
  const wantState = stateLabels.some((l) => wanted(options, l) || wanted(options, `${l}, in-process`));
  const verifyLabels = ['verify --jobs 1, in-process', 'verify --jobs 2, in-process', 'verify --jobs 1, whole process', 'verify --jobs 2, whole process'];
  const wantVerify = verifyLabels.some((l) => wanted(options, l));
  const peerLabels = ['Windback verify(), 1 thread, peer window', 'Temporal runReplayHistories, transfer', 'Temporal runReplayHistories, transfer (briefed shape)'];
  const wantPeer = peerLabels.some((l) => wanted(options, l));
  const fullWanted = ['verify all transfers --jobs 1, whole process', 'verify all transfers --jobs 2, whole process'].some((l) => wanted(options, l));

  if (stepLabels().some((l) => wanted(options, l))) await steppingBench(dist, results, meta);
  if (!wantRun && !wantState && !wantVerify && !wantPeer && !fullWanted) {
    emit({ name: 'replay', results, meta });
    return;
  }

  // The main journal: real transfers, padded to FILL_TO sessions.
  const main = await recordedBankJournal({ sessions: MAIN_SESSIONS, snapshotEvery: 1000, fillTo: FILL_TO });
  meta.journal = {
    dir: main.dir,
    transfers: main.transfers,
    accounts: main.accounts,
    filler: main.filler,
    sessions: main.sessions,
    lastTx: main.lastTx,
    snapshotEvery: main.snapshotEvery,
    snapshots: main.snapshots,
    journalMB: round1(main.journalBytes / 1e6),
    recordMsPerSession: round2(main.recordMsPerSession),
    recordCpuMsPerSession: round2(main.recordCpuMsPerSession),
    recordSeconds: round1(main.recordSeconds),
    fillSeconds: round1(main.fillSeconds),
    cached: main.cached,
  };
  log(`journal: ${main.transfers} transfers + ${main.accounts} openings + ${main.filler} filler = ${main.sessions} sessions, tx 1..${main.lastTx} (${main.cached ? 'cached' : 'recorded now'})`);
  const random = rng(4242);
  const lastTransfer = main.firstTransfer + main.transfers - 1;

  // ---- replay run --------------------------------------------------------------------------
  if (wantRun) {
    const ids = Array.from({ length: PROCESS_RUNS + 1 }, () => main.firstTransfer + Math.floor(random() * main.transfers));
    log(`replay run: ${PROCESS_RUNS} random transfer sessions (${main.firstTransfer}..${lastTransfer}), with replay --version in between`);
    const runMs: number[] = [];
    const runCpu: (number | null)[] = [];
    const floorMs: number[] = [];
    const floorCpu: (number | null)[] = [];
    // One warm-up of each (page cache, compiled code cache).
    await runProcess(['run', String(ids[PROCESS_RUNS]), '-j', main.dir, '--json']);
    await runProcess(['--version']);
    for (let i = 0; i < PROCESS_RUNS; i++) {
      const r = await runProcess(['run', String(ids[i]), '-j', main.dir, '--json']);
      const parsed = JSON.parse(r.stdout) as { equal: boolean; session: number };
      if (!parsed.equal) throw new Error(`replay run ${ids[i]} diverged: ${r.stdout}`);
      runMs.push(r.ms);
      runCpu.push(r.cpuMs);
      const f = await runProcess(['--version']);
      floorMs.push(f.ms);
      floorCpu.push(f.cpuMs);
    }
    results.push(
      result('run <session>, whole process', 'ms', runMs, {
        cpuMs: medianOrNull(runCpu),
        goal: { max: RUN_GOAL_MS, text: `< ${RUN_GOAL_MS} ms` },
        overFloorMs: round1(median(runMs.map((ms, i) => ms - floorMs[i]))),
      }),
      result('--version, whole process (floor)', 'ms', floorMs, { cpuMs: medianOrNull(floorCpu) }),
    );
    const inProcess: number[] = [];
    const inCpu: number[] = [];
    for (let i = 0; i < PROCESS_RUNS; i++) {
      collectGarbage();
      const c0 = cpuNow();
      const t0 = nowMs();
      const r = await dist.run.run({ journal: main.dir, session: ids[i] });
      inProcess.push(nowMs() - t0);
      inCpu.push(cpuNow() - c0);
      if (!r.equal) throw new Error(`run() of session ${ids[i]} diverged`);
    }
    results.push(result('run() in-process', 'ms', inProcess, { cpuMs: round1(median(inCpu)) }));
  }

  // ---- replay state --tx N --------------------------------------------------------------------
  if (wantState) {
    const journals = new Map<string, RecordedJournal>();
    for (const every of STATE_INTERVALS) journals.set(`state --tx N, snapshot every ${every} tx`, await recordedBankJournal({ sessions: STATE_SESSIONS, snapshotEvery: every }));
    journals.set('state --tx N, padded journal', main);
    const lastTx = Math.min(...[...journals.values()].filter((j) => j !== main).map((j) => j.lastTx));
    const txs = Array.from({ length: PROCESS_RUNS }, () => Math.floor(lastTx / 2 + random() * (lastTx / 2)));
    const mainTxs = Array.from({ length: PROCESS_RUNS }, () => Math.floor(main.lastTx / 2 + random() * (main.lastTx / 2)));
    meta.state = {
      sessions: STATE_SESSIONS,
      intervals: STATE_INTERVALS,
      txs,
      paddedTxs: mainTxs,
      journals: Object.fromEntries([...journals].map(([label, j]) => [label, { dir: j.dir, lastTx: j.lastTx, snapshots: j.snapshots, recordSeconds: round1(j.recordSeconds) }])),
    };
    const labels = [...journals.keys()].filter((l) => wanted(options, l) || wanted(options, `${l}, in-process`));
    log(`replay state: ${labels.length} journals, ${PROCESS_RUNS} random transactions each (tx ${Math.floor(lastTx / 2)}..${lastTx})`);
    const wall = new Map<string, number[]>(labels.map((l) => [l, []]));
    const cpu = new Map<string, (number | null)[]>(labels.map((l) => [l, []]));
    for (const label of labels) await runProcess(['state', '--tx', String(txs[0]), '-j', journals.get(label)!.dir, '--json']);
    for (let i = 0; i < PROCESS_RUNS; i++) {
      for (const label of labels) {
        const tx = label.includes('padded') ? mainTxs[i] : txs[i];
        const r = await runProcess(['state', '--tx', String(tx), '-j', journals.get(label)!.dir, '--json']);
        const parsed = JSON.parse(r.stdout) as { tx: number; tables: { name: string; rows: number }[] };
        if (parsed.tx !== tx || !parsed.tables.some((t) => t.name === 'transfers')) throw new Error(`replay state --tx ${tx}: unexpected output ${r.stdout}`);
        wall.get(label)!.push(r.ms);
        cpu.get(label)!.push(r.cpuMs);
      }
    }
    for (const label of labels) {
      const j = journals.get(label)!;
      results.push(result(`${label}, whole process`, 'ms', wall.get(label)!, { cpuMs: medianOrNull(cpu.get(label)!), snapshots: j.snapshots, lastTx: j.lastTx }));
    }
    for (const label of labels) {
      const j = journals.get(label)!;
      const times: number[] = [];
      for (let i = 0; i < PROCESS_RUNS; i++) {
        collectGarbage();
        const t0 = nowMs();
        dist.state.state({ journal: j.dir, tx: label.includes('padded') ? mainTxs[i] : txs[i] });
        times.push(nowMs() - t0);
      }
      results.push(result(`${label}, in-process`, 'ms', times));
    }
  }

  // ---- replay verify ------------------------------------------------------------------------
  const windowFrom = Math.floor(main.lastTx / 2) - Math.floor(VERIFY_WINDOW / 2);
  const windowTo = windowFrom + VERIFY_WINDOW - 1;
  if (wantVerify) {
    const ids = windowOf(dist, main, windowFrom, windowTo);
    meta.verify = { fromTx: windowFrom, toTx: windowTo, sessions: ids.length };
    log(`replay verify: ${ids.length} transfer sessions (--from-tx ${windowFrom} --to-tx ${windowTo}), ${options.runs} runs of each case`);
    const cases = verifyLabels.filter((l) => wanted(options, l));
    const perSec = new Map<string, number[]>(cases.map((l) => [l, []]));
    const cpuPerSession = new Map<string, (number | null)[]>(cases.map((l) => [l, []]));
    const once = async (label: string): Promise<void> => {
      const jobs = label.includes('--jobs 2') ? 2 : 1;
      let sessions: number;
      let passed: number;
      let ms: number;
      let cpuMs: number | null;
      if (label.includes('in-process')) {
        collectGarbage();
        const c0 = cpuNow();
        const t0 = nowMs();
        const r = await dist.verify.verify({ journal: main.dir, kind: 'transfer', fromTx: windowFrom, toTx: windowTo, jobs });
        ms = nowMs() - t0;
        cpuMs = cpuNow() - c0;
        sessions = r.sessions;
        passed = r.passed;
      } else {
        const r = await runProcess(['verify', '-j', main.dir, '--kind', 'transfer', '--from-tx', String(windowFrom), '--to-tx', String(windowTo), '--jobs', String(jobs), '--json']);
        const parsed = JSON.parse(r.stdout) as { sessions: number; passed: number };
        ({ ms, cpuMs } = r);
        sessions = parsed.sessions;
        passed = parsed.passed;
      }
      if (sessions !== ids.length || passed !== sessions) throw new Error(`${label}: ${passed} of ${sessions} sessions passed, expected all ${ids.length}`);
      perSec.get(label)!.push((sessions / ms) * 1000);
      cpuPerSession.get(label)!.push(cpuMs === null ? null : cpuMs / sessions);
    };
    for (const label of cases) await once(label); // warm-up
    for (const label of cases) {
      perSec.get(label)!.length = 0;
      cpuPerSession.get(label)!.length = 0;
    }
    for (let round = 0; round < options.runs; round++) {
      for (const label of cases) await once(label);
      log(`  round ${round + 1}: ${cases.map((l) => `${l} ${Math.round(perSec.get(l)!.at(-1)!)}/s`).join(', ')}`);
    }
    for (const label of cases) {
      const cpus = cpuPerSession.get(label)!;
      results.push(
        result(label, 'sessions/s', perSec.get(label)!, {
          cpuMsPerSession: cpus.some((c) => c === null) ? null : round2(median(cpus as number[])),
          sessions: ids.length,
          ...(label.includes('--jobs 2') ? { goal: { min: VERIFY_GOAL, text: `>= ${VERIFY_GOAL} sessions/s with 2 jobs` } } : {}),
        }),
      );
    }
  }

  // ---- replay verify of every transfer ---------------------------------------------------------
  const fullLabels = ['verify all transfers --jobs 1, whole process', 'verify all transfers --jobs 2, whole process'].filter((l) => wanted(options, l));
  if (fullLabels.length > 0) {
    const runs = Math.min(3, options.runs);
    log(`replay verify --kind transfer: all ${main.transfers} transfers, whole process, ${runs} runs of each`);
    const perSec = new Map<string, number[]>(fullLabels.map((l) => [l, []]));
    const cpuPerSession = new Map<string, (number | null)[]>(fullLabels.map((l) => [l, []]));
    for (let round = 0; round < runs; round++) {
      for (const label of fullLabels) {
        const jobs = label.includes('--jobs 2') ? 2 : 1;
        const r = await runProcess(['verify', '-j', main.dir, '--kind', 'transfer', '--jobs', String(jobs), '--json']);
        const parsed = JSON.parse(r.stdout) as { sessions: number; passed: number };
        if (parsed.sessions !== main.transfers || parsed.passed !== parsed.sessions) throw new Error(`${label}: ${parsed.passed} of ${parsed.sessions} passed`);
        perSec.get(label)!.push((parsed.sessions / r.ms) * 1000);
        cpuPerSession.get(label)!.push(r.cpuMs === null ? null : r.cpuMs / parsed.sessions);
      }
      log(`  round ${round + 1}: ${fullLabels.map((l) => `${l} ${Math.round(perSec.get(l)!.at(-1)!)}/s`).join(', ')}`);
    }
    for (const label of fullLabels) {
      const cpus = cpuPerSession.get(label)!;
      results.push(
        result(label, 'sessions/s', perSec.get(label)!, {
          cpuMsPerSession: cpus.some((c) => c === null) ? null : round2(median(cpus as number[])),
          sessions: main.transfers,
          ...(label.includes('--jobs 2') ? { goal: { min: VERIFY_GOAL, text: `>= ${VERIFY_GOAL} sessions/s with 2 jobs` } } : {}),
        }),
      );
    }
  }

  // ---- the peer: Temporal's replayer ----------------------------------------------------------------
  if (wantPeer) {
    ensurePeerInstalled();
    const peerFrom = windowFrom;
    const peerTo = peerFrom + PEER_WINDOW - 1;
    const ids = windowOf(dist, main, peerFrom, peerTo);
    const facts = transferFacts(dist, main, ids);
    const peer = await startPeer();
    try {
      const loaded = (await peer.call({ cmd: 'load', facts })) as PeerLoaded;
      log(`Temporal peer: @temporalio/worker ${loaded.version}, workflow bundled once in ${Math.round(loaded.bundleMs)} ms; ${ids.length} sessions (--from-tx ${peerFrom} --to-tx ${peerTo})`);
      for (const [shape, check] of Object.entries(loaded.checks)) {
        if (check.clean.histories === 0 || Object.keys(check.clean.failures).length > 0) {
          throw new Error(`Temporal peer: the ${shape} histories do not replay clean: ${check.clean.firstFailure}`);
        }
        if (check.renamed.determinismViolations !== 1) {
          throw new Error(
            `Temporal peer: a ${shape} history with the activity scoreTransfer renamed replayed without a DeterminismViolationError (${JSON.stringify(check.renamed.failures)}); the replay does not check the history`,
          );
        }
      }
      log('Temporal peer checks passed: clean histories replay, a renamed activity fails with DeterminismViolationError');

      const windback = async (): Promise<{ perSec: number; cpuMs: number }> => {
        collectGarbage();
        const c0 = cpuNow();
        const t0 = nowMs();
        const r = await dist.verify.verify({ journal: main.dir, kind: 'transfer', fromTx: peerFrom, toTx: peerTo, jobs: 1 });
        const ms = nowMs() - t0;
        const cpu = cpuNow() - c0;
        if (r.sessions !== ids.length || r.passed !== r.sessions) throw new Error(`Windback verify of the peer window: ${r.passed} of ${r.sessions} passed`);
        return { perSec: (r.sessions / ms) * 1000, cpuMs: cpu / r.sessions };
      };
      const temporal = async (shape: 'transfer' | 'transferBriefed'): Promise<{ perSec: number; cpuMs: number }> => {
        const r = (await peer.call({ cmd: 'replay', shape })) as PeerReplay;
        if (r.histories !== ids.length || Object.keys(r.failures).length > 0) throw new Error(`Temporal replay failed: ${r.firstFailure}`);
        return { perSec: (r.histories / r.ms) * 1000, cpuMs: r.cpuMs / r.histories };
      };
      // Warm-up of both (JIT, page cache, the first replay worker).
      await windback();
      await temporal('transfer');
      const wb: number[] = [];
      const wbCpu: number[] = [];
      const tf: number[] = [];
      const tfCpu: number[] = [];
      const tb: number[] = [];
      const tbCpu: number[] = [];
      const ratios: number[] = [];
      const ratiosBriefed: number[] = [];
      const ratiosCpu: number[] = [];
      for (let round = 0; round < options.runs; round++) {
        const w = await windback();
        const t = await temporal('transfer');
        const b = await temporal('transferBriefed');
        wb.push(w.perSec);
        wbCpu.push(w.cpuMs);
        tf.push(t.perSec);
        tfCpu.push(t.cpuMs);
        tb.push(b.perSec);
        tbCpu.push(b.cpuMs);
        ratios.push(w.perSec / t.perSec);
        ratiosBriefed.push(w.perSec / b.perSec);
        ratiosCpu.push(t.cpuMs / w.cpuMs);
        log(`  round ${round + 1}: Windback ${Math.round(w.perSec)}/s, Temporal ${Math.round(t.perSec)}/s (briefed ${Math.round(b.perSec)}/s): ${round1(w.perSec / t.perSec)}x`);
      }
      results.push(
        result('Windback verify(), 1 thread, peer window', 'sessions/s', wb, {
          cpuMsPerSession: round2(median(wbCpu)),
          vsTemporal: round1(median(ratios)),
          vsTemporalBriefed: round1(median(ratiosBriefed)),
          vsTemporalCpu: round1(median(ratiosCpu)),
          sessions: ids.length,
        }),
        result('Temporal runReplayHistories, transfer', 'histories/s', tf, { cpuMsPerHistory: round2(median(tfCpu)), events: loaded.events.transfer, activities: 4 }),
        result('Temporal runReplayHistories, transfer (briefed shape)', 'histories/s', tb, {
          cpuMsPerHistory: round2(median(tbCpu)),
          events: loaded.events.transferBriefed,
          activities: 3,
        }),
        {
          label: 'Windback / Temporal replay throughput',
          value: round1(median(ratios)),
          unit: 'x',
          runs: ratios.map(round1),
          goal: { min: PEER_GOAL, text: `Windback >= ${PEER_GOAL}x Temporal` },
          briefedShape: round1(median(ratiosBriefed)),
          cpuPerSession: round1(median(ratiosCpu)),
        },
      );
      meta.peer = {
        temporalWorker: loaded.version,
        bundleMs: Math.round(loaded.bundleMs),
        bundleBytes: loaded.bundleBytes,
        sessions: ids.length,
        fromTx: peerFrom,
        toTx: peerTo,
        events: loaded.events,
        reuseV8Context: true,
        process: 'a child process of its own (bench/peers/temporal/serve.ts)',
      };
    } finally {
      peer.close();
    }
  }

  emit({ name: 'replay', results, meta });
}

await main();
