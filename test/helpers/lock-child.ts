// A second process contending for a journal's lock.
//
// Usage: node --import tsx test/helpers/lock-child.ts <dir> hold|try
//   hold: open a writer, append one record, print "held <pid> <position>", then wait to be killed.
//   try:  try to open a writer and print the outcome as one JSON line, then exit.

import { openJournalWriter } from '../../src/journal/index.js';
import { WindbackError } from '../../src/model/errors.js';

const [dir, mode] = process.argv.slice(2);

if (mode === 'hold') {
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
