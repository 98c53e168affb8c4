// Micro-measurement: the cost of Store.write() (change capture, read digest,
// result clone, lastAppliedTx) against a plain better-sqlite3 transaction, for
// a transfer: 1 read and 2 updates. Rounds of the variants are interleaved so
// that they share the machine's conditions. Not a test; nothing asserts on time.
//   npx tsx scripts/store-overhead.ts [transactions per round] [rounds]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import type { RowChange } from '../src/model/records.js';
import { openSqliteStore, type TxDb } from '../src/store/index.js';

const N = Number(process.argv[2] ?? 10_000);
const ROUNDS = Number(process.argv[3] ?? 9);
const ACCOUNTS = 1000;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'windback-overhead-'));
const SCHEMA = `CREATE TABLE acct (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, bal INTEGER NOT NULL);
  INSERT INTO acct (owner, bal)
    SELECT 'owner ' || n, 1000000 FROM (WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${ACCOUNTS}) SELECT n FROM s);`;

function pick(i: number): [number, number] {
  const from = ((i * 7919) % ACCOUNTS) + 1;
  return [from, (from % ACCOUNTS) + 1];
}

// Plain: statements prepared once, same pragmas as the store's live file.
const plainDb = new Database(path.join(dir, 'plain.db'));
plainDb.pragma('journal_mode = WAL');
plainDb.pragma('synchronous = NORMAL');
plainDb.exec(SCHEMA);
const get = plainDb.prepare('SELECT bal FROM acct WHERE id = ?').pluck();
const debit = plainDb.prepare('UPDATE acct SET bal = bal - ? WHERE id = ?');
const credit = plainDb.prepare('UPDATE acct SET bal = bal + ? WHERE id = ?');
const plainTx = plainDb.transaction((from: number, to: number) => {
  const bal = get.get(from) as number;
  debit.run(1, from);
  credit.run(1, to);
  return { bal };
});

const transfer = (db: TxDb, from: number, to: number) => {
  const bal = db.prepare('SELECT bal FROM acct WHERE id = ?').pluck().get<number>(from)!;
  db.prepare('UPDATE acct SET bal = bal - ? WHERE id = ?').run(1, from);
  db.prepare('UPDATE acct SET bal = bal + ? WHERE id = ?').run(1, to);
  return { bal };
};
const store = openSqliteStore(path.join(dir, 'store.db'));
store.applyMigration(1, 'init', SCHEMA);

// Recorded transfers to roll forward, captured beforehand on another store.
const source = openSqliteStore(':memory:');
const target = openSqliteStore(path.join(dir, 'target.db'));
source.applyMigration(1, 'init', SCHEMA);
target.applyMigration(1, 'init', SCHEMA);
const recorded: RowChange[][] = [];
for (let i = 0; i < N * (ROUNDS + 1); i++) recorded.push(source.write(source.nextTxId, (db) => transfer(db, ...pick(i))).changes);
let next = 0;

const variants: [string, (i: number) => void][] = [
  ['plain better-sqlite3 transaction (prepared once)', (i) => plainTx.immediate(...pick(i))],
  ['Store.write(): capture + digest + clone + lastAppliedTx', (i) => store.write(store.nextTxId, (db) => transfer(db, ...pick(i)))],
  ['Store.applyChanges() of a recorded transfer', () => target.applyChanges(target.nextTxId, recorded[next++])],
  ["Store.read(): the transfer's read alone", (i) => store.read((db) => db.prepare('SELECT bal FROM acct WHERE id = ?').pluck().get(pick(i)[0]))],
];

const times = new Map<string, number[]>(variants.map(([name]) => [name, []]));
for (let round = 0; round <= ROUNDS; round++) {
  for (const [name, once] of variants) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) once(i + round * N);
    if (round > 0) times.get(name)!.push(Number(process.hrtime.bigint() - t0) / 1000 / N); // round 0 warms up
  }
}

console.log(`${ROUNDS} rounds of ${N} transactions, interleaved; ${ACCOUNTS} accounts; WAL, synchronous=NORMAL; node ${process.version}`);
console.log(`${''.padEnd(58)} ${'median'.padStart(8)} ${'min'.padStart(8)}  µs/tx`);
const summary = new Map<string, [number, number]>();
for (const [name, xs] of times) {
  const s = [...xs].sort((a, b) => a - b);
  const med = s[Math.floor(s.length / 2)];
  summary.set(name, [med, s[0]]);
  console.log(`${name.padEnd(58)} ${med.toFixed(2).padStart(8)} ${s[0].toFixed(2).padStart(8)}`);
}
const [pm, pmin] = summary.get(variants[0][0])!;
const [sm, smin] = summary.get(variants[1][0])!;
console.log(`Store.write() over plain: +${(sm - pm).toFixed(2)} µs median (${(sm / pm).toFixed(2)}x), +${(smin - pmin).toFixed(2)} µs min (${(smin / pmin).toFixed(2)}x)`);
for (const s of [store, source, target]) s.close();
plainDb.close();
fs.rmSync(dir, { recursive: true, force: true });
