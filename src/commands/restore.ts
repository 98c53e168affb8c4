import { Flags } from '@oclif/core';
import { restore, type RestoreResult } from '../services/state.js';
import { ReplayCommand } from './base.js';
import { formatRestore } from './format-replay.js';

export default class Restore extends ReplayCommand<RestoreResult> {
  static override summary = 'Write the database as of a transaction to a SQLite file.';
  static override description = 'Restores the known state: the same schema and rows as the live database had just after transaction N.';
  static override examples = ['<%= config.bin %> restore --tx 4811 --out before-incident.sqlite'];
  static override flags = {
    tx: Flags.string({ summary: 'The transaction id (0: before any).', required: true }),
    out: Flags.string({ summary: 'The SQLite file to write.', required: true }),
    force: Flags.boolean({ summary: 'Replace the file if it exists.' }),
  };

  async run(): Promise<RestoreResult> {
    const { flags } = await this.parse(Restore);
    const result = restore({ journal: this.journalDir(flags), tx: flags.tx, out: flags.out, force: flags.force });
    if (!this.jsonEnabled()) this.log(formatRestore(result));
    return result;
  }
}
