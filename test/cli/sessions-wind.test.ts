import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { replay, replayAsync, tempDirs, type CliResult } from '../helpers/cli.js';
import { loadSchema, validate } from '../helpers/schema.js';
import { JournalScript, iso } from '../helpers/script-journal.js';
import { writeSyntheticJournal } from '../../scripts/synthetic-journal.js';

// `replay sessions` and `replay wind` on a journal written by hand, where
// which sessions are alive at each tx is known:
//
//   tx1 migration
//   S1 transfer: start(after 1), checkpoint start, tx2, checkpoint before-response, end ok      -> ended at tx 2
//   S2 deposit:  start(after 2), checkpoint start
//   S3 balance:  start(after 2)
//   S2 tx3; S3 end ok (ends at exactly tx 3)
//   S4 transfer: start(after 3)
//   S2 tx4, checkpoint before-response, end error                                                -> ended at tx 4
//   S4 tx5, end ok                                                                               -> ended at tx 5
//   S5 deposit: start(after 5), tx6, left open
//   S6 balance: start(after 6), end aborted (no tx in between: never alive)
//
//   alive at 1: -        alive at 2: S1       alive at 3: S2 S3
//   alive at 4: S2 S4    alive at 5: S4       alive at 6: S5

const tmp = tempDirs();
let dir: string;
let j: JournalScript;
const cp: Record<string, number> = {};

const windSchema = loadSchema('wind');
const sessionsSchema = loadSchema('sessions');
const errorSchema = loadSchema('error');

function ids(result: CliResult): number[] {
  const list = Array.isArray(result.json) ? result.json : result.json.alive;
  return (list as { id: number }[]).map((s) => s.id);
}

function ok(result: CliResult, schema = windSchema): CliResult {
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(validate(result.json, schema)).toEqual([]);
  return result;
}

function fails(result: CliResult, exitCode: number, code: string, mention?: string | RegExp): void {
  expect(result.code).toBe(exitCode);
  expect(validate(result.json, errorSchema)).toEqual([]);
  expect(result.json.error.code).toBe(code);
  expect(result.json.error.exitCode).toBe(exitCode);
  if (mention !== undefined) expect(result.json.error.message).toMatch(mention);
}

beforeAll(async () => {
  dir = tmp();
  j = await JournalScript.create(dir);
  j.processStart();
  j.migration();
  const s1 = j.start('transfer', { idempotencyKey: 'k-1' });
  cp.s1start = s1.checkpoint('start');
  s1.value();
  s1.write();
  cp.s1before = s1.checkpoint('before-response');
  s1.respond();
  s1.end('ok');
  await j.commit();
  const s2 = j.start('deposit');
  cp.s2start = s2.checkpoint('start');
  const s3 = j.start('balance', { route: '/balance/7' });
  s3.read();
  s2.write(); // tx3
  s3.end('ok');
  const s4 = j.start('transfer');
  cp.s4start = s4.checkpoint('start');
  await j.commit();
  s2.write(); // tx4
  cp.s2before = s2.checkpoint('before-response');
  s2.end('error');
  s4.call('fraud.check');
  s4.write(); // tx5
  s4.end('ok');
  j.snapshot();
  j.duplicate(1, 'k-1');
  await j.commit();
  const s5 = j.start('deposit');
  s5.write(); // tx6
  const s6 = j.start('balance');
  s6.end('aborted');
  await j.close();
});

describe('replay wind', () => {
  it('lists the sessions alive at each tx, with their last checkpoint and txs', async () => {
    const runs = await Promise.all([1, 2, 3, 4, 5, 6].map((tx) => replayAsync(['wind', '--tx', String(tx), '--json', '--journal', dir])));
    runs.forEach((r) => ok(r));
    expect(runs.map(ids)).toEqual([[], [1], [2, 3], [2, 4], [4], [5]]);
    const [at1, at2, at3, at4, at5, at6] = runs.map((r) => r.json);
    expect(at1).toEqual({ tx: 1, at: iso(j.txAt(1)), alive: [] });
    expect(at2.alive[0]).toEqual({
      id: 1,
      kind: 'transfer',
      status: 'ok',
      startedAt: iso(j.startedAt(1)),
      startedAfterTx: 1,
      lastCheckpoint: { label: 'start', position: cp.s1start },
      txs: [2],
    });
    expect(at3.alive).toEqual([
      { id: 2, kind: 'deposit', status: 'error', startedAt: iso(j.startedAt(2)), startedAfterTx: 2, lastCheckpoint: { label: 'start', position: cp.s2start }, txs: [3] },
      // S3 ended right after tx 3: alive at 3. It has no checkpoint and no tx.
      { id: 3, kind: 'balance', status: 'ok', startedAt: iso(j.startedAt(3)), startedAfterTx: 2, lastCheckpoint: null, txs: [] },
    ]);
    // S2's before-response checkpoint comes after tx 4's record: not "before" it.
    expect(at4.alive[0]).toMatchObject({ id: 2, txs: [3, 4], lastCheckpoint: { label: 'start', position: cp.s2start } });
    // S4 started after tx 3 committed: alive at 4, not at 3.
    expect(at4.alive[1]).toMatchObject({ id: 4, startedAfterTx: 3, txs: [], lastCheckpoint: { label: 'start', position: cp.s4start } });
    expect(at5.alive).toMatchObject([{ id: 4, txs: [5] }]);
    expect(at6.alive).toEqual([
      { id: 5, kind: 'deposit', status: 'open', startedAt: iso(j.startedAt(5)), startedAfterTx: 5, lastCheckpoint: null, txs: [6] },
    ]);
    expect(at6.at).toBe(iso(j.txAt(6)));
  });

  it('--at winds to the last tx committed at or before the time', async () => {
    const cases: [string, number][] = [
      [iso(j.txAt(3)), 3], // exactly at tx 3's commit
      [iso(j.txAt(4) - 1), 3], // just before tx 4
      [iso(j.txAt(6) + 86_400_000), 6], // long after the last
      [iso(j.txAt(1)).replace('Z', '+00:00'), 1], // with an offset
      [iso(j.txAt(2)).replace(/T(\d\d)/, (_m, h: string) => `T${String(Number(h) + 2).padStart(2, '0')}`).replace('Z', '+02:00'), 2],
    ];
    const runs = await Promise.all(cases.map(([at]) => replayAsync(['wind', '--at', at, '--json', '--journal', dir])));
    runs.forEach((r, i) => {
      ok(r);
      expect(r.json.tx, cases[i][0]).toBe(cases[i][1]);
    });
    expect(ids(runs[0])).toEqual([2, 3]);
    fails(replay(['wind', '--at', iso(j.txAt(1) - 1), '--json', '--journal', dir]), 2, 'E_OUT_OF_RANGE', /no transaction committed at or before/);
  });

  it('rejects bad, missing and out-of-range arguments with exit 2', async () => {
    const [r0, r7, rAbc, rBoth, rNeither, rBadAt, rFlag] = await Promise.all([
      replayAsync(['wind', '--tx', '0', '--json', '--journal', dir]),
      replayAsync(['wind', '--tx', '7', '--json', '--journal', dir]),
      replayAsync(['wind', '--tx', 'abc', '--json', '--journal', dir]),
      replayAsync(['wind', '--tx', '3', '--at', iso(j.txAt(3)), '--json', '--journal', dir]),
      replayAsync(['wind', '--json', '--journal', dir]),
      replayAsync(['wind', '--at', 'yesterday', '--json', '--journal', dir]),
      replayAsync(['wind', '--tx', '3', '--frobnicate', '--json', '--journal', dir]),
    ]);
    fails(r0, 2, 'E_OUT_OF_RANGE', /tx 0 is out of range: the journal holds tx 1 to 6/);
    fails(r7, 2, 'E_OUT_OF_RANGE', /tx 7 is out of range: the journal holds tx 1 to 6/);
    fails(rAbc, 2, 'E_USAGE', /--tx .*"abc"/);
    fails(rBoth, 2, 'E_USAGE', /not both/);
    fails(rNeither, 2, 'E_USAGE', /--tx|--at/);
    fails(rBadAt, 2, 'E_USAGE', /--at .*"yesterday"/);
    fails(rFlag, 2, 'E_USAGE', /frobnicate/);
    // Without --json: one line on stderr, nothing on stdout, no stack.
    const plain = replay(['wind', '--tx', '99', '--journal', dir]);
    expect(plain.code).toBe(2);
    expect(plain.stdout).toBe('');
    expect(plain.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^replay: tx 99 is out of range/)]);
  });

  it('prints a readable table with next steps', () => {
    const r = replay(['wind', '--tx', '4', '--journal', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/\x1b\[/); // NO_COLOR
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe(`tx 4 committed at ${iso(j.txAt(4))}`);
    expect(r.stdout).toMatch(/ID\s+KIND\s+STATUS\s+STARTED/);
    expect(r.stdout).toMatch(/^\s*2\s+deposit\s+error\s+/m);
    expect(r.stdout).toMatch(/^\s*4\s+transfer\s+ok\s+/m);
    expect(r.stdout).toContain('3,4*'); // S2 committed tx 4
    expect(r.stdout).toContain('replay show 2');
    expect(r.stdout).toContain('replay state --tx 3');
    // The next steps' explanations line up.
    const hints = r.stdout.split('\n').filter((l) => /^ {2}replay /.test(l));
    expect(hints).toHaveLength(3);
    expect(new Set(hints.map((l) => l.search(/(?<=\S {3,})\S/))).size, hints.join('\n')).toBe(1);
    // The last checkpoint: its label and position, or (start) for a session that had reached none.
    expect(r.stdout).toMatch(new RegExp(`^\\s*2\\s+deposit\\s+error\\s+\\S+\\s+2\\s+start @${cp.s2start}\\s+3,4\\*`, 'm'));
    const at3 = replay(['wind', '--tx', '3', '--journal', dir]);
    expect(at3.stdout).toMatch(/^\s*3\s+balance\s+ok\s+\S+\s+2\s+\(start\)\s+-\s*$/m);
  });

  it('reads the journal from REPLAY_JOURNAL, and documents itself', () => {
    const r = replay(['wind', '--tx', '2', '--json'], { env: { REPLAY_JOURNAL: dir } });
    expect(ids(ok(r))).toEqual([1]);
    const help = replay(['wind', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('replay wind --tx 4812');
    expect(help.stdout).toContain('--json');
    expect(help.stdout).toContain('--journal');
  });
});

describe('replay sessions', () => {
  it('lists every session in start order, with times in ISO-8601 UTC', () => {
    const r = ok(replay(['sessions', '--json', '--journal', dir]), sessionsSchema);
    expect(ids(r)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(r.json[0]).toEqual({
      id: 1,
      kind: 'transfer',
      status: 'ok',
      route: '/transfer',
      startedAfterTx: 1,
      endedAtTx: 2,
      startedAt: iso(j.startedAt(1)),
      endedAt: expect.stringMatching(/Z$/),
    });
    expect(r.json[2]).toMatchObject({ id: 3, route: '/balance/7', startedAfterTx: 2, endedAtTx: 3 });
    expect(r.json[4]).toMatchObject({ id: 5, status: 'open', endedAtTx: null, endedAt: null });
    expect(r.json[5]).toMatchObject({ id: 6, status: 'aborted', startedAfterTx: 6, endedAtTx: 6 });
  });

  it('filters by kind, status and start time, and keeps the most recent with --limit', async () => {
    const since = iso(j.startedAt(3));
    const until = iso(j.startedAt(2));
    const cases: [string[], number[]][] = [
      [['--kind', 'transfer'], [1, 4]],
      [['--kind', 'nope'], []],
      [['--status', 'open'], [5]],
      [['--status', 'aborted'], [6]],
      [['--status', 'error'], [2]],
      [['--status', 'ok'], [1, 3, 4]],
      [['--limit', '2'], [5, 6]],
      [['--limit', '100'], [1, 2, 3, 4, 5, 6]],
      [['--since', since], [3, 4, 5, 6]],
      [['--until', until], [1, 2]],
      [['--since', since, '--until', iso(j.startedAt(4))], [3, 4]],
      [['--kind', 'deposit', '--limit', '1'], [5]],
      [['--status', 'ok', '--since', since, '--limit', '1'], [4]],
      [['--until', until.slice(0, 10)], []], // a date alone is midnight UTC
    ];
    const runs = await Promise.all(cases.map(([args]) => replayAsync(['sessions', ...args, '--json', '--journal', dir])));
    runs.forEach((r, i) => expect(ids(ok(r, sessionsSchema)), cases[i][0].join(' ')).toEqual(cases[i][1]));
  });

  it('rejects bad filters with exit 2 naming the value', async () => {
    const [badSince, badStatus, badLimit, zeroLimit, feb30] = await Promise.all([
      replayAsync(['sessions', '--since', 'last tuesday', '--json', '--journal', dir]),
      replayAsync(['sessions', '--status', 'done', '--json', '--journal', dir]),
      replayAsync(['sessions', '--limit', 'ten', '--json', '--journal', dir]),
      replayAsync(['sessions', '--limit', '0', '--json', '--journal', dir]),
      replayAsync(['sessions', '--until', '2026-02-30', '--json', '--journal', dir]),
    ]);
    fails(badSince, 2, 'E_USAGE', /--since .*"last tuesday"/);
    fails(badStatus, 2, 'E_USAGE', /--status .*"done"/);
    fails(badLimit, 2, 'E_USAGE', /--limit .*"ten"/);
    fails(zeroLimit, 2, 'E_USAGE', /--limit .*"0"/);
    fails(feb30, 2, 'E_USAGE', /2026-02-30/);
  });

  it('colours only when asked, and never with NO_COLOR', () => {
    const forced = replay(['sessions', '--journal', dir], { env: { NO_COLOR: undefined, FORCE_COLOR: '1' } });
    expect(forced.stdout).toMatch(/\x1b\[/);
    const refused = replay(['sessions', '--journal', dir], { env: { NO_COLOR: '1', FORCE_COLOR: '1' } });
    expect(refused.stdout).not.toMatch(/\x1b\[/);
    expect(refused.stdout.replace(/\x1b\[[0-9;]*m/g, '')).toBe(forced.stdout.replace(/\x1b\[[0-9;]*m/g, ''));
  });

  it('writes plain JSON to a pipe even when colour is forced, so jq can read it', () => {
    const r = replay(['sessions', '--journal', dir, '--json'], { env: { NO_COLOR: undefined, FORCE_COLOR: '3' } });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/\x1b\[/);
    expect(r.json.map((s: { id: number }) => s.id)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('prints an aligned table', () => {
    const r = replay(['sessions', '--journal', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/\x1b\[/);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+KIND\s+STATUS\s+ROUTE\s+STARTED\s+ENDED\s+TX$/);
    expect(lines).toHaveLength(1 + 6 + 1);
    // Columns line up: STATUS starts at the same offset on every row.
    const statusAt = lines[0].indexOf('STATUS');
    for (const line of lines.slice(1, 7)) expect(line.slice(statusAt)).toMatch(/^(ok|error|open|aborted)\s/);
    expect(lines[5]).toMatch(/open\s+\/deposit\s+\S+\s+-\s+5\.\.$/);
  });
});

describe('replay info', () => {
  it('agrees with the catalog on sessions and transactions', () => {
    const r = replay(['info', '--json', '--journal', dir]);
    expect(r.code).toBe(0);
    expect(validate(r.json, loadSchema('info'))).toEqual([]);
    expect(r.json).toMatchObject({
      records: j.written.length,
      sessions: 6,
      openSessions: 1,
      transactions: { first: 1, last: 6 },
      integrity: 'ok',
      firstBadOffset: null,
      tornTailBytes: 0,
      damage: null,
    });
  });
});

describe('errors common to every command', () => {
  it('a missing journal is exit 3 E_NOT_A_JOURNAL naming the path', async () => {
    const missing = path.join(tmp('missing'), 'nope');
    const runs = await Promise.all(
      [['sessions'], ['wind', '--tx', '1'], ['info'], ['repair', '--truncate-at', '0']].map((args) =>
        replayAsync([...args, '--json', '--journal', missing]),
      ),
    );
    for (const r of runs) fails(r, 3, 'E_NOT_A_JOURNAL', missing);
    const plain = replay(['sessions', '--journal', missing]);
    expect(plain.code).toBe(3);
    expect(plain.stderr).toBe(`replay: no journal at ${missing}: the directory does not exist\n`);
  });

  it('every command has --help with an example', async () => {
    const runs = await Promise.all(['sessions', 'wind', 'repair', 'info'].map((c) => replayAsync([c, '--help'])));
    for (const r of runs) {
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/EXAMPLES/);
      expect(r.stdout).toMatch(/\$ replay \w+/);
      expect(r.stdout).toContain('--json');
    }
  });
});

describe('replay sessions on a journal of thousands of sessions', () => {
  const big = tmp('big');
  const SESSIONS = 4000;
  beforeAll(async () => {
    await writeSyntheticJournal(big, { sessions: SESSIONS, seed: 7 });
  }, 120_000);

  it('streams JSON that is exactly the pretty-printed array, over many output chunks', () => {
    const r = replay(['sessions', '--journal', big, '--json']);
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBeGreaterThan(4 << 16);
    expect(r.stdout).toBe(`${JSON.stringify(r.json, null, 2)}\n`);
    expect(r.json).toHaveLength(SESSIONS);
    expect(r.json.map((s: { id: number }) => s.id)).toEqual(Array.from({ length: SESSIONS }, (_, i) => i + 1));
    expect(validate(r.json, sessionsSchema)).toEqual([]);
  });

  it('streams an aligned table of every row, with the count after it', () => {
    const r = replay(['sessions', '--journal', big]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(1 + SESSIONS + 1);
    expect(lines.at(-1)).toMatch(new RegExp(`^${SESSIONS.toLocaleString('en-US')} sessions; `));
    // IDs are right-aligned to the widest, and every other column starts where its header does.
    const kindAt = lines[0].indexOf('KIND');
    const statusAt = lines[0].indexOf('STATUS');
    lines.slice(1, -1).forEach((line, i) => {
      expect(line.slice(0, kindAt).trim()).toBe(String(i + 1));
      expect(line.slice(kindAt - 2, kindAt)).toBe('  ');
      expect(line.slice(statusAt)).toMatch(/^(ok|error|open|aborted)\s/);
    });
  });
});
