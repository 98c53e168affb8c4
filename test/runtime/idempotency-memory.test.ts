import * as fs from 'node:fs';
import * as path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { LoadClient } from '../../scripts/load.js';
import { startServer, type RunningServer } from '../../src/runtime/server.js';
import { tempDirs } from '../helpers/cli.js';

// A server whose clients send an Idempotency-Key with every request must not
// keep every response in memory: once a keyed session is over, a duplicate
// is answered from the journal (as a key from before a restart is), and only
// the key's small entry stays. Measured as the memory that survives a full
// GC after 300 keyed requests with 64 KiB responses (19 MiB of bodies).

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const tmp = tempDirs('windback-idem-memory');
let server: RunningServer | null = null;
let client: LoadClient | null = null;

afterAll(async () => {
  client?.close();
  await server?.close();
});

function retainedBytes(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

describe('Idempotency-Key memory', () => {
  it('keeps no response bodies of finished keyed sessions, and still answers their duplicates', { timeout: 60_000 }, async () => {
    const dir = tmp();
    const app = path.join(dir, 'app.ts');
    fs.writeFileSync(
      app,
      "import { defineApp } from 'windback';\n" +
        "export default defineApp({ name: 'blobs', migrations: [], kinds: { blob: async (input: { n: number; size: number }) => ({ n: input.n, data: String(input.n % 10).repeat(input.size) }) } });\n",
    );
    server = await startServer(app, { journal: path.join(dir, 'journal'), port: 0, durability: 'none', log: () => {} });
    client = new LoadClient(server.url);
    const SIZE = 64 * 1024;
    const send = (n: number) => client!.json('/blob', { n, size: SIZE }, { idempotencyKey: `key-${n}` });
    for (let n = 0; n < 20; n++) expect((await send(n)).status).toBe(200); // warm-up: code, caches
    const before = retainedBytes();
    for (let n = 20; n < 320; n++) expect((await send(n)).status).toBe(200);
    const grown = retainedBytes() - before;
    expect(grown, `${(grown / 2 ** 20).toFixed(1)} MiB retained after 300 responses of 64 KiB`).toBeLessThan(4 * 2 ** 20);

    // Duplicates, early and late, get the very same bytes, from the journal.
    for (const n of [0, 21, 319]) {
      const first = await send(n);
      expect(first.status).toBe(200);
      expect((first.value as { n: number; data: string }).n).toBe(n);
      expect((first.value as { data: string }).data).toBe(String(n % 10).repeat(SIZE));
    }
  });
});
