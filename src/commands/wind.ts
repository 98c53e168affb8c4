import { Flags } from '@oclif/core';
import { wind, type WindResult } from '../services/wind.js';
import { ReplayCommand } from './base.js';
import { formatWind } from './format.js';

export default class Wind extends ReplayCommand<WindResult> {
  static override summary = 'Show the sessions in flight when a write transaction committed.';
  static override description =
    'A session is alive at tx N when it started before N committed and had not ended by then. For each: its final status, its last checkpoint before N, and the write transactions it had committed up to N. Give exactly one of --tx and --at; --at winds to the last transaction committed at or before that time. Exit 2 for a tx out of range, 3 for a tx past corruption.';
  static override examples = [
    '<%= config.bin %> wind --tx 4812',
    '<%= config.bin %> wind --at 2026-11-24T10:15:00Z',
    '<%= config.bin %> wind --tx 4812 --json',
  ];

  static override flags = {
    tx: Flags.string({ summary: 'The write transaction id to wind to.' }),
    at: Flags.string({ summary: 'Wind to the last transaction committed at or before this ISO-8601 time.' }),
  };

  async run(): Promise<WindResult> {
    const { flags } = await this.parse(Wind);
    const result = wind({ journal: this.journalDir(flags), tx: flags.tx, at: flags.at });
    if (!this.jsonEnabled()) this.log(formatWind(result));
    return result;
  }
}
