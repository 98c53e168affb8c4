import { Flags } from '@oclif/core';
import { audit, type AuditResult } from '../services/audit.js';
import { ReplayCommand } from './base.js';
import { formatAudit } from './format-replay.js';

export default class Audit extends ReplayCommand<AuditResult> {
  static override summary = 'Verify every checksum and the whole hash chain of the journal.';
  static override description =
    'The journal is tamper-evident: each batch commit chains SHA-256 over its records. Exit 1 and the first bad offset when anything acknowledged was altered; a torn final batch (a crash) is reported in tornTail without changing the exit code. With --expect-head, a head anchored elsewhere earlier must be in the chain, which also catches a journal cut short.';
  static override examples = ['<%= config.bin %> audit', '<%= config.bin %> audit --expect-head "$ANCHORED_HEAD" --json'];
  static override flags = {
    'expect-head': Flags.string({ summary: 'A chain head (64 hex digits) that must be in the chain.' }),
  };

  async run(): Promise<AuditResult> {
    const { flags } = await this.parse(Audit);
    const result = audit({ journal: this.journalDir(flags), expectHead: flags['expect-head'] });
    if (!this.jsonEnabled()) this.log(formatAudit(result));
    if (!result.ok) this.exitCode = 1;
    return result;
  }
}
