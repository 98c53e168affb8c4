import { NotFoundError, UsageError } from '../model/errors.js';
import type { JournalRecord } from '../model/records.js';
import { summarize } from '../replay/summary.js';
import { openJournal, parseSessionId } from './journal-access.js';
import { isoTimeOrNull } from './time.js';

export { summarize };

// `replay show <session>`: a session's steps as the journal holds them.

export interface ShowOptions {
  journal: string;
  session: string | number;
}

export interface Step {
  /** 0-based, as divergences number them. */
  index: number;
  attempt: number;
  kind: JournalRecord['kind'];
  /** When it happened, where the record says (ISO-8601), else null. */
  at: string | null;
  position: number;
  /** The write transaction's id, or null for other steps. */
  tx: number | null;
  /** The record's size in the journal. */
  bytes: number;
  summary: string;
}

export function show(options: ShowOptions): Step[] {
  const id = parseSessionId(options.session);
  if (Number.isNaN(id)) throw new UsageError(`session must be a session id (a whole number from 1), got "${options.session}"`);
  const journal = openJournal(options.journal);
  try {
    const row = journal.catalog.session(id);
    if (!row) {
      const corrupt = journal.catalog.corruptionError(`cannot find session ${id}`);
      if (corrupt) throw corrupt;
      throw new NotFoundError(`unknown session ${id}: the journal holds ${journal.catalog.sessionCount()} sessions`);
    }
    let attempt = 1;
    return journal.reader.sessionRecords(row.lastPosition).map((entry, index) => {
      const record = entry.record;
      if (record.kind === 'session-attempt') attempt = record.attempt;
      return {
        index,
        attempt,
        kind: record.kind,
        at: isoTimeOrNull(timeOf(record)),
        position: entry.position,
        tx: record.kind === 'write-tx' ? record.tx : null,
        bytes: entry.size,
        summary: summarize(record),
      };
    });
  } finally {
    journal.close();
  }
}

function timeOf(record: JournalRecord): number | null {
  if (record.kind === 'write-tx') return record.committedAt;
  return 'at' in record && typeof record.at === 'number' ? record.at : null;
}
