import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// Helpers shared by benchmark modules (bench/*.ts). See the module contract at
// the top of bench/run.ts. Nothing here asserts on time: benchmarks report,
// they never fail because a machine is slow.

/** One figure. `value` is the median of `runs` when there are several runs. */
export interface BenchResult {
  label: string;
  value: number;
  unit: string;
  /** Every run's value, in run order. */
  runs?: number[];
  /** A goal to report against; `min` means higher is better, `max` lower is better. */
  goal?: { min?: number; max?: number; text?: string };
  /** Anything else worth keeping next to the figure (MB/s, ratios, sizes). */
  [extra: string]: unknown;
}

export interface BenchOutput {
  name: string;
  results: BenchResult[];
  /** Free-form facts about the run (sizes, counts, settings). */
  meta?: Record<string, unknown>;
}

export interface BenchOptions {
  quick: boolean;
  /** Runs per case (default 5, 2 with --quick). */
  runs: number;
  /** Only cases whose label contains this (from --case=...). */
  caseFilter: string | null;
}

export function benchOptions(argv: string[] = process.argv.slice(2)): BenchOptions {
  const quick = argv.includes('--quick') || process.env.WINDBACK_BENCH_QUICK === '1';
  const runsArg = argv.find((a) => a.startsWith('--runs='))?.slice('--runs='.length) ?? process.env.WINDBACK_BENCH_RUNS;
  const caseArg = argv.find((a) => a.startsWith('--case='))?.slice('--case='.length) ?? process.env.WINDBACK_BENCH_CASE;
  const runs = runsArg ? Math.max(1, Number(runsArg)) : quick ? 2 : 5;
  return { quick, runs, caseFilter: caseArg ? caseArg : null };
}

export function wanted(options: BenchOptions, label: string): boolean {
  return options.caseFilter === null || label.includes(options.caseFilter);
}

/** Progress for humans goes to stderr; stdout carries only the result line. */
export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Print the module's single result line. */
export function emit(output: BenchOutput): void {
  process.stdout.write(`${JSON.stringify(output)}\n`);
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function nowMs(): number {
  return performance.now();
}

/** Run a major GC if the child was started with --expose-gc (bench/run.ts does). */
export function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) gc();
}

/** A fresh directory under the OS temp dir; remove it with removeDir. */
export function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `windback-bench-${prefix}-`));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Total size of the regular files in a directory (not recursive). */
export function dirBytes(dir: string): number {
  let total = 0;
  for (const name of fs.readdirSync(dir)) {
    const stat = fs.statSync(path.join(dir, name));
    if (stat.isFile()) total += stat.size;
  }
  return total;
}

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  v8: string;
  platform: string;
  kernel: string;
  tmpdir: string;
  tmpFs: string;
}

/** What the figures were measured on (for the docs and latest.json). */
export function machineInfo(): MachineInfo {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    const line = fs
      .readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) cpuModel = line.split(':')[1].trim();
  } catch {
    // Not Linux: os.cpus() is the best we have.
  }
  let nproc = os.availableParallelism?.() ?? os.cpus().length;
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || nproc;
  } catch {
    // Keep Node's count.
  }
  let tmpFs = 'unknown';
  try {
    // `df --output=fstype,source DIR`: the file system type and device of the temp dir.
    const lines = execFileSync('df', ['--output=fstype,source', os.tmpdir()], { encoding: 'utf8' }).trim().split('\n');
    tmpFs = lines[lines.length - 1].trim().split(/\s+/).join(' on ');
  } catch {
    // df missing or different: leave it unknown.
  }
  return {
    nproc,
    cpuModel,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.arch()}`,
    kernel: os.release(),
    tmpdir: os.tmpdir(),
    tmpFs,
  };
}
