import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createElement } from 'react';
import { render as inkRender } from 'ink-testing-library';
import { writeSyntheticJournal, type SyntheticSummary } from '../scripts/synthetic-journal.js';
import { startServer } from '../src/runtime/server.js';
import { TuiData, type AliveView, type Json, type ReplayEvent, type ReplayTrace, type SessionSteps, type StepRow, type TxView } from '../src/services/tui-data.js';
import { App } from '../src/tui/App.js';
import { stepDiff } from '../src/tui/diff.js';
import { initialState, reducer, type TuiState } from '../src/tui/state.js';
import { type BenchResult, benchOptions, collectGarbage, emit, log, makeTempDir, median, nowMs, removeDir, wanted } from './lib/common.js';
import { recordRoundsSession } from './lib/rounds.js';
import { generatorVersion } from './lib/synthetic-cache.js';

// `replay tui`: how soon it shows something useful, and how fast it steps.
//
//  1. Start: `node bin/replay.js tui --journal <dir> --tx <middle tx>` on a
//     synthetic journal of 1,000,000 sessions (scripts/synthetic-journal.ts;
//     100,000 with --quick), launched in a detached tmux session of 80x24 on
//     a private tmux socket, from launch (just before `tmux new-session`) to
//     the first complete frame seen by polling `tmux capture-pane -p` (every
//     10 ms, so the figures are up to ~15 ms late, the floor's as well): the
//     timeline and the sessions pane with its count, nothing still loading
//     ("winding to tx", "loading…"). The first paint (the frame's skeleton,
//     still loading) is reported too (the same figure since the first frame
//     is drawn complete, docs/tui.md "Start-up"). Side by side, interleaved run by run:
//     the floor, `replay info --help` (node plus oclif start-up), as a process
//     from spawn to exit, and the same command in tmux until its USAGE shows
//     (the floor through the same polling apparatus; a marker echoed after it
//     shows it has finished). The catalog is brought
//     up to date (`replay info`) before any timing. A tmux server with a
//     holder session is started first so its start-up is not timed.
//  2. Stepping on a 1,000-step session, in process:
//      - the reducer's `step-move` alone (pure), per step, and reducer plus
//        stepDiff (what the App recomputes for the diff pane), over a
//        synthetic session (no journal, no engine);
//      - a REAL session: one `walk` request of fixtures/apps/rounds (165
//        rounds of checkpoint, read, call, value and write transaction,
//        after 7 Date.now() values: 1,000 records) recorded by startServer()
//        into a temporary journal, as bench/replay.ts --case=step does, and
//        opened with TuiData. A step move there goes through the stepping
//        API: TuiData.stepTo alone (Stepper.goto behind the TUI's queue, the
//        state put in display form), and the real App rendered by
//        ink-testing-library (80x24, debug mode, so not throttled to 30 fps
//        as a terminal is), from writing ↓ or ↑ to the fake stdin to the
//        frame whose diff pane shows the re-executed state of the new step
//        (its title at that step, nothing still re-executing).
//     Each is the median over 999 steps forward and 999 back (100 with
//     --quick), after a warm-up; the App's moves wait for each frame, so
//     none is coalesced.
//
// The journal is the one bench/catalog-wind.ts caches ($WINDBACK_BENCH_CACHE,
// default <tmpdir>/windback-bench/, keyed by the generator's version and the
// session count); this module writes it under the same key if it is missing
// and keeps it, as catalog-wind does. WINDBACK_BENCH_TUI_JOURNAL=<cache entry>
// uses an entry whatever its key (the generator's sources being edited would
// otherwise mean writing 770 MiB again). For A/B runs of the start case,
// WINDBACK_BENCH_COMPARE_BIN=<a copy of bin/replay.js with its own dist/ and
// package.json> times that build too, interleaved run by run with this one
// (WINDBACK_BENCH_REPLAY_BIN: that build instead of this one).

const options = benchOptions();
const SESSIONS = options.quick ? 100_000 : 1_000_000;
const SEED = 1;
const START_RUNS = options.quick ? 3 : Math.max(7, options.runs);
const STEPS = 1000;
const STEP_MOVES = options.quick ? 100 : STEPS - 1;
const START_GOAL_MS = 1000;
const STEP_GOAL_MS = 50;
const POLL_LIMIT_MS = 30_000;
const POLL_PAUSE_MS = 10;
const pauseCell = new Int32Array(new SharedArrayBuffer(4));

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
// WINDBACK_BENCH_REPLAY_BIN: another build's bin/replay.js, for A/B runs against a copy of an older dist/.
const BIN = process.env.WINDBACK_BENCH_REPLAY_BIN ? path.resolve(process.env.WINDBACK_BENCH_REPLAY_BIN) : path.join(root, 'bin', 'replay.js');
// WINDBACK_BENCH_COMPARE_BIN: another build's bin/replay.js, launched run by run between this one's (start case).
const COMPARE_BIN = process.env.WINDBACK_BENCH_COMPARE_BIN ? path.resolve(process.env.WINDBACK_BENCH_COMPARE_BIN) : null;

// --- the cached synthetic journal (same key as bench/catalog-wind.ts) ------------------


async function cachedJournal(): Promise<{ dir: string; summary: SyntheticSummary; generatedNow: boolean }> {
  const cacheRoot = process.env.WINDBACK_BENCH_CACHE || path.join(os.tmpdir(), 'windback-bench');
  const key = `synthetic-${generatorVersion()}-s${SEED}-${SESSIONS}`;
  // WINDBACK_BENCH_TUI_JOURNAL: a cache entry to use whatever its key (while the generator's sources are being edited, say).
  const home = process.env.WINDBACK_BENCH_TUI_JOURNAL ? path.resolve(process.env.WINDBACK_BENCH_TUI_JOURNAL) : path.join(cacheRoot, key);
  const dir = path.join(home, 'journal');
  const summaryFile = path.join(home, 'summary.json');
  if (fs.existsSync(summaryFile)) {
    log(`using the cached journal ${dir}`);
    return { dir, summary: JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as SyntheticSummary, generatedNow: false };
  }
  if (process.env.WINDBACK_BENCH_TUI_JOURNAL) throw new Error(`WINDBACK_BENCH_TUI_JOURNAL: no ${summaryFile}`);
  fs.mkdirSync(cacheRoot, { recursive: true });
  const partial = fs.mkdtempSync(path.join(cacheRoot, `.partial-${key}-`));
  log(`writing a synthetic journal of ${SESSIONS.toLocaleString('en-US')} sessions (cached afterwards in ${home})...`);
  try {
    const summary = await writeSyntheticJournal(path.join(partial, 'journal'), { sessions: SESSIONS, seed: SEED });
    const stored = { ...summary, journal: dir };
    fs.writeFileSync(path.join(partial, 'summary.json'), `${JSON.stringify(stored, null, 2)}\n`);
    fs.rmSync(home, { recursive: true, force: true });
    fs.renameSync(partial, home);
    return { dir, summary: stored, generatedNow: true };
  } catch (error) {
    fs.rmSync(partial, { recursive: true, force: true });
    throw error;
  }
}

// --- 1. start-up in tmux -----------------------------------------------------------------

const SOCKET = `windback-bench-tui-${process.pid}`;

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

interface Launch {
  /** First capture showing the screen's skeleton (ms from launch). */
  firstPaint: number | null;
  /** First capture satisfying `complete` (ms from launch). */
  complete: number;
}

let launches = 0;

/** Launch `command` in a fresh 80x24 tmux session; poll its pane until `complete(screen)`. */
function timeInTmux(command: string, painted: (screen: string) => boolean, complete: (screen: string) => boolean): Launch {
  const name = `run${++launches}`;
  const t0 = nowMs();
  tmux('new-session', '-d', '-x', '80', '-y', '24', '-s', name, command);
  let firstPaint: number | null = null;
  let screen = '';
  try {
    for (;;) {
      try {
        screen = tmux('capture-pane', '-p', '-t', name);
      } catch (error) {
        throw new Error(`the tmux pane of "${command}" went away before its frame showed (last screen:\n${screen})`, { cause: error });
      }
      const t = nowMs() - t0;
      if (firstPaint === null && painted(screen)) firstPaint = t;
      if (complete(screen)) return { firstPaint, complete: t };
      // A pause between captures: a busy poll would take a core from the TUI on a small host.
      Atomics.wait(pauseCell, 0, 0, POLL_PAUSE_MS);
      if (t > POLL_LIMIT_MS) throw new Error(`gave up after ${POLL_LIMIT_MS} ms waiting for "${command}"; the screen was:\n${screen}`);
    }
  } finally {
    try {
      tmux('kill-session', '-t', name);
    } catch {
      // already gone
    }
  }
}

function processMs(args: string[]): number {
  const t0 = nowMs();
  const r = spawnSync(process.execPath, [BIN, ...args], { stdio: 'ignore' });
  const ms = nowMs() - t0;
  if (r.status !== 0) throw new Error(`replay ${args.join(' ')} exited ${r.status}`);
  return ms;
}

async function startBench(results: BenchResult[], meta: Record<string, unknown>): Promise<void> {
  const journal = await cachedJournal();
  const tx = Math.max(1, Math.floor(journal.summary.transactions / 2));
  meta.journal = { dir: journal.dir, sessions: journal.summary.sessions, transactions: journal.summary.transactions, bytes: journal.summary.bytes, generatedNow: journal.generatedNow };
  meta.startTx = tx;
  log('bringing the catalog up to date (replay info)...');
  const t0 = nowMs();
  const info = spawnSync(process.execPath, [BIN, 'info', '--journal', journal.dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (info.status !== 0) throw new Error(`replay info exited ${info.status}`);
  meta.infoSeconds = Math.round(nowMs() - t0) / 1000;

  const tuiCommand = `exec node ${shellQuote(BIN)} tui --journal ${shellQuote(journal.dir)} --tx ${tx}`;
  const compareCommand = COMPARE_BIN ? `exec node ${shellQuote(COMPARE_BIN)} tui --journal ${shellQuote(journal.dir)} --tx ${tx}` : null;
  const floorCommand = `node ${shellQuote(BIN)} info --help; echo FLOOR-DONE; sleep 600`;
  const header = new RegExp(`Timeline · tx ${tx} of 1–${journal.summary.transactions}`);
  const sessionsDone = new RegExp(`Sessions at tx ${tx} \\(\\d+\\)`);
  const tuiPainted = (s: string): boolean => header.test(s);
  const tuiComplete = (s: string): boolean => header.test(s) && sessionsDone.test(s) && !/winding to tx|loading…/.test(s);
  const floorShown = (s: string): boolean => /^FLOOR-DONE$/m.test(s);

  // A tmux server with a holder session, so that no timed run pays for starting the server.
  tmux('new-session', '-d', '-x', '80', '-y', '24', '-s', 'holder', 'sleep 3600');
  const socketPath = tmux('display-message', '-p', '-t', 'holder', '#{socket_path}').trim();
  const tui: Launch[] = [];
  const compared: Launch[] = [];
  const floorTmux: number[] = [];
  const floorProcess: number[] = [];
  try {
    // One untimed launch each: the file cache warm, as for every timed run.
    timeInTmux(tuiCommand, tuiPainted, tuiComplete);
    if (compareCommand) timeInTmux(compareCommand, tuiPainted, tuiComplete);
    processMs(['info', '--help']);
    for (let i = 0; i < START_RUNS; i++) {
      collectGarbage();
      // The compared build goes first every other run, so that neither always follows the other.
      const compareFirst = compareCommand !== null && i % 2 === 1;
      if (compareCommand && compareFirst) compared.push(timeInTmux(compareCommand, tuiPainted, tuiComplete));
      const run = timeInTmux(tuiCommand, tuiPainted, tuiComplete);
      tui.push(run);
      if (compareCommand && !compareFirst) compared.push(timeInTmux(compareCommand, tuiPainted, tuiComplete));
      if (compareCommand) log(`  run ${i + 1}/${START_RUNS}: compared build (${COMPARE_BIN}): first complete frame ${compared[i].complete.toFixed(0)} ms`);
      floorTmux.push(timeInTmux(floorCommand, floorShown, floorShown).complete);
      floorProcess.push(processMs(['info', '--help']));
      log(`  run ${i + 1}/${START_RUNS}: first complete frame ${run.complete.toFixed(0)} ms (first paint ${run.firstPaint?.toFixed(0) ?? '-'} ms); floor in tmux ${floorTmux[i].toFixed(0)} ms, floor process ${floorProcess[i].toFixed(0)} ms`);
    }
  } finally {
    try {
      tmux('kill-server');
    } catch {
      // already gone
    }
    // kill-server leaves the socket file behind.
    if (socketPath.includes(SOCKET)) fs.rmSync(socketPath, { force: true });
  }
  const round = (xs: number[]): number[] => xs.map((x) => Math.round(x * 10) / 10);
  const completes = tui.map((r) => r.complete);
  const paints = tui.map((r) => r.firstPaint ?? NaN).filter((x) => !Number.isNaN(x));
  const sizeLabel = SESSIONS >= 1e6 ? `${SESSIONS / 1e6}M` : `${SESSIONS / 1e3}k`;
  results.push({
    label: `tui start to first complete frame (${sizeLabel} sessions, tmux 80x24)`,
    value: Math.round(median(completes)),
    unit: 'ms',
    runs: round(completes),
    goal: { max: START_GOAL_MS, text: 'under 1 s' },
    floorInTmuxMs: Math.round(median(floorTmux)),
    minusFloorInTmuxMs: Math.round(median(completes) - median(floorTmux)),
  });
  if (compareCommand) {
    const other = compared.map((r) => r.complete);
    results.push({ label: `compared build: tui start to first complete frame (${sizeLabel} sessions, tmux 80x24)`, value: Math.round(median(other)), unit: 'ms', runs: round(other), bin: COMPARE_BIN });
  }
  results.push({ label: `tui start to first paint, still loading (${sizeLabel} sessions)`, value: Math.round(median(paints)), unit: 'ms', runs: round(paints) });
  results.push({ label: 'floor: replay info --help in tmux, to its output', value: Math.round(median(floorTmux)), unit: 'ms', runs: round(floorTmux) });
  results.push({ label: 'floor: replay info --help process, spawn to exit', value: Math.round(median(floorProcess)), unit: 'ms', runs: round(floorProcess) });
}

// --- 2. stepping on a 1,000-step session ----------------------------------------------

const SESSION = 5;
const RANGE = { first: 1, last: 2000 };
const START_TX = 1000;

/** A transfer-like session of `count` records: start, then repeated read/checkpoint/call/value/write rounds, response, end. */
function syntheticRows(count: number): StepRow[] {
  const rows: StepRow[] = [];
  let position = 1_000_000;
  let tx = START_TX;
  let call = 0;
  let checkpoint = 0;
  const push = (kind: StepRow['kind'], record: { [key: string]: Json }, extra: Partial<StepRow> = {}): void => {
    position += 120;
    const index = rows.length;
    rows.push({ index, attempt: 1, kind, position, tx: null, at: null, summary: `${kind} ${index}`, record: { kind, ...record }, ...extra });
  };
  push('session-start', { sessionKind: 'transfer', transport: 'json', route: '/transfer', input: { from: 'acc_a', to: 'acc_b', amount: 100 }, startedAfterTx: START_TX - 1 });
  const cycle = ['checkpoint', 'read-tx', 'call-start', 'call-result', 'value', 'write-tx'] as const;
  for (let i = 0; rows.length < count - 2; i++) {
    const kind = cycle[i % cycle.length];
    const balance = 100_000 - i * 7;
    switch (kind) {
      case 'checkpoint':
        push('checkpoint', { label: `step-${checkpoint++}`, state: { from: 'acc_a', to: 'acc_b', amount: 100, round: i, seen: [balance, balance - 1] } });
        break;
      case 'read-tx':
        push('read-tx', { readAtTx: tx, result: [{ id: 'acc_a', balance, owner: 'alice' }], error: null, write: false });
        break;
      case 'call-start':
        push('call-start', { call, name: 'fetch', request: { url: 'http://stub/score', method: 'POST', body: `{"amount":${100 + i}}` }, idempotencyKey: `k-${call}` });
        break;
      case 'call-result':
        push('call-result', { call: call++, ok: true, value: { status: 200, body: `{"risk":0.${i % 10}}` } });
        break;
      case 'value':
        push('value', { source: i % 2 === 0 ? 'uuid' : 'date', value: i % 2 === 0 ? `c6ffec36-9c62-4a0e-8b7e-${String(i).padStart(12, '0')}` : 1_795_852_005_989 + i });
        break;
      case 'write-tx':
        tx++;
        push(
          'write-tx',
          {
            tx,
            readAtTx: tx - 1,
            migration: null,
            changes: [
              { table: 'accounts', key: 1, before: { id: 'acc_a', balance, owner: 'alice' }, after: { id: 'acc_a', balance: balance - 100, owner: 'alice' } },
              { table: 'accounts', key: 2, before: { id: 'acc_b', balance: 50 + i, owner: 'bob' }, after: { id: 'acc_b', balance: 150 + i, owner: 'bob' } },
              { table: 'ledger', key: 9 + i, before: null, after: { id: 9 + i, account: 'acc_a', amount: -100, memo: 'transfer' } },
            ],
          },
          { tx },
        );
        break;
    }
  }
  push('response', { status: 200, headers: {}, body: { id: 'tr_1', balance: 400 } });
  push('session-end', { status: 'ok', error: null });
  return rows;
}

const COMPARED = new Set(['value', 'call-start', 'call-result', 'write-tx', 'read-tx', 'checkpoint']);

function syntheticTrace(rows: StepRow[]): ReplayTrace {
  const events: ReplayEvent[] = rows
    .filter((r) => COMPARED.has(r.kind))
    .map((r) => ({ type: 'step' as const, step: r.index, attempt: 1, inherited: false, kind: r.kind, position: r.position, actual: r.kind === 'write-tx' ? (r.record.changes ?? null) : undefined, location: `app.ts:${10 + (r.index % 90)}:3` }));
  events.push({ type: 'end', equal: true, steps: events.length });
  return { session: SESSION, events, equal: true, divergences: [], error: null, ms: 12, cached: true };
}

function syntheticSteps(rows: StepRow[]): SessionSteps {
  const txs = rows.filter((r) => r.tx !== null).map((r) => r.tx!);
  return { session: { id: SESSION, kind: 'transfer', route: '/transfer', status: 'ok', startedAt: '2026-11-24T09:00:05.000Z', endedAt: '2026-11-24T09:00:06.000Z', attempts: 1, txs }, rows };
}

function syntheticTxView(tx: number): TxView {
  // Positioned before the session's first record, so the steps cursor starts at step 0.
  return { tx, position: 999_000, at: new Date(Date.UTC(2026, 10, 24, 9, 0, 0) + tx).toISOString(), atMs: Date.UTC(2026, 10, 24, 9, 0, 0) + tx, session: 4, sessionKind: 'deposit', migration: null, tables: [{ table: 'accounts', rows: 1 }] };
}

function syntheticAlive(): AliveView[] {
  return Array.from({ length: 8 }, (_, i) => ({ id: SESSION + i, kind: i % 2 ? 'deposit' : 'transfer', status: 'ok' as const, startedAt: '2026-11-24T09:00:05.000Z', ageMs: 100 - i * 10, lastCheckpoint: { label: 'start', position: 999_000 - i }, txs: [] }));
}

/** Cursor positions to visit: forward to the end (or STEP_MOVES), then back. */
function stepPlan(): number[] {
  const plan: number[] = [];
  for (let i = 1; i <= STEP_MOVES; i++) plan.push(+1);
  for (let i = 1; i <= STEP_MOVES; i++) plan.push(-1);
  return plan;
}

function loadedState(rows: StepRow[]): TuiState {
  let state = initialState({ range: RANGE, tx: START_TX, session: SESSION });
  state = reducer(state, { type: 'tx-loaded', view: syntheticTxView(START_TX), alive: syntheticAlive() });
  state = reducer(state, { type: 'steps-loaded', session: SESSION, steps: syntheticSteps(rows) });
  state = reducer(state, { type: 'replay-done', session: SESSION, run: state.steps!.trace.run, trace: syntheticTrace(rows) });
  if (state.steps?.view.length !== rows.length || state.steps.cursor !== 0) throw new Error('the synthetic session did not load as expected');
  return state;
}

function reducerBench(rows: StepRow[], withDiff: boolean): number[] {
  const plan = stepPlan();
  const times: number[] = [];
  let sink = 0;
  for (let round = 0; round < 2; round++) {
    // round 0 is the warm-up
    let state = loadedState(rows);
    collectGarbage();
    for (const delta of plan) {
      const t0 = nowMs();
      state = reducer(state, { type: 'scoped', scope: 'steps', action: { type: 'step-move', delta } });
      if (withDiff) sink += stepDiff(state.steps!.view, state.steps!.cursor).length;
      const t = nowMs() - t0;
      if (round === 1) times.push(t);
    }
    if (state.steps!.cursor !== 0) throw new Error(`the reducer ended at step ${state.steps!.cursor}, not 0`);
  }
  if (withDiff && sink === 0) throw new Error('stepDiff produced nothing');
  return times;
}

// --- the real session: fixtures/apps/rounds through TuiData and the stepping API ----------

const ROUNDS = 165;
/** 3 + 7 + 6 * 165 = 1,000 records (STEPS). */
const ROUNDS_EXTRA = 7;


/** TuiData.stepTo alone, next() and back() over the session, every move re-executing. */
async function stepToBench(data: TuiData, session: number, count: number): Promise<number[]> {
  const times: number[] = [];
  const move = async (step: number, keep: boolean): Promise<void> => {
    const t0 = nowMs();
    const state = await data.stepTo(session, step);
    const t = nowMs() - t0;
    if (state.index !== step || state.verdict === 'diverged' || state.verdict === 'not-reached') throw new Error(`step ${step} is ${state.verdict}`);
    if (keep) times.push(t);
  };
  // Warm-up: the first moves know no checkpoint, and load the realm.
  for (let k = 0; k < 20; k++) await move(k, false);
  await move(0, false);
  collectGarbage();
  for (let k = 1; k <= STEP_MOVES; k++) await move(k, true);
  await move(count - 1, false);
  for (let k = count - 2; k >= count - 1 - STEP_MOVES; k--) await move(k, true);
  return times;
}

/** The real App over TuiData: ↓ or ↑, to the frame whose diff shows the re-executed state of the new step. */
async function renderBench(data: TuiData, session: number, count: number): Promise<{ times: number[]; cursorTimes: number[]; frame: string }> {
  const r = inkRender(createElement(App, { source: data, color: false, size: { columns: 80, rows: 24 }, session, tx: data.txForSession(session) }));
  const last = count - 1;
  // Resolve as soon as ink writes a frame that satisfies the current check.
  let check: ((frame: string) => boolean) | null = null;
  let done: (() => void) | null = null;
  // The first frame with the cursor moved (the diff may still show the step before).
  let moved: ((frame: string) => boolean) | null = null;
  let movedAt = 0;
  const write = r.stdout.write;
  r.stdout.write = (frame: string) => {
    write(frame);
    if (moved && moved(frame)) {
      moved = null;
      movedAt = nowMs();
    }
    if (check && check(frame)) {
      check = null;
      done?.();
    }
  };
  const waitFrame = (predicate: (frame: string) => boolean, what: string): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      if (predicate(r.lastFrame() ?? '')) return resolve();
      const timer = setTimeout(() => reject(new Error(`gave up waiting for ${what}; the last frame was:\n${r.lastFrame()}`)), 15_000);
      check = predicate;
      done = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  const effectsFlushed = async (): Promise<void> => {
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  // The steps title at the cursor, and the diff at that step, re-executed (no `→ step N…`, no `re-executing…`).
  const cursorAt = (cursor: number) => (frame: string): boolean => frame.includes(` · ${cursor}/${last} `) || frame.includes(` · ${cursor}/${last}━`);
  const at = (cursor: number) => (frame: string): boolean =>
    cursorAt(cursor)(frame) && new RegExp(`Diff · step ${cursor} [a-z-]+(?![a-z-])(?! · (→|re-executing))`).test(frame);
  try {
    await waitFrame((f) => f.includes('replays equal'), 'the replayed session');
    await effectsFlushed();
    r.stdin.write('\x1b[H'); // Home: step 0
    await waitFrame(at(0), 'step 0');
    await effectsFlushed();
    const plan = stepPlan();
    const times: number[] = [];
    const cursorTimes: number[] = [];
    let lastFrame = '';
    for (let round = 0; round < 2; round++) {
      // round 0 is the warm-up, over the first 20 steps
      const moves = round === 0 ? [...Array(20).fill(+1), ...Array(20).fill(-1)] : plan;
      let cursor = 0;
      collectGarbage();
      await effectsFlushed();
      for (const delta of moves) {
        cursor += delta;
        moved = cursorAt(cursor);
        const t0 = nowMs();
        const shown = waitFrame(at(cursor), `step ${cursor}`);
        r.stdin.write(delta > 0 ? '\x1b[B' : '\x1b[A');
        await shown;
        const t = nowMs() - t0;
        if (round === 1) {
          times.push(t);
          cursorTimes.push(movedAt - t0);
        }
        await effectsFlushed();
      }
      lastFrame = r.lastFrame() ?? '';
    }
    return { times, cursorTimes, frame: lastFrame };
  } finally {
    r.stdout.write = write;
    r.unmount();
    r.cleanup();
  }
}

async function stepBench(results: BenchResult[], meta: Record<string, unknown>): Promise<void> {
  const rows = syntheticRows(STEPS);
  meta.steps = { session: rows.length, movesEachWay: STEP_MOVES };
  const p = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * q) / 100))];
  if (wanted(options, 'step: reducer')) {
    const times = reducerBench(rows, false);
    log(`  reducer step-move: median ${(median(times) * 1000).toFixed(1)} µs`);
    results.push({ label: 'step: reducer step-move (1,000-step session)', value: Math.round(median(times) * 1000 * 10) / 10, unit: 'µs', p99: Math.round(p(times, 99) * 1000 * 10) / 10, steps: times.length, goal: { max: STEP_GOAL_MS * 1000, text: 'under 50 ms a step' } });
    const withDiff = reducerBench(rows, true);
    log(`  reducer step-move + stepDiff: median ${(median(withDiff) * 1000).toFixed(1)} µs`);
    results.push({ label: 'step: reducer + stepDiff (1,000-step session)', value: Math.round(median(withDiff) * 1000 * 10) / 10, unit: 'µs', p99: Math.round(p(withDiff, 99) * 1000 * 10) / 10, steps: withDiff.length, goal: { max: STEP_GOAL_MS * 1000, text: 'under 50 ms a step' } });
  }
  const stepToLabel = 'step: TuiData.stepTo through the stepping API (1,000-step rounds session)';
  const renderLabel = 'step: key to re-executed step rendered, real App + TuiData (1,000-step rounds session, 80x24)';
  if (!wanted(options, stepToLabel) && !wanted(options, renderLabel)) return;
  const dir = makeTempDir('tui-step');
  try {
    const t0 = nowMs();
    await recordRoundsSession(startServer, path.join(dir, 'journal'), ROUNDS, ROUNDS_EXTRA);
    const data = TuiData.open({ journal: path.join(dir, 'journal') });
    try {
      const session = 1;
      const count = data.steps(session).rows.length;
      if (count !== STEPS) throw new Error(`the rounds session has ${count} steps, expected ${STEPS}`);
      const check = await data.replay(session);
      if (!check.equal) throw new Error(`the rounds session does not replay equal: ${check.error ?? check.divergences[0]?.message}`);
      meta.rounds = { steps: count, rounds: ROUNDS, recordMs: Math.round(nowMs() - t0) };
      if (wanted(options, stepToLabel)) {
        const times = await stepToBench(data, session, count);
        log(`  TuiData.stepTo: median ${median(times).toFixed(2)} ms, p99 ${p(times, 99).toFixed(2)} ms over ${times.length} moves`);
        results.push({ label: stepToLabel, value: Math.round(median(times) * 100) / 100, unit: 'ms', p99: Math.round(p(times, 99) * 100) / 100, max: Math.round(Math.max(...times) * 100) / 100, steps: times.length, goal: { max: STEP_GOAL_MS, text: 'under 50 ms a step' } });
      }
      if (wanted(options, renderLabel)) {
        const { times, cursorTimes, frame } = await renderBench(data, session, count);
        log(`  key to re-executed step rendered: median ${median(times).toFixed(2)} ms, p99 ${p(times, 99).toFixed(2)} ms over ${times.length} steps (cursor moved: median ${median(cursorTimes).toFixed(2)} ms)`);
        log(frame);
        results.push({
          label: renderLabel,
          value: Math.round(median(times) * 100) / 100,
          unit: 'ms',
          p99: Math.round(p(times, 99) * 100) / 100,
          max: Math.round(Math.max(...times) * 100) / 100,
          steps: times.length,
          // The frame before it, with the cursor on the new step and the diff still on the previous one.
          cursorMovedMs: Math.round(median(cursorTimes) * 100) / 100,
          cursorMovedP99Ms: Math.round(p(cursorTimes, 99) * 100) / 100,
          goal: { max: STEP_GOAL_MS, text: 'under 50 ms a step' },
        });
      }
    } finally {
      data.close();
    }
  } finally {
    removeDir(dir);
  }
}

async function main(): Promise<void> {
  const results: BenchResult[] = [];
  const meta: Record<string, unknown> = { sessions: SESSIONS, startRuns: START_RUNS, quick: options.quick, loadBefore: os.loadavg()[0] };
  if (wanted(options, 'step')) await stepBench(results, meta);
  if (wanted(options, 'tui start') || wanted(options, 'floor')) await startBench(results, meta);
  meta.loadAfter = os.loadavg()[0];
  emit({ name: 'tui', results, meta });
}

main().catch((error: unknown) => {
  log(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
