import { Flags } from '@oclif/core';
import { SESSION_STATUSES, sessions, type SessionsResult } from '../services/sessions.js';
import { ReplayCommand } from './base.js';
import { formatSessions } from './format.js';

export default class Sessions extends ReplayCommand<SessionsResult> {
  static override summary = 'List the sessions of a journal, in start order.';
  static override description =
    'Reads the catalog (an index of the journal, brought up to date first). Times are ISO-8601 UTC; --since and --until compare start times and read a time without a zone as UTC. Exit 3 if the journal is corrupt: sessions after the damage cannot be listed.';
  static override examples = [
    '<%= config.bin %> sessions --kind transfer --since 2026-11-24T00:00:00Z',
    '<%= config.bin %> sessions --status error --limit 10',
    '<%= config.bin %> sessions --status open --json',
  ];

  static override flags = {
    kind: Flags.string({ summary: 'Only sessions of this kind (e.g. transfer).' }),
    status: Flags.string({ summary: `Only sessions with this status: ${SESSION_STATUSES.join(', ')}.` }),
    since: Flags.string({ summary: 'Only sessions started at or after this ISO-8601 time.' }),
    until: Flags.string({ summary: 'Only sessions started at or before this ISO-8601 time.' }),
    limit: Flags.string({ summary: 'Keep the N most recent (still listed in start order).' }),
  };

  async run(): Promise<SessionsResult> {
    const { flags } = await this.parse(Sessions);
    const result = sessions({
      journal: this.journalDir(flags),
      kind: flags.kind,
      status: flags.status,
      since: flags.since,
      until: flags.until,
      limit: flags.limit,
    });
    if (!this.jsonEnabled()) this.log(formatSessions(result));
    return result;
  }
}
