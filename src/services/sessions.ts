import { Catalog } from '../catalog/index.js';
import { UsageError } from '../model/errors.js';
import type { SessionId, TxId } from '../model/records.js';
import { isoTime, isoTimeOrNull, parseTime, parseWholeNumber } from './time.js';

// `replay sessions`: the sessions of a journal, in start order, from the catalog.

export const SESSION_STATUSES = ['ok', 'error', 'open', 'aborted'] as const;
export type SessionListStatus = (typeof SESSION_STATUSES)[number];

export interface SessionsOptions {
  journal: string;
  kind?: string;
  status?: string;
  /** ISO-8601: sessions started at or after it. */
  since?: string;
  /** ISO-8601: sessions started at or before it. */
  until?: string;
  /** Keep the N most recent (still listed in start order). */
  limit?: number | string;
}

export interface SessionSummary {
  id: SessionId;
  kind: string;
  /** ok | error | aborted, or open while it has not ended. */
  status: SessionListStatus;
  route: string;
  /** The last write transaction committed when it began (0 if none). */
  startedAfterTx: TxId;
  /** The last write transaction committed when it ended; null while open. */
  endedAtTx: TxId | null;
  startedAt: string;
  endedAt: string | null;
}

export type SessionsResult = SessionSummary[];

/**
 * The sessions a listing selects, read from the catalog one row at a time, as
 * often as needed (a table reads them twice: widths, then lines), in constant
 * memory whatever the journal's size. close() when done.
 */
export interface SessionListing {
  rows(): IterableIterator<SessionSummary>;
  close(): void;
}

export function listSessions(options: SessionsOptions): SessionListing {
  const status = options.status;
  if (status !== undefined && !(SESSION_STATUSES as readonly string[]).includes(status)) {
    throw new UsageError(`--status must be one of ${SESSION_STATUSES.join(', ')}, got "${status}"`);
  }
  const since = options.since === undefined ? undefined : parseTime(options.since, '--since');
  const until = options.until === undefined ? undefined : parseTime(options.until, '--until');
  if (since !== undefined && until !== undefined && since > until) {
    throw new UsageError(`--since ${options.since} is after --until ${options.until}`);
  }
  const limit = options.limit === undefined ? undefined : parseWholeNumber(options.limit, '--limit', 'a whole number from 1', 1);

  const catalog = Catalog.open(options.journal);
  try {
    const corrupt = catalog.corruptionError('cannot list every session');
    if (corrupt) throw corrupt;
  } catch (error) {
    catalog.close();
    throw error;
  }
  const filter = { kind: options.kind, status, since, until, limit };
  return {
    *rows() {
      for (const s of catalog.iterateSessions(filter)) {
        yield {
          id: s.id,
          kind: s.kind,
          status: s.status as SessionListStatus,
          route: s.route,
          startedAfterTx: s.startedAfterTx,
          endedAtTx: s.endedAtTx,
          startedAt: isoTime(s.startedAt),
          endedAt: isoTimeOrNull(s.endedAt),
        };
      }
    },
    close: () => catalog.close(),
  };
}
