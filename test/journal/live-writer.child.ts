// A journal writer for test/journal/preallocation.test.ts to read while it
// runs: appends `count` records in eight concurrent loops under `batch`, with
// small preallocation steps and segments, and prints "<position> <pool index>"
// once each record is acknowledged, then "done" after closing. It pauses
// 8 ms every 250 records.
//
// Usage: node --import tsx test/journal/live-writer.child.ts <dir> <pool seed> <count>

import { openJournalWriter } from '../../src/journal/index.js';
import { recordPool } from '../helpers/arbitraries.js';

const POOL_SIZE = 64;

const [dir, seed, count] = process.argv.slice(2);
const pool = recordPool(Number(seed), POOL_SIZE);
const { writer } = await openJournalWriter(dir, { segmentBytes: 256 * 1024, preallocateBytes: 16 * 1024, preallocateAhead: 8 * 1024 });
process.stdout.write('ready\n');

let next = 0;
async function loop(): Promise<void> {
  while (next < Number(count)) {
    const index = next++ % POOL_SIZE;
    const { position, durable } = writer.append(pool[index]);
    await durable;
    // Paced, so that the reader overlaps the writing even on a fast, quiet machine.
    if (next % 250 === 0) await new Promise((resolve) => setTimeout(resolve, 8));
    process.stdout.write(`${position} ${index}\n`);
  }
}
await Promise.all(Array.from({ length: 8 }, () => loop()));
await writer.close();
process.stdout.write('done\n');
