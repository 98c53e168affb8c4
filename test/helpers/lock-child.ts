// A second process contending for a journal's lock.
//
// Usage: node --import tsx test/helpers/lock-child.ts <dir> hold|try
//   hold: open a writer, append one record, print "held <pid> <position>", then wait to be killed.
//   try:  try to open a writer and print the outcome as one JSON line, then exit.
//   race <at>: spin until Date.now() >= at, take the lock alone, print "won" or
//              "lost", and hold it until <dir>/release exists, so that owners
//              would overlap and a contender that starts late (a loaded
//              machine) still finds the winner alive.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { openJournalWriter } from '../../src/journal/index.js';
import { acquireLock } from '../../src/journal/lock.js';
import { WindbackError } from '../../src/model/errors.js';

const [dir, mode] = process.argv.slice(2);

if (mode === 'race') {
  const at = Number(process.argv[4]);
  while (Date.now() < at) {
    // spin: the contenders start together
  }
  let outcome = 'won';
  try {
    acquireLock(dir);
  } catch {
    outcome = 'lost';
  }
  process.stdout.write(`${outcome}\n`);
  const release = path.join(dir, 'release');
  setInterval(() => fs.existsSync(release) && process.exit(0), 20);
  setTimeout(() => process.exit(1), 120_000); // never left behind
} else if (mode === 'hold') {
  const { writer } = await openJournalWriter(dir);
  const { position, durable } = writer.append({ kind: 'duplicate-request', at: 1, originalSession: process.pid, idempotencyKey: 'held', route: '/lock' });
  await durable;
  process.stdout.write(`held ${process.pid} ${position}\n`);
  setInterval(() => {}, 1 << 30);
} else {
  try {
    const { writer } = await openJournalWriter(dir);
    await writer.close();
    process.stdout.write(`${JSON.stringify({ ok: true })}\n`);
  } catch (error) {
    const e = error as Error;
    process.stdout.write(
      `${JSON.stringify({
        ok: false,
        name: e.name,
        windback: error instanceof WindbackError,
        code: (error as WindbackError).code,
        exitCode: (error as WindbackError).exitCode,
        message: e.message,
      })}\n`,
    );
  }
}
