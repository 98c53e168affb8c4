import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openJournalWriter } from '../../src/journal/index.js';
import type { AppendableRecord } from '../../src/model/records.js';
import { openKeptOpenReader } from '../../src/replay/reader.js';

// The replay's reader keeps segments open and caches 64 KiB blocks. While a
// writer records, the last segment ends in preallocated zeros that the writer
// then fills in place: a block cached with those zeros must not be served
// again for the records written over them.

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function record(i: number): AppendableRecord {
  return { kind: 'duplicate-request', at: 1_700_000_000_000 + i, originalSession: i + 1, idempotencyKey: `key-${i}`, route: `/route/${'x'.repeat(i % 50)}` } satisfies AppendableRecord;
}

async function appendBatch(writer: Awaited<ReturnType<typeof openJournalWriter>>['writer'], from: number, count: number): Promise<void> {
  const durables: Promise<void>[] = [];
  for (let i = from; i < from + count; i++) durables.push(writer.append(record(i)).durable);
  await Promise.all(durables);
}

describe('the kept-open reader on a journal being written', () => {
  it('reads records written over preallocated zeros it had already read', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'windback-kept-open-'));
    dirs.push(dir);
    const { writer } = await openJournalWriter(dir, { durability: 'batch', preallocateBytes: 256 * 1024 });
    try {
      await appendBatch(writer, 0, 20);
      const kept = openKeptOpenReader(dir);
      try {
        const first = [...kept.reader.records()].filter((r) => r.record.kind === 'duplicate-request');
        expect(first).toHaveLength(20);
        // The segment file is bigger than its data: the zeros are there, and were read into the cache.
        const segment = fs.readdirSync(dir).find((n) => n.endsWith('.wbj'))!;
        expect(fs.statSync(path.join(dir, segment)).size).toBeGreaterThan(kept.reader.dataEnd + 1024);

        await appendBatch(writer, 20, 20);
        // A fresh reader of the same directory sees all 40; so must the kept-open one.
        const after = [...openKeptOpenReader(dir).reader.records()].filter((r) => r.record.kind === 'duplicate-request');
        expect(after).toHaveLength(40);
        const again = [...kept.reader.records()].filter((r) => r.record.kind === 'duplicate-request');
        expect(again.map((r) => r.record)).toEqual(after.map((r) => r.record));
        expect(new Set(again.map((r) => JSON.stringify(r.record))).size).toBe(40);
        expect(kept.reader.readAt(again[39].position).record).toEqual(after[39].record);
      } finally {
        kept.close();
      }
    } finally {
      await writer.close();
    }
  });
});
