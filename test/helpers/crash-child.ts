// A journal writer to be killed: appends records in eight concurrent loops and
// prints "<position> <pool index>" for each record once its `durable` promise
// has resolved. Output to a pipe is synchronous on Linux, so every printed line
// reached the parent before any SIGKILL.
//
// Usage: node --import tsx test/helpers/crash-child.ts <dir> <durability> <pool seed> <segment bytes>

import { openJournalWriter } from '../../src/journal/index.js';
import type { Durability } from '../../src/model/records.js';
import { recordPool } from './arbitraries.js';

const POOL_SIZE = 64; // test/journal/crash.test.ts draws the same pool

const [dir, durability, seed, segmentBytes] = process.argv.slice(2);
const pool = recordPool(Number(seed), POOL_SIZE);
const { writer, recovery } = await openJournalWriter(dir, { durability: durability as Durability, segmentBytes: Number(segmentBytes) });
process.stdout.write(`ready ${writer.position} ${recovery.truncatedBytes}\n`);

let next = 0;
async function loop(): Promise<void> {
  for (;;) {
    const index = next++ % POOL_SIZE;
    const { position, durable } = writer.append(pool[index]);
    await durable;
    process.stdout.write(`${position} ${index}\n`);
  }
}
await Promise.all(Array.from({ length: 8 }, () => loop()));
