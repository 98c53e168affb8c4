import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../src/catalog/index.js';
import { openJournalWriter } from '../../src/journal/index.js';
import type { AppendableRecord } from '../../src/model/records.js';

// While a writer records, its last segment keeps the same size (it fills
// preallocated zeros in place) while its modification time changes. The
// catalog must still bring itself up to date incrementally, not rebuild from
// scratch at every open (replay wind, sessions and the TUI on a live journal).

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

const record = (i: number): AppendableRecord =>
  ({ kind: 'duplicate-request', at: 1_700_000_000_000 + i, originalSession: i + 1, idempotencyKey: `key-${i}`, route: '/transfer' }) satisfies AppendableRecord;

describe('the catalog of a journal written into preallocated space', () => {
  it('is updated from where it stopped, not rebuilt', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'windback-catalog-prealloc-'));
    dirs.push(dir);
    const { writer } = await openJournalWriter(dir, { durability: 'batch', preallocateBytes: 256 * 1024 });
    try {
      await Promise.all(Array.from({ length: 30 }, (_, i) => writer.append(record(i)).durable));
      const segment = path.join(dir, fs.readdirSync(dir).find((n) => n.endsWith('.wbj'))!);
      const sizeBefore = fs.statSync(segment).size;
      const first = Catalog.open(dir);
      const indexed = first.status.indexedUpTo;
      first.close();

      await new Promise((resolve) => setTimeout(resolve, 20)); // a visibly later mtime
      await Promise.all(Array.from({ length: 30 }, (_, i) => writer.append(record(30 + i)).durable));
      expect(fs.statSync(segment).size, 'the segment was written in place').toBe(sizeBefore);

      const second = Catalog.open(dir);
      const status = second.status;
      second.close();
      expect(status.rebuilt).toBe(false);
      expect(status.scannedBytes).toBeLessThan(status.indexedUpTo - indexed + 1);
      expect(status.indexedUpTo).toBeGreaterThan(indexed);
    } finally {
      await writer.close();
    }
  });
});
