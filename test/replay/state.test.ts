import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WriteTxRecord } from '../../src/model/records.js';
import { dumpLogical, logicalDifference, logicallyEqual } from '../../src/store/index.js';
import { replay, replayAsync, tempDirs } from '../helpers/cli.js';
import { copyJournal, IndependentState, recordBank, samples, SNAPSHOT_EVERY, writeTxs, type RecordedBank } from './record-fixture.js';

// `replay state --tx N` and `replay restore --tx N` against a database built
// independently: a fresh store with every write transaction's row changes
// applied in order up to N (no snapshots, no catalog, no replay code). At the
// last transaction, the restored file must also equal the live database the
// recording server kept (<journal>/live.sqlite).

const tmp = tempDirs('windback-replay-state');
let bank: RecordedBank;
let dir: string;
let txs: WriteTxRecord[];
let lastTx: number;
let independent: IndependentState;
let out: string;

beforeAll(async () => {
  bank = await recordBank(tmp('journal'));
  dir = bank.dir;
  txs = writeTxs(dir);
  lastTx = txs[txs.length - 1].tx;
  out = tmp('restored');
  independent = new IndependentState(path.join(tmp('independent'), 'independent.sqlite'), txs);
}, 120_000);

afterAll(() => independent?.close());

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

type Rows = unknown[][];
const sortRows = (rows: Rows): Rows => [...rows].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

/** A query on the independent database, through a connection of its own. */
function independentRows(sql: string): { columns: string[]; rows: Rows } {
  const db = new Database(independent.store.file, { readonly: true, fileMustExist: true });
  try {
    const statement = db.prepare(sql);
    return { columns: statement.columns().map((c) => c.name), rows: statement.raw(true).all() as Rows };
  } finally {
    db.close();
  }
}

describe('replay state and replay restore at transaction N', () => {
  it('the journal is long enough, with migrations first and snapshots every few transactions', () => {
    expect(txs.map((t) => t.tx)).toEqual(Array.from({ length: lastTx }, (_, i) => i + 1));
    expect(txs.filter((t) => t.migration !== null).map((t) => t.tx)).toEqual([1, 2]);
    expect(lastTx).toBeGreaterThan(4 * SNAPSHOT_EVERY);
    expect(fs.readdirSync(path.join(dir, 'snapshots')).filter((f) => /^tx-\d+\.sqlite$/.test(f)).length).toBeGreaterThan(2);
  });

  it('at random N (and at 0, 1, 2 and the last), equal the independently built database', async () => {
    const points = [...new Set([0, 1, 2, ...samples(3, lastTx - 1, 8, 4242), lastTx])].sort((a, b) => a - b);
    const fromSnapshot: (number | null)[] = [];
    for (const n of points) {
      independent.advance(n);
      expect(independent.store.lastAppliedTx).toBe(n);
      const file = path.join(out, `tx-${n}.sqlite`);
      const [restored, counts, accounts, ledger] = await Promise.all([
        replayAsync(['restore', '--tx', String(n), '--out', file, '--json', '-j', dir]),
        replayAsync(['state', '--tx', String(n), '--json', '-j', dir]),
        n >= 1 ? replayAsync(['state', '--tx', String(n), '--table', 'accounts', '--json', '-j', dir]) : null,
        n >= 1 ? replayAsync(['state', '--tx', String(n), '--sql', 'select account, sum(amount) as total, count(*) as entries from ledger group by account', '--json', '-j', dir]) : null,
      ]);
      expect(restored.code, `restore --tx ${n}: ${restored.stdout}${restored.stderr}`).toBe(0);
      expect(restored.json).toMatchObject({ tx: n, out: file });
      fromSnapshot.push(restored.json.fromSnapshot);
      if (restored.json.fromSnapshot !== null) expect(restored.json.fromSnapshot).toBeLessThanOrEqual(n);
      expect(logicalDifference(file, independent.store), `restore --tx ${n}`).toBeNull();

      expect(counts.code, counts.stdout + counts.stderr).toBe(0);
      const tables = n === 0 ? [] : ['accounts', 'ledger', 'transfers'].slice(0, n === 1 ? 2 : 3);
      expect(counts.json.tx).toBe(n);
      expect(counts.json.tables.map((t: { name: string }) => t.name)).toEqual(tables);
      for (const t of counts.json.tables as { name: string; rows: number }[]) {
        expect(t.rows, `${t.name} at tx ${n}`).toBe(independentRows(`SELECT count(*) FROM "${t.name}"`).rows[0][0]);
      }
      expect(restored.json.tables).toEqual(counts.json.tables);
      if (accounts && ledger) {
        expect(accounts.code, accounts.stdout + accounts.stderr).toBe(0);
        const expected = independentRows('SELECT * FROM accounts');
        expect(accounts.json.columns).toEqual(expected.columns);
        expect(sortRows(accounts.json.rows)).toEqual(sortRows(expected.rows));
        expect(ledger.code, ledger.stdout + ledger.stderr).toBe(0);
        expect(sortRows(ledger.json.rows)).toEqual(sortRows(independentRows('select account, sum(amount) as total, count(*) as entries from ledger group by account').rows));
      }
    }
    // Both ways of rebuilding were exercised: from the empty database and from a snapshot.
    expect(fromSnapshot).toContain(null);
    expect(fromSnapshot.some((s) => s !== null)).toBe(true);
  });

  it('right after a snapshot and right before the next, too', async () => {
    const snapshotTxs = fs
      .readdirSync(path.join(dir, 'snapshots'))
      .map((f) => /^tx-(\d+)\.sqlite$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    const points = [...new Set(snapshotTxs.slice(1, 3).flatMap((s) => [s - 1, s, s + 1]))].filter((n) => n >= 1 && n <= lastTx);
    for (const n of points) {
      const rebuilt = new IndependentState(path.join(tmp('at-snapshot'), `tx-${n}.sqlite`), txs);
      try {
        rebuilt.advance(n);
        const file = path.join(out, `snapshot-${n}.sqlite`);
        const r = await replayAsync(['restore', '--tx', String(n), '--out', file, '--json', '-j', dir]);
        expect(r.code, r.stdout + r.stderr).toBe(0);
        if (snapshotTxs.includes(n)) expect(r.json.fromSnapshot).toBe(n);
        expect(logicalDifference(file, rebuilt.store), `restore --tx ${n}`).toBeNull();
      } finally {
        rebuilt.close();
      }
    }
  });

  it('the restored file is a real SQLite database on its own, with the schema and the rows', () => {
    const file = path.join(out, 'alone.sqlite');
    const r = replay(['restore', '--tx', String(lastTx), '--out', file, '-j', dir]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`the database as of tx ${lastTx}`);
    expect(fs.readFileSync(file).subarray(0, 16).equals(SQLITE_MAGIC)).toBe(true);
    expect(fs.existsSync(`${file}.partial`)).toBe(false);
    // Only the main file, moved somewhere else: nothing may be left in a WAL beside it.
    const alone = path.join(tmp('alone'), 'copy.sqlite');
    fs.copyFileSync(file, alone);
    const db = new Database(alone, { fileMustExist: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const tables = (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_windback%' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
      expect(tables).toEqual(['accounts', 'ledger', 'transfers']);
      const columns = (db.prepare("SELECT name FROM pragma_table_info('accounts') ORDER BY cid").all() as { name: string }[]).map((c) => c.name);
      expect(columns).toEqual(['id', 'owner', 'balance', 'opened_at']);
      expect(db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'index' AND name = 'ledger_by_account'").get()).toEqual({ n: 1 });
      expect((db.prepare('SELECT count(*) AS n FROM accounts').get() as { n: number }).n).toBeGreaterThanOrEqual(bank.accounts.length);
      for (const account of bank.accounts) {
        // The books balance in the restored file: each balance is the sum of its ledger.
        const { balance } = db.prepare('SELECT balance FROM accounts WHERE id = ?').get(account) as { balance: number };
        const { total } = db.prepare('SELECT sum(amount) AS total FROM ledger WHERE account = ?').get(account) as { total: number };
        expect(balance, account).toBe(total);
      }
    } finally {
      db.close();
    }
    independent.advance(lastTx);
    expect(logicalDifference(alone, independent.store)).toBeNull();
  });

  it('at the last transaction, equals the live database the recording server kept', () => {
    const file = path.join(out, 'last.sqlite');
    const r = replay(['restore', '--tx', String(lastTx), '--out', file, '--json', '-j', dir]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const live = path.join(dir, 'live.sqlite');
    expect(logicalDifference(file, live)).toBeNull();
    expect(logicallyEqual(file, live)).toBe(true);
    expect(dumpLogical(live).tables.transfers.rows.length).toBeGreaterThan(5);
    // The comparison can fail: one transaction earlier is not the live database.
    const earlier = path.join(out, 'earlier.sqlite');
    expect(replay(['restore', '--tx', String(lastTx - 1), '--out', earlier, '-j', dir]).code).toBe(0);
    expect(logicallyEqual(earlier, live)).toBe(false);
  });

  it('a snapshot that was altered or removed is passed over: the state comes from an earlier one and the journal', async () => {
    const copy = copyJournal(dir, tmp('bad-snapshots'));
    const snapshotTxs = fs
      .readdirSync(path.join(copy, 'snapshots'))
      .map((f) => /^tx-(\d+)\.sqlite$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    expect(snapshotTxs.length).toBeGreaterThan(3);
    const [, altered, removed] = snapshotTxs;
    const file = (tx: number): string => path.join(copy, 'snapshots', `tx-${String(tx).padStart(10, '0')}.sqlite`);
    const bytes = fs.readFileSync(file(altered));
    bytes[bytes.length - 100] ^= 0xff;
    fs.writeFileSync(file(altered), bytes);
    fs.rmSync(file(removed));

    for (const n of [altered, removed, removed + 1]) {
      const rebuilt = new IndependentState(path.join(tmp('bad-snapshot-ref'), `tx-${n}.sqlite`), txs);
      try {
        rebuilt.advance(n);
        const target = path.join(out, `bad-snapshots-${n}.sqlite`);
        const r = replay(['restore', '--tx', String(n), '--out', target, '--json', '-j', copy]);
        expect(r.code, `restore --tx ${n}: ${r.stdout}${r.stderr}`).toBe(0);
        expect([altered, removed]).not.toContain(r.json.fromSnapshot);
        expect(logicalDifference(target, rebuilt.store), `restore --tx ${n}`).toBeNull();
      } finally {
        rebuilt.close();
      }
    }
    // Replaying every session needs those states too: nothing diverges for a bad cache.
    const verify = await replayAsync(['verify', '--json', '-j', copy]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.json.diverged).toBe(0);
  });

  it('--force replaces an existing file with the state asked for', () => {
    const file = path.join(out, 'forced.sqlite');
    expect(replay(['restore', '--tx', '5', '--out', file, '-j', dir]).code).toBe(0);
    const again = replay(['restore', '--tx', String(lastTx), '--out', file, '--force', '--json', '-j', dir]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.json.tx).toBe(lastTx);
    independent.advance(lastTx);
    expect(logicalDifference(file, independent.store)).toBeNull();
  });
});
