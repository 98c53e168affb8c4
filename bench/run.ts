// Windback benchmark runner: `npm run bench [-- <filter>...] [--quick] [--runs=N] [--case=TEXT] [--cpu-prof]`
//
// MODULE CONTRACT. A benchmark module is any file `bench/<name>.ts` other than
// this one. Subdirectories (such as `bench/lib/`, for helpers) are not
// scanned. To add a benchmark, add a file; nothing here needs to change.
//
//  - The runner starts each module in its own child process, one after the
//    other, as `node --import tsx --expose-gc bench/<name>.ts [--quick]
//    [--runs=N] [--case=TEXT]`, with the repository root as working directory
//    and `npm run build` already done (so `dist/` is fresh if a module needs
//    the compiled CLI). The same settings are also in the environment:
//    WINDBACK_BENCH_QUICK=1, WINDBACK_BENCH_RUNS, WINDBACK_BENCH_CASE.
//    `benchOptions()` in bench/lib/common.ts reads them.
//  - `--quick` asks for a smoke-sized run (seconds, not minutes): small data,
//    two runs. Figures from it are not for the docs.
//  - `--case=TEXT` asks a module to run only the cases whose label contains
//    TEXT (modules should honour it; see `wanted()` in bench/lib/common.ts).
//  - The module prints exactly ONE JSON line on stdout, last:
//      {"name": "<name>", "results": [{"label": "...", "value": 123, "unit": "records/s", ...}], "meta": {...}}
//    `value` is the median of the module's runs; `runs` (every run's value),
//    `goal` ({"min": n} when higher is better, {"max": n} when lower is
//    better, plus "text") and any other fields are optional and are kept in
//    latest.json. `emit()` in bench/lib/common.ts prints it.
//  - Progress and anything else for humans goes to stderr, which the runner
//    passes through. Exit non-zero on failure.
//  - A module cleans up after itself: temporary data under os.tmpdir(),
//    deleted at the end (`makeTempDir`/`removeDir`).
//  - No module asserts on time. A missed goal is reported, never fatal.
//
// The runner prints one table per module and writes bench/results/latest.json
// (gitignored) with the machine description and every module's output, and
// bench/results/<name>.json with each module's last successful output.
// `--cpu-prof` runs the modules under `node --cpu-prof` and keeps the
// profiles in bench/results/profiles/ (open them in Chrome DevTools).

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchOutput, type BenchResult, machineInfo } from './lib/common.js';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(benchDir);
const resultsDir = path.join(benchDir, 'results');

interface ModuleRun {
  name: string;
  file: string;
  ok: boolean;
  seconds: number;
  /** 1-minute load average before and after: how busy the machine was. */
  load: [number, number];
  output?: BenchOutput;
  error?: string;
}

function usage(): string {
  return [
    'usage: npm run bench -- [filter...] [--quick] [--runs=N] [--case=TEXT] [--cpu-prof]',
    '  filter      run only modules whose name contains one of these words',
    '  --quick     smoke-sized runs (seconds), not figures for the docs',
    '  --runs=N    runs per case (default 5, 2 with --quick)',
    '  --case=TEXT run only cases whose label contains TEXT',
    '  --cpu-prof  write V8 CPU profiles to bench/results/profiles/',
  ].join('\n');
}

function parseArgs(argv: string[]) {
  const filters: string[] = [];
  const passOn: string[] = [];
  let quick = false;
  let cpuProf = false;
  for (const arg of argv) {
    if (arg === '--help' || arg === '-h') {
      console.log(usage());
      process.exit(0);
    } else if (arg === '--quick') {
      quick = true;
      passOn.push(arg);
    } else if (arg.startsWith('--runs=') || arg.startsWith('--case=')) {
      passOn.push(arg);
    } else if (arg === '--cpu-prof') {
      cpuProf = true;
    } else if (arg.startsWith('-')) {
      console.error(`unknown option ${arg}\n${usage()}`);
      process.exit(2);
    } else {
      filters.push(arg);
    }
  }
  return { filters, passOn, quick, cpuProf };
}

function discover(filters: string[]): { name: string; file: string }[] {
  return fs
    .readdirSync(benchDir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && f !== 'run.ts')
    .map((f) => ({ name: f.slice(0, -3), file: path.join(benchDir, f) }))
    .filter((m) => filters.length === 0 || filters.some((w) => m.name.includes(w)))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function runModule(file: string, passOn: string[], cpuProf: boolean): Promise<{ code: number | null; stdout: string }> {
  const nodeArgs = ['--import', 'tsx', '--expose-gc'];
  if (cpuProf) {
    const dir = path.join(resultsDir, 'profiles');
    fs.mkdirSync(dir, { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${dir}`);
  }
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const arg of passOn) {
    if (arg === '--quick') env.WINDBACK_BENCH_QUICK = '1';
    else if (arg.startsWith('--runs=')) env.WINDBACK_BENCH_RUNS = arg.slice(7);
    else if (arg.startsWith('--case=')) env.WINDBACK_BENCH_CASE = arg.slice(7);
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, file, ...passOn], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (stdout += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout }));
  });
}

/** The last stdout line that parses as a result object. */
function parseOutput(stdout: string): BenchOutput | null {
  const lines = stdout.trim().split('\n').reverse();
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    try {
      const parsed = JSON.parse(line) as BenchOutput;
      if (typeof parsed.name === 'string' && Array.isArray(parsed.results)) return parsed;
    } catch {
      // Not the result line.
    }
  }
  return null;
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

function goalText(result: BenchResult): string {
  const goal = result.goal;
  if (!goal) return '';
  const met = (goal.min === undefined || result.value >= goal.min) && (goal.max === undefined || result.value <= goal.max);
  return `${met ? 'met' : 'MISSED'}: ${goal.text ?? (goal.min !== undefined ? `>= ${goal.min}` : `<= ${goal.max}`)}`;
}

function printTable(output: BenchOutput): void {
  const rows = output.results.map((r) => {
    const extras: string[] = [];
    if (typeof r.mbPerSec === 'number') extras.push(`${formatNumber(r.mbPerSec)} MB/s`);
    for (const [key, value] of Object.entries(r)) {
      if (key.startsWith('vs') && typeof value === 'number') extras.push(`${key} ${value}x`);
    }
    if (Array.isArray(r.runs) && r.runs.length > 1) {
      extras.push(`runs ${formatNumber(Math.min(...r.runs))}..${formatNumber(Math.max(...r.runs))}`);
    }
    const goal = goalText(r);
    if (goal) extras.push(goal);
    return [r.label, formatNumber(r.value), r.unit, extras.join(', ')];
  });
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i].length), 4));
  console.log(`\n${output.name}`);
  for (const row of rows) {
    console.log(`  ${row[0].padEnd(widths[0])}  ${row[1].padStart(widths[1])} ${row[2].padEnd(widths[2])}  ${row[3]}`);
  }
}

async function main(): Promise<void> {
  const { filters, passOn, quick, cpuProf } = parseArgs(process.argv.slice(2));
  const modules = discover(filters);
  if (modules.length === 0) {
    console.error(`no benchmark module matches ${filters.join(' ')}`);
    process.exit(2);
  }
  const machine = machineInfo();
  console.log(
    `machine: ${machine.nproc} cores, ${machine.cpuModel}, ${machine.memoryGiB} GiB, node ${machine.node}, ${machine.tmpdir} on ${machine.tmpFs}`,
  );
  console.log(`modules: ${modules.map((m) => m.name).join(', ')}${quick ? ' (quick)' : ''}`);
  const load = os.loadavg()[0];
  if (load > machine.nproc / 4) {
    console.log(`note: the 1-minute load average is ${load.toFixed(2)} on ${machine.nproc} cores; other work will make the figures noisy`);
  }

  const runs: ModuleRun[] = [];
  for (const m of modules) {
    console.error(`\n== ${m.name}`);
    const started = performance.now();
    const loadBefore = os.loadavg()[0];
    let run: ModuleRun;
    try {
      const { code, stdout } = await runModule(m.file, passOn, cpuProf);
      const output = parseOutput(stdout);
      const seconds = Math.round((performance.now() - started) / 100) / 10;
      const load: [number, number] = [loadBefore, os.loadavg()[0]];
      if (code !== 0 || output === null) {
        run = { name: m.name, file: path.relative(root, m.file), ok: false, seconds, load, error: code !== 0 ? `exit code ${code}` : 'no result line on stdout' };
      } else {
        run = { name: m.name, file: path.relative(root, m.file), ok: true, seconds, load, output };
      }
    } catch (error) {
      run = { name: m.name, file: path.relative(root, m.file), ok: false, seconds: 0, load: [loadBefore, os.loadavg()[0]], error: String(error) };
    }
    runs.push(run);
    if (run.output) printTable(run.output);
    if (run.output) console.log(`  (${run.seconds} s; load average ${run.load[0].toFixed(2)} before, ${run.load[1].toFixed(2)} after)`);
    else console.log(`\n${m.name}: FAILED (${run.error})`);
  }

  fs.mkdirSync(resultsDir, { recursive: true });
  const latest = {
    at: new Date().toISOString(),
    argv: process.argv.slice(2),
    quick,
    machine,
    modules: runs,
  };
  const out = path.join(resultsDir, 'latest.json');
  fs.writeFileSync(out, `${JSON.stringify(latest, null, 2)}\n`);
  // Also each module's last good result on its own, so that a filtered run
  // does not lose the others' figures.
  for (const run of runs) {
    if (run.ok) fs.writeFileSync(path.join(resultsDir, `${run.name}.json`), `${JSON.stringify({ ...latest, modules: [run] }, null, 2)}\n`);
  }
  console.log(`\nwrote ${path.relative(root, out)} and bench/results/<module>.json`);
  if (runs.some((r) => !r.ok)) process.exit(1);
}

await main();
