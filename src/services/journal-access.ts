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
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 1 ? value : NaN;
  // Decimal digits only (an optional '#', as the TUI and the listings show ids): not '0x10', '1e1' or '5 '.
  const digits = /^#?([0-9]+)$/.exec(value)?.[1];
  const n = digits === undefined ? NaN : Number(digits);
  return Number.isSafeInteger(n) && n >= 1 ? n : NaN;
}
