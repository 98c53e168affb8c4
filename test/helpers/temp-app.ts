import * as fs from 'node:fs';
import * as path from 'node:path';

// Small apps written into a test's temporary directory: `windback` resolves
// wherever the app is, so an app file needs nothing next to it.

/** Write an app with one table `t (id, v)` and the given kinds (the body of its `kinds` object). */
export function writeApp(dir: string, name: string, kinds: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(
    file,
    `import { defineApp } from 'windback';\n` +
      `export default defineApp({\n  name: 'paths',\n  migrations: [{ name: '001', sql: 'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)' }],\n  kinds: {\n${kinds}\n  },\n});\n`,
  );
  return file;
}

/** `save`: stores `v`, and fails (after its transaction) when `v` is 'bad'. Its `throw` is on line 9 of the file. */
export const SAVE_KINDS = `
    async save(input: { v: string }, ctx) {
      await ctx.tx((db) => db.run('INSERT INTO t (v) VALUES (?)', input.v));
      if (input.v === 'bad') throw new Error('recorded failure for ' + input.v);
      return { saved: input.v };
    },`;
