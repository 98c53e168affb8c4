import { info, type InfoResult } from '../services/info.js';
import { ReplayCommand } from './base.js';
import { formatInfo } from './format.js';

export default class Info extends ReplayCommand<InfoResult> {
  static override summary = 'Show what a journal holds and verify its integrity.';
  static override description =
    'Reads every record, checks every checksum and the hash chain, and reports counts, the transaction range and the chain head. It exits 0 whatever integrity it finds; exit 3 means the directory is not a readable journal.';
  static override examples = ['<%= config.bin %> info', '<%= config.bin %> info --journal ./prod-journal --json'];

  async run(): Promise<InfoResult> {
    const { flags } = await this.parse(Info);
    const result = info({ journal: this.journalDir(flags) });
    if (!this.jsonEnabled()) this.log(formatInfo(result));
    return result;
  }
}
