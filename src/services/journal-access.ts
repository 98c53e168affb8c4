import { Catalog } from '../catalog/index.js';
import type { JournalAccess } from '../replay/state.js';

// The journal as the replay services read it: its catalog (brought up to
// date) and its reader. Close it when done.

export interface OpenJournal extends JournalAccess {
  close(): void;
}

export function openJournal(journal: string): OpenJournal {
  const catalog = Catalog.open(journal);
  return { journalDir: catalog.reader.dir, catalog, reader: catalog.reader, close: () => catalog.close() };
}

/** Parse a session id given on the command line. */
export function parseSessionId(value: string | number): number {
  const n = typeof value === 'number' ? value : Number(String(value).replace(/^#/, ''));
  return Number.isSafeInteger(n) && n >= 1 ? n : NaN;
}
