import { Flags } from '@oclif/core';
import { repair, type RepairResult } from '../services/repair.js';
import { ReplayCommand } from './base.js';
import { formatRepair } from './format.js';

export default class Repair extends ReplayCommand<RepairResult> {
  static override summary = 'Cut a damaged journal at a position, after showing what would be lost.';
  static override description =
    'Without --yes it only reports what cutting at the position would lose: the records, sessions and write transactions that can still be read from there on, and the bytes. The position must be a record position the scan reached, the committed end, or the damage position `replay info` reports; a position inside a batch cuts the whole batch. With --yes it truncates (refused with exit 74 while a writer holds the journal) and the catalog is rebuilt on next use.';
  static override examples = [
    '<%= config.bin %> repair --truncate-at 1048576',
    '<%= config.bin %> repair --truncate-at 1048576 --yes',
  ];

  static override flags = {
    'truncate-at': Flags.string({ summary: 'The position to cut the journal at.', required: true }),
    yes: Flags.boolean({ summary: 'Really truncate the journal.', default: false }),
  };

  async run(): Promise<RepairResult> {
    const { flags } = await this.parse(Repair);
    const result = repair({ journal: this.journalDir(flags), truncateAt: flags['truncate-at'], yes: flags.yes });
    if (!this.jsonEnabled()) this.log(formatRepair(result));
    return result;
  }
}
