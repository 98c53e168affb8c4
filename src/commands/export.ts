import { Flags } from '@oclif/core';
import { exportTrace, type ExportResult } from '../services/export.js';
import { isStandardOutput, ReplayCommand } from './base.js';

export default class Export extends ReplayCommand<ExportResult> {
  static override summary = 'Export sessions and their steps as a timeline (Chrome trace format).';
  static override description =
    'Writes a trace that Perfetto (ui.perfetto.dev) and chrome://tracing open: one slice per session on its own lane while it runs, calls as nested slices, transactions, reads, checkpoints and values as instants, and a track of every write transaction. The same filters as replay sessions select what is exported.';
  static override examples = [
    '<%= config.bin %> export --format chrome-trace --out trace.json',
    '<%= config.bin %> export --format chrome-trace --out transfers.json --kind transfer --since 2026-11-24T09:00:00Z --limit 500',
  ];
  static override flags = {
    format: Flags.string({ summary: 'The output format.', options: ['chrome-trace'], default: 'chrome-trace' }),
    out: Flags.string({ summary: 'The file to write.', required: true }),
    force: Flags.boolean({ summary: 'Replace the file if it exists.' }),
    kind: Flags.string({ summary: 'Only sessions of this kind.' }),
    since: Flags.string({ summary: 'Only sessions started at or after this ISO-8601 time.' }),
    until: Flags.string({ summary: 'Only sessions started at or before this ISO-8601 time.' }),
    limit: Flags.integer({ summary: 'At most this many sessions, the most recent.', default: 10_000, min: 1 }),
  };

  async run(): Promise<ExportResult> {
    const { flags } = await this.parse(Export);
    const result = exportTrace({ journal: this.journalDir(flags), format: flags.format, out: flags.out, kind: flags.kind, since: flags.since, until: flags.until, limit: flags.limit, force: flags.force });
    if (!this.jsonEnabled()) {
      const line = `wrote ${result.out}: ${result.sessions} sessions, ${result.events} events; open it in https://ui.perfetto.dev or chrome://tracing`;
      // Not when the trace went to standard output: the output is the trace
      // alone (for jq), and a reader that stopped early (| head) gets no line
      // claiming it was all written.
      if (!isStandardOutput(result.out)) this.log(line);
    }
    return result;
  }
}
