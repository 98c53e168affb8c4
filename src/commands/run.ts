import { Args, Flags } from '@oclif/core';
import type { RunResult } from '../services/run.js';
import { ReplayCommand } from './base.js';
import { formatRun } from './format-replay.js';

export default class Run extends ReplayCommand<RunResult> {
  static override summary = 'Re-execute one recorded session and compare it with the journal.';
  static override description =
    'Runs the session in a fresh vm scope with the code version it was recorded with (or --code), serving every value and call result from the journal and re-running every transaction against the database as it was. Exit 0 when the replay equals the recording, 1 when it diverges (the JSON result is printed either way).';
  static override examples = [
    '<%= config.bin %> run 42',
    '<%= config.bin %> run 42 --code ./src/app.ts',
    '<%= config.bin %> run 42 --json',
    '<%= config.bin %> run 42 --inspect',
  ];
  static override args = { session: Args.string({ required: true, description: 'The session id.' }) };
  static override flags = {
    code: Flags.string({ summary: 'Run this app entry instead of the recorded code (a what-if replay).' }),
    strict: Flags.boolean({ summary: 'Also compare values consumed, read digests, return values and checkpoint states (default for recorded code).', allowNo: true }),
    'keep-going': Flags.boolean({ summary: 'Continue after the first divergence (best effort).' }),
    inspect: Flags.boolean({ summary: 'Start the Node inspector, wait for a debugger, and pause where the session begins.' }),
    // No dependsOn: ['inspect'] here: oclif applies the default first, then would demand --inspect on every run.
    'inspect-address': Flags.string({ summary: 'Where the inspector listens (host:port), with --inspect.', default: '127.0.0.1:0' }),
  };

  async run(): Promise<RunResult> {
    const { args, flags } = await this.parse(Run);
    const { run } = await import('../services/run.js');
    const options = { journal: this.journalDir(flags), session: args.session, code: flags.code, strict: flags.strict, keepGoing: flags['keep-going'], pauseAtStart: flags.inspect };
    let inspector: import('../services/inspect.js').InspectorHandle | null = null;
    if (flags.inspect) {
      const { openInspector } = await import('../services/inspect.js');
      inspector = openInspector(flags['inspect-address']);
      // Node itself has just printed "Debugger listening on <ws url>".
      process.stderr.write(`Open in Chrome: ${inspector.devtoolsUrl}\nor attach VS Code (docs/debugging.md). Waiting for a debugger...\n`);
      inspector.waitForDebugger();
    }
    let result: RunResult;
    try {
      result = await run(options);
    } finally {
      inspector?.close();
    }
    if (!this.jsonEnabled()) this.log(formatRun(result));
    if (!result.equal) this.exitCode = 1;
    return result;
  }
}
