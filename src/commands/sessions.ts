import { Flags } from '@oclif/core';
import { listSessions, SESSION_STATUSES, type SessionsResult } from '../services/sessions.js';
import { ReplayCommand } from './base.js';
import { chunkedWriter, writeJsonArray, writeSessions } from './format.js';

export default class Sessions extends ReplayCommand<SessionsResult | undefined> {
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

  async run(): Promise<SessionsResult | undefined> {
    const { flags } = await this.parse(Sessions);
    const listing = listSessions({
      journal: this.journalDir(flags),
      kind: flags.kind,
      status: flags.status,
      since: flags.since,
      until: flags.until,
      limit: flags.limit,
    });
    try {
      // A person at a terminal gets oclif's coloured JSON (the whole array).
      if (this.jsonEnabled() && process.stdout.isTTY) return [...listing.rows()];
      // Anything else is written as it is read, in constant memory, whatever the journal's size.
      const out = chunkedWriter((chunk) => process.stdout.write(chunk));
      if (this.jsonEnabled()) writeJsonArray(listing.rows(), out.write);
      else writeSessions(listing, out.write);
      out.flush();
      return undefined;
    } finally {
      listing.close();
    }
  }
}
