import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, replay, tempDirs } from '../helpers/cli.js';
import { JournalScript } from '../helpers/script-journal.js';

// `replay state --table/--sql`: 64-bit integers and BLOBs in --json (JSON has
// no exact form for them: decimal strings and base64, as every --json output
// writes them), and a row cap (--limit, default 10,000) read row by row, so
// that a query with no end stops instead of running out of memory.

const tmp = tempDirs('windback-state-rows');
let journal: string;

const BIG = 2n ** 62n + 1n; // not exact as a double
const NEGATIVE = -(2n ** 63n); // the smallest INTEGER

beforeAll(async () => {
  journal = tmp('journal');
  const j = await JournalScript.create(journal);
  j.processStart();
  j.migration(); // tx 1: accounts (id INTEGER PRIMARY KEY, balance INTEGER)
  const s = j.start('deposit');
  s.write([
    { table: 'accounts', key: 1, before: null, after: { id: 1, balance: BIG } },
    { table: 'accounts', key: 2, before: null, after: { id: 2, balance: NEGATIVE } },
    { table: 'accounts', key: 3, before: null, after: { id: 3, balance: 42 } },
  ]); // tx 2
  s.end('ok');
  await j.close();
});

/** A query with no end: without a cap it ran for minutes, then V8 ran out of heap. */
const ENDLESS = 'with recursive c(x) as (select 1 union all select x + 1 from c) select x from c';

/** replay, but killed after `ms` (a run that never ends fails the test instead of hanging it). */
function bounded(args: string[], ms = 20_000): { code: number | null; stdout: string; stderr: string; json: any } {
  const run = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: ms, killSignal: 'SIGKILL', env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 64 * 1024 * 1024 });
  let json: unknown;
  try {
    json = JSON.parse(run.stdout);
  } catch {
    json = undefined;
  }
  return { code: run.status, stdout: run.stdout, stderr: run.stderr, json };
}

describe('replay state --json with values JSON cannot hold exactly', () => {
  it('writes 64-bit integers beyond 2^53 as decimal strings (as the table shows them), others as numbers, BLOBs as base64', () => {
    const table = replay(['state', '--tx', '2', '--table', 'accounts', '--json', '-j', journal]);
    expect(table.code, table.stdout + table.stderr).toBe(0);
    expect(table.json).toEqual({
      tx: 2,
      columns: ['id', 'balance'],
      rows: [
        [1, BIG.toString()],
        [2, NEGATIVE.toString()],
        [3, 42],
      ],
      truncated: false,
      limit: 10_000,
    });
    const sql = replay(['state', '--tx', '2', '--sql', "select 9007199254740993 as big, 9007199254740991 as safe, x'00ff10' as bytes, 1.5 as real", '--json', '-j', journal]);
    expect(sql.code, sql.stdout + sql.stderr).toBe(0);
    expect(sql.json.rows).toEqual([['9007199254740993', 9007199254740991, 'AP8Q', 1.5]]);
    // As the table shows them.
    const text = replay(['state', '--tx', '2', '--table', 'accounts', '-j', journal]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(BIG.toString());
    expect(text.stdout).toContain(NEGATIVE.toString());
  });
});

describe('replay state --limit', () => {
  it('stops a query with no end at 10,000 rows by default, and says there were more', () => {
    const json = bounded(['state', '--tx', '2', '--sql', ENDLESS, '--json', '-j', journal]);
    expect(json.code, json.stderr).toBe(0);
    expect(json.json.truncated).toBe(true);
    expect(json.json.limit).toBe(10_000);
    expect(json.json.rows).toHaveLength(10_000);
    expect(json.json.rows.at(-1)).toEqual([10_000]);

    const text = bounded(['state', '--tx', '2', '--sql', ENDLESS, '-j', journal]);
    expect(text.code, text.stderr).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines.at(-2)?.trim()).toBe('10000');
    expect(lines.at(-1)).toBe('10,000 rows shown; more exist: use --limit N to see more (or restore the database to query it whole)');
  });

  it('takes another cap, for --table too; no note when every row is shown', () => {
    const three = replay(['state', '--tx', '2', '--sql', ENDLESS, '--limit', '3', '--json', '-j', journal]);
    expect(three.json).toMatchObject({ rows: [[1], [2], [3]], truncated: true, limit: 3 });
    const two = replay(['state', '--tx', '2', '--table', 'accounts', '--limit', '2', '--json', '-j', journal]);
    expect(two.json).toMatchObject({ rows: [[1, BIG.toString()], [2, NEGATIVE.toString()]], truncated: true, limit: 2 });
    const exact = replay(['state', '--tx', '2', '--table', 'accounts', '--limit', '3', '-j', journal]);
    expect(exact.code).toBe(0);
    expect(exact.stdout).not.toContain('more exist');
    expect(replay(['state', '--tx', '2', '--table', 'accounts', '--limit', '3', '--json', '-j', journal]).json.truncated).toBe(false);
  });

  it('is refused without --table or --sql', () => {
    const result = replay(['state', '--tx', '2', '--limit', '5', '-j', journal]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('replay: --limit applies to --table or --sql\n');
  });
});

describe('replay state --timeout', () => {
  // A query with no end that yields no row either: the row cap cannot stop it.
  const RUNAWAY = 'with recursive c(x) as (select 1 union all select x + 1 from c) select max(x) from c';

  it('stops a query that runs longer, one line naming the limit and the query, exit 2 (E_TIMEOUT), and leaves no process behind', () => {
    const started = Date.now();
    const text = bounded(['state', '--tx', '2', '--sql', RUNAWAY, '--timeout', '1', '-j', journal]);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(text.code, text.stderr).toBe(2);
    expect(text.stdout).toBe('');
    expect(text.stderr).toBe(`replay: the query ran longer than --timeout 1 s and was stopped (raise --timeout, or 0 for no limit): ${RUNAWAY}\n`);
    const json = bounded(['state', '--tx', '2', '--sql', RUNAWAY, '--timeout', '1', '--json', '-j', journal]);
    expect(json.code).toBe(2);
    expect(json.json).toEqual({ error: { code: 'E_TIMEOUT', message: expect.stringMatching(/^the query ran longer than --timeout 1 s/), exitCode: 2 } });
    // The process that ran it is gone (it was killed, not left running).
    const left = spawnSync('pgrep', ['-f', 'state-query-child'], { encoding: 'utf8' });
    expect(left.stdout.trim(), 'a state-query-child process is still running').toBe('');
  });

  it('gives a query that ends in time its rows, and a query error its own one line, as without it', () => {
    const ok = replay(['state', '--tx', '2', '--sql', 'select id from accounts order by id', '--timeout', '5', '--json', '-j', journal]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.json).toMatchObject({ rows: [[1], [2], [3]], truncated: false });
    const write = replay(['state', '--tx', '2', '--sql', 'delete from accounts', '-j', journal]);
    expect(write.code).toBe(2);
    expect(write.stderr).toMatch(/^replay: [^\n]*not a read-only query[^\n]*\n$/);
    const range = replay(['state', '--tx', '99', '--sql', 'select 1', '--json', '-j', journal]);
    expect(range.code).toBe(2);
    expect(range.json.error).toMatchObject({ code: 'E_OUT_OF_RANGE', exitCode: 2 });
  });

  it('is refused without --sql; 0 means no limit', () => {
    const result = replay(['state', '--tx', '2', '--table', 'accounts', '--timeout', '5', '-j', journal]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('replay: --timeout applies to --sql\n');
    const none = replay(['state', '--tx', '2', '--sql', 'select 7 as n', '--timeout', '0', '--json', '-j', journal]);
    expect(none.json).toMatchObject({ rows: [[7]] });
  });
});
