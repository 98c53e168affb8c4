import sourceMapSupport from 'source-map-support';
import { flush, run, settings } from '@oclif/core';
import { reportError } from './errors.js';

// The replay binary: run oclif, and turn anything that escapes a command
// (an unknown command, a failure loading the CLI) into one line and an exit code.

export async function main(argv: string[], binUrl: string): Promise<void> {
  sourceMapSupport.install({ environment: 'node', handleUncaughtExceptions: false });
  // Always run the compiled commands: with NODE_ENV=development or test, oclif
  // would otherwise look for TypeScript sources and warn on every run.
  settings.enableAutoTranspile = false;
  try {
    await run(argv, binUrl);
    await flush();
  } catch (error) {
    const report = reportError(error);
    if (argv.includes('--json')) {
      process.stdout.write(`${JSON.stringify({ error: report }, null, 2)}\n`);
    } else {
      process.stderr.write(`replay: ${report.message}\n`);
    }
    if (argv.includes('--debug') && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    process.exitCode = report.exitCode;
  }
}
