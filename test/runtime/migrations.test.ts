import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { replay, tempDirs } from '../helpers/cli.js';
import { startRecording } from '../helpers/recording.js';

// Migrations added to an app that already recorded: the new ones run at the
// next start, each as a transaction, and `replay record` says so. One that was
// edited after it ran is not run again (migrations run once, by name); the
// start says that too, instead of leaving the developer to find the column
// missing.

const tmp = tempDirs('windback-migrations');

function app(dir: string, migrations: string[]): string {
  const file = path.join(dir, 'app.ts');
  fs.writeFileSync(
    file,
    `import { defineApp } from 'windback';\n` +
      `export default defineApp({\n  name: 'inventory',\n  migrations: [\n${migrations.map((m) => `    ${m},\n`).join('')}  ],\n` +
      `  kinds: { add: async (input: { sku: string }, ctx) => ctx.tx((db) => db.run('INSERT INTO items (sku) VALUES (?)', input.sku).changes) },\n});\n`,
  );
  return file;
}

const ITEMS = `{ name: '001-items', sql: 'CREATE TABLE items (sku TEXT PRIMARY KEY)' }`;
const ITEMS_EDITED = `{ name: '001-items', sql: 'CREATE TABLE items (sku TEXT PRIMARY KEY, weight INTEGER)' }`;
const ORDERS = `{ name: '002-orders', sql: 'CREATE TABLE orders (id TEXT PRIMARY KEY, sku TEXT NOT NULL)' }`;
const STOCK = `{ name: '003-stock', sql: 'ALTER TABLE items ADD COLUMN stock INTEGER NOT NULL DEFAULT 0; UPDATE items SET stock = 1' }`;

describe('migrations added and edited after the app recorded', () => {
  it('runs the new ones at the next start, naming each and its transaction, and warns about the edited one', async () => {
    const journal = tmp();
    const first = await startRecording(app(tmp(), [ITEMS, ORDERS]), journal);
    expect(first.server.stderr()).toContain('migrated: 001-items (transaction 1)\nmigrated: 002-orders (transaction 2)\n');
    expect((await first.client.json('/add', { sku: 'A-1' })).value).toBe(1);
    first.client.close();
    expect((await first.server.stop()).code).toBe(0);

    const second = await startRecording(app(tmp(), [ITEMS_EDITED, ORDERS, STOCK]), journal);
    try {
      const stderr = second.server.stderr();
      expect(stderr).toContain(
        'warning: migration "001-items" was edited after it ran (transaction 1); migrations run once, by name, so the edit is not applied: add a new migration instead\n',
      );
      expect(stderr).toContain('migrated: 003-stock (transaction 4)\n');
      expect(stderr).not.toContain('migrated: 001-items');
      expect(stderr).not.toContain('"002-orders"');
    } finally {
      second.client.close();
      expect((await second.server.stop()).code).toBe(0);
    }
    const state = replay(['state', '--tx', '4', '--sql', 'select * from items', '--json', '-j', journal]);
    expect(state.json).toMatchObject({ columns: ['sku', 'stock'], rows: [['A-1', 1]] });
    // Started again with the same code: nothing to say about migrations.
    const third = await startRecording(app(tmp(), [ITEMS, ORDERS, STOCK]), journal);
    third.client.close();
    expect((await third.server.stop()).code).toBe(0);
    expect(third.server.stderr()).not.toMatch(/migrated:|warning: migration/);
  });
});
