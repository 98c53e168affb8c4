import sourceMapSupport from 'source-map-support';
import { run, settings } from '@oclif/core';
import { EXIT } from '../model/errors.js';
import { reportError } from './errors.js';

// The replay binary: run oclif, and turn anything that escapes a command
// (an unknown command, a failure loading the CLI) into one line and an exit code.

export async function main(argv: string[], binUrl: string): Promise<void> {
  sourceMapSupport.install({ environment: 'node', handleUncaughtExceptions: false });
  // Always run the compiled commands: with NODE_ENV=development or test, oclif
  // would otherwise look for TypeScript sources and warn on every run.
  settings.enableAutoTranspile = false;
  const output = guardOutput();
  // `replay help` and `replay help <command>`, as many CLIs have it: the same as --help.
  if (argv[0] === 'help') argv = [...argv.slice(1), '--help'];
  try {
    await run(argv, binUrl);
    await output.flush();
  } catch (error) {
    const report = reportError(error);
    if (argv.includes('--json') && !output.failed()) {
      process.stdout.write(`${JSON.stringify({ error: report }, null, 2)}\n`);
    } else {
      process.stderr.write(`replay: ${report.message}\n`);
    }
    if (argv.includes('--debug') && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    process.exitCode = report.exitCode;
  }
  output.settle();
}

/**
 * Standard output that fails. A reader that went away (EPIPE: `replay
 * sessions | head -1`) had all it wanted: the rest of the output is dropped
 * and the command ends with its own exit status, quietly. Any other failure
 * (ENOSPC: `> /dev/full`) is one line on stderr and exit 74. Either way later
 * writes go nowhere. oclif's own handler rethrew everything but EPIPE (an
 * uncaught exception with a stack), and its flush then waited for a 'drain'
 * that never came, which left bin/replay.js's top-level await unsettled: exit 13.
 */
function guardOutput(): { flush: () => Promise<void>; failed: () => boolean; settle: () => void } {
  const stdout = process.stdout;
  let gone = false;
  let failure: NodeJS.ErrnoException | null = null;
  for (const listener of stdout.listeners('error')) stdout.off('error', listener as (error: Error) => void);
  stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (gone) return;
    gone = true;
    stdout.write = discard as typeof stdout.write;
    if (error.code === 'EPIPE') return;
    failure = error;
    const why = error.code === 'ENOSPC' || error.code === 'EDQUOT' ? `disk full (${error.code})` : `${error.message.split('\n')[0]}`;
    process.stderr.write(`replay: cannot write to standard output: ${why}\n`);
    failOutput();
  });
  // Nowhere to report a failing stderr (`2>&1 | head`): not a reason to crash.
  process.stderr.on('error', () => {
    process.stderr.write = discard as typeof process.stderr.write;
  });
  // Output that could not be written fails a command that otherwise succeeded
  // (the error can come before or after the command has set its status).
  const failOutput = (): void => {
    if (failure === null) return;
    const code = process.exitCode;
    if (code === undefined || code === 0 || code === EXIT.difference) process.exitCode = EXIT.environment;
  };
  return {
    failed: () => failure !== null,
    settle: failOutput,
    async flush() {
      if (gone || stdout.destroyed || !stdout.writableNeedDrain) return;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          stdout.off('drain', done).off('error', done).off('close', done);
          resolve();
        };
        stdout.on('drain', done).on('error', done).on('close', done);
      });
    },
  };
}

/** A write() that drops its chunk (and still calls back). */
function discard(_chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
  const cb = typeof encoding === 'function' ? encoding : callback;
  if (typeof cb === 'function') process.nextTick(cb as () => void);
  return true;
}
