import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

// Runs the real `replay` binary (bin/replay.js over dist/, so build first)
// and returns what a user would see.

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin', 'replay.js');

export interface CliResult {
  stdout: string;
  stderr: string;
  code: number;
  /** stdout parsed as JSON, or undefined when it is not JSON. */
  json: any;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Kill the run after this many ms (replay() only): a hang then fails the test with code -1 instead of stalling it. */
  timeoutMs?: number;
}

function checkBuilt(): void {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'commands', 'main.js'))) {
    throw new Error('dist/ is missing: run `npm run build` before the CLI tests');
  }
}

function environment(options: CliOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...options.env };
  delete env.REPLAY_JOURNAL;
  if (options.env?.REPLAY_JOURNAL !== undefined) env.REPLAY_JOURNAL = options.env.REPLAY_JOURNAL;
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env;
}

function result(stdout: string, stderr: string, code: number | null): CliResult {
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    json = undefined;
  }
  return { stdout, stderr, code: code ?? -1, json };
}

/** Run `replay ...args` to completion. */
export function replay(args: string[], options: CliOptions = {}): CliResult {
  checkBuilt();
  const run = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: environment(options),
    cwd: options.cwd ?? ROOT,
    maxBuffer: 256 * 1024 * 1024,
    timeout: options.timeoutMs,
    killSignal: 'SIGKILL',
  });
  return result(run.stdout, run.stderr, run.status);
}

/** The same, without blocking: several runs can go in parallel. */
export function replayAsync(args: string[], options: CliOptions = {}): Promise<CliResult> {
  checkBuilt();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: environment(options), cwd: options.cwd ?? ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve(result(stdout, stderr, code)));
  });
}

/** A maker of temporary directories removed after the file's tests. */
export function tempDirs(prefix = 'windback-cli'): (label?: string) => string {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
  });
  return (label = 'journal') => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-${label}-`));
    made.push(dir);
    return dir;
  };
}
