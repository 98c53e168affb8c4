// For deferred-commit.test.ts: writes N transactions to a store that commits
// every K, prints each transaction's id and changes as a JSON line, and then
// dies by SIGKILL with the last ones uncommitted (no close, no exit handlers).
import { openSqliteStore } from '../../src/store/index.js';

const [file, count, every] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const store = openSqliteStore(file, { synchronous: 'OFF', lockingMode: 'EXCLUSIVE', commitEvery: every });
store.applyMigration(1, 'init', `CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT UNIQUE, n INTEGER NOT NULL DEFAULT 0)`);
for (let i = 0; i < count; i++) {
  const tx = store.nextTxId;
  const { changes } = store.write(tx, (db) => {
    db.prepare('INSERT INTO item (id, name) VALUES (?, ?)').run(i + 1, `n${i}`);
    db.prepare('UPDATE item SET n = n + 1 WHERE id % 3 = ?').run(i % 3);
    if (i % 4 === 3) db.prepare('DELETE FROM item WHERE id = ?').run(i - 1);
  });
  process.stdout.write(`${JSON.stringify({ tx, changes })}\n`);
}
// Let stdout drain to the pipe, then die without closing anything.
process.stdout.write('', () => process.kill(process.pid, 'SIGKILL'));
