import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'vitest';
import { JournalReader, type PositionedRecord } from '../../src/journal/index.js';
import type {
  DuplicateRequestRecord,
  ResponseRecord,
  SessionAttemptRecord,
  SessionEndRecord,
  SessionStartRecord,
  WriteTxRecord,
} from '../../src/model/records.js';
import { logicalDifference, SqliteStore } from '../../src/store/index.js';
import type { HttpResult } from '../../scripts/load.js';

// A journal on disk, read back for the runtime tests: sessions with their
// records, duplicates, and the database state the write transactions build.

export interface Positioned<R> {
  position: number;
  record: R;
}

export interface SessionView {
  id: number;
  start: SessionStartRecord;
  records: PositionedRecord[];
  attempts: Positioned<SessionAttemptRecord>[];
  responses: Positioned<ResponseRecord>[];
  end: Positioned<SessionEndRecord> | null;
}

export interface JournalView {
  records: PositionedRecord[];
  sessions: Map<number, SessionView>;
  duplicates: Positioned<DuplicateRequestRecord>[];
  writeTxs: WriteTxRecord[];
}

export function readJournal(dir: string): JournalView {
  const records = [...JournalReader.open(dir).records()];
  const sessions = new Map<number, SessionView>();
  const duplicates: Positioned<DuplicateRequestRecord>[] = [];
  const writeTxs: WriteTxRecord[] = [];
  for (const entry of records) {
    const r = entry.record;
    if (r.kind === 'duplicate-request') duplicates.push({ position: entry.position, record: r });
    if (r.kind === 'write-tx') writeTxs.push(r);
    if (r.kind === 'session-start') {
      sessions.set(r.session, { id: r.session, start: r, records: [], attempts: [], responses: [], end: null });
    }
    if (!('session' in r) || r.session === null) continue;
    const view = sessions.get(r.session);
    if (!view) throw new Error(`record ${r.kind} at ${entry.position} belongs to session ${r.session}, which has no session-start before it`);
    view.records.push(entry);
    if (r.kind === 'session-attempt') view.attempts.push({ position: entry.position, record: r });
    if (r.kind === 'response') view.responses.push({ position: entry.position, record: r });
    if (r.kind === 'session-end') view.end = { position: entry.position, record: r };
  }
  return { records, sessions, duplicates, writeTxs };
}

/** The response a client received is in the journal: a response record of its session with the same status and bytes. */
export function expectJournaled(view: JournalView, received: HttpResult): SessionView {
  expect(received.session, `a Windback-Session header on a ${received.status} response`).not.toBeNull();
  const session = view.sessions.get(received.session!);
  expect(session, `session ${received.session} in the journal`).toBeDefined();
  const match = session!.responses.find((r) => r.record.status === received.status && Buffer.from(r.record.body).equals(received.body));
  expect(
    match,
    `session ${received.session}: a journaled response equal to the ${received.status} the client got (${received.body.toString('utf8').slice(0, 120)}); journaled: ${session!.responses
      .map((r) => `${r.record.status} ${Buffer.from(r.record.body).toString('utf8').slice(0, 120)}`)
      .join(' | ')}`,
  ).toBeDefined();
  return session!;
}

/** A fresh store built by applying every write transaction of the journal in order. */
export function rebuildFromJournal(view: JournalView, file: string): SqliteStore {
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const store = SqliteStore.open(file, { synchronous: 'OFF' });
  let expected = 1;
  for (const tx of view.writeTxs) {
    expect(tx.tx, 'transaction ids are 1, 2, 3, ... in journal order').toBe(expected++);
    if (tx.migration !== null) store.applyMigration(tx.tx, tx.migration, String(tx.result));
    else store.applyChanges(tx.tx, tx.changes);
  }
  return store;
}

/** The journal directory's live.sqlite holds exactly the state its journal's write transactions build (rebuilt under `scratchDir`). */
export function expectLiveIsJournal(journalDir: string, scratchDir: string): JournalView {
  const view = readJournal(journalDir);
  const rebuilt = rebuildFromJournal(view, path.join(scratchDir, 'rebuilt.sqlite'));
  const live = SqliteStore.open(path.join(journalDir, 'live.sqlite'));
  try {
    expect(live.lastAppliedTx).toBe(view.writeTxs.length);
    expect(logicalDifference(live, rebuilt)).toBeNull();
  } finally {
    live.close();
    rebuilt.close();
  }
  return view;
}

/** The bank's tables, every row, in key order (numbers as numbers). */
export function bankTables(store: SqliteStore): Record<string, unknown[][]> {
  const out: Record<string, unknown[][]> = {};
  for (const [table, order] of [
    ['accounts', 'id'],
    ['ledger', 'id'],
    ['transfers', 'id'],
  ] as const) {
    out[table] = store.queryReadOnly(`SELECT * FROM ${table} ORDER BY ${order}`).rows.map((row) => row.map((v) => (typeof v === 'bigint' ? Number(v) : v)));
  }
  return out;
}
