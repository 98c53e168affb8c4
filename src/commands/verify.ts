import * as path from 'node:path';
import { Flags } from '@oclif/core';
import type { VerifyResult } from '../services/verify.js';
import { isStandardOutput, ReplayCommand } from './base.js';

export default class Verify extends ReplayCommand<VerifyResult> {
  static override summary = 'Replay every recorded session and fail if any would change (the CI job).';
  static override description =
    'Each selected session is re-executed and compared with the journal: its database writes, its calls and its response. Exit 1 if any diverged, naming the session, the step and the source line. --from-tx A --to-tx B selects sessions with A <= startedAfterTx <= B. --shard i/n splits the sessions deterministically across machines; --jobs uses worker threads. With GITHUB_ACTIONS=true it prints error annotations.';
  static override examples = [
    '<%= config.bin %> verify',
    '<%= config.bin %> verify --code ./src/app.ts --junit replay.xml --jobs 2',
    '<%= config.bin %> verify --kind transfer --from-tx 4000 --to-tx 4812 --shard 1/4',
  ];
  static override flags = {
    kind: Flags.string({ summary: 'Only sessions of this kind.' }),
    'from-tx': Flags.string({ summary: 'Only sessions whose startedAfterTx (the last transaction committed when they began) is at least this.' }),
    'to-tx': Flags.string({ summary: 'Only sessions whose startedAfterTx is at most this.' }),
    code: Flags.string({ summary: 'Replay with this app entry instead of the recorded code.' }),
    strict: Flags.boolean({ summary: 'Compare every value, digest and checkpoint (default for recorded code).', allowNo: true }),
    jobs: Flags.integer({ summary: 'Worker threads.', default: 1, min: 1, max: 64 }),
    shard: Flags.string({ summary: 'This machine\'s share, i/n.' }),
    junit: Flags.string({ summary: 'Write a JUnit XML report here.' }),
  };

  async run(): Promise<VerifyResult> {
    const { flags } = await this.parse(Verify);
    const { verify } = await import('../services/verify.js');
    const report = await verify({
      journal: this.journalDir(flags),
      kind: flags.kind,
      fromTx: flags['from-tx'],
      toTx: flags['to-tx'],
      code: flags.code,
      strict: flags.strict,
      jobs: flags.jobs,
      shard: flags.shard,
      junit: flags.junit,
      githubAnnotations: process.env.GITHUB_ACTIONS === 'true',
    });
    // Under --json, stdout is the JSON document alone, and with --junit /dev/stdout
    // the report alone; the runner reads workflow commands on stderr too.
    const reportOnStdout = flags.junit !== undefined && isStandardOutput(path.resolve(flags.junit));
    const out = this.jsonEnabled() || reportOnStdout ? process.stderr : process.stdout;
    for (const line of report.annotations) out.write(`${line}\n`);
    if (!this.jsonEnabled()) {
      for (const f of report.failures) {
        const d = f.divergence!;
        const where = d.location ? ` at ${d.location.file}:${d.location.line}` : '';
        out.write(`DIVERGED session ${f.session}: step ${d.step} (${d.kind})${where}: ${d.message}\n`);
      }
      out.write(`${report.sessions} sessions replayed: ${report.passed} equal, ${report.diverged} diverged\n`);
    }
    if (report.diverged > 0) this.exitCode = 1;
    const { sessions, passed, diverged, failures } = report;
    return { sessions, passed, diverged, failures };
  }
}
