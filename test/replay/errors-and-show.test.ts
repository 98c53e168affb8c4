import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SessionAttemptRecord, WriteTxRecord } from '../../src/model/records.js';
import { replay, replayAsync, tempDirs } from '../helpers/cli.js';
import { expectFailure, expectJsonFailure } from './expect.js';
import { recordBank, records, type RecordedBank } from './record-fixture.js';

// Bad input to the replay commands (docs/cli.md, "Exit codes"): one line on
// stderr naming the offending id, range or path, exit 2, the documented JSON
// shape under --json, a stack only with --debug. And the shape of
// `replay show --json`, whose step numbers divergences use.

const tmp = tempDirs('windback-replay-errors');
let bank: RecordedBank;
let dir: string;
let lastTx: number;
let sessionCount: number;

beforeAll(async () => {
  bank = await recordBank(tmp('journal'));
  dir = bank.dir;
  const all = records(dir).map((r) => r.record);
  lastTx = Math.max(...all.filter((r): r is WriteTxRecord => r.kind === 'write-tx').map((r) => r.tx));
  sessionCount = all.filter((r) => r.kind === 'session-start').length;
}, 120_000);

describe('bad input', () => {
  it('replay run 999999: an unknown session, exit 2 naming the id', async () => {
    const [human, json, debug] = await Promise.all([
      replayAsync(['run', '999999', '-j', dir]),
      replayAsync(['run', '999999', '--json', '-j', dir]),
      replayAsync(['run', '999999', '--debug', '-j', dir]),
    ]);
    expectFailure(human, 2, /999999/);
    expect(human.stderr).toContain(`${sessionCount} sessions`);
    expect(human.stdout).toBe('');
    expectJsonFailure(json, 2, 'E_NOT_FOUND', /999999/);
    expect(json.stderr).toBe('');
    expect(debug.code, debug.stdout + debug.stderr).toBe(2);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });

  it('replay run abc (and 0, 1.5, 0x1, 1e0, "1 "): not a session id, exit 2 naming what was given', async () => {
    const given = ['abc', '0', '1.5', '0x1', '1e0', '1.0', '1 '];
    const results = await Promise.all(given.map((id) => replayAsync(['run', id, '-j', dir])));
    results.forEach((r, i) => expectFailure(r, 2, new RegExp(`"${given[i].replace('.', '\\.')}"`)));
    expectJsonFailure(replay(['run', 'abc', '--json', '-j', dir]), 2, 'E_USAGE', /abc/);
  });

  it('replay state --tx 999999: out of range, exit 2 naming the range', async () => {
    const [human, json, restore] = await Promise.all([
      replayAsync(['state', '--tx', '999999', '-j', dir]),
      replayAsync(['state', '--tx', '999999', '--json', '-j', dir]),
      replayAsync(['restore', '--tx', '999999', '--out', path.join(tmp('out'), 'never.sqlite'), '-j', dir]),
    ]);
    // Worded as replay wind words it.
    const range = new RegExp(`tx 999999 is out of range: the journal holds tx 1 to ${lastTx}\\b`);
    expectFailure(human, 2, range);
    expectJsonFailure(json, 2, 'E_OUT_OF_RANGE', range);
    expectFailure(restore, 2, range);
    const bad = replay(['state', '--tx', 'twelve', '-j', dir]);
    expectFailure(bad, 2, /twelve/);
  });

  it('replay state --sql that writes is refused with exit 2, and writes nothing', async () => {
    const count = (): number => replay(['state', '--tx', String(lastTx), '--sql', 'select count(*) as n from accounts', '--json', '-j', dir]).json.rows[0][0];
    const before = count();
    expect(before).toBeGreaterThan(0);
    const statements = [
      'delete from accounts',
      'DELETE FROM accounts WHERE 1',
      'update accounts set balance = 0',
      'insert into accounts (id, owner, balance, opened_at) values (1, 2, 3, 4)',
      'drop table accounts',
      'select 1; delete from accounts',
    ];
    const results = await Promise.all(statements.map((sql) => replayAsync(['state', '--tx', '1', '--sql', sql, '-j', dir])));
    results.forEach((r) => expectFailure(r, 2));
    expectJsonFailure(replay(['state', '--tx', '1', '--sql', 'delete from accounts', '--json', '-j', dir]), 2, /^E_/, /read-only/);
    expect(count()).toBe(before);
    // A read-only query still works on the same state.
    const ok = replay(['state', '--tx', '1', '--sql', 'select count(*) from accounts', '--json', '-j', dir]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.json.rows).toEqual([[0]]);
  });

  it('replay restore onto an existing file without --force: exit 2 naming the file, which is left alone', () => {
    const file = path.join(tmp('existing'), 'mine.sqlite');
    fs.writeFileSync(file, 'precious, not a database');
    const r = replay(['restore', '--tx', '3', '--out', file, '-j', dir]);
    expectFailure(r, 2, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*--force`));
    expect(fs.readFileSync(file, 'utf8')).toBe('precious, not a database');
    expect(fs.existsSync(`${file}.partial`)).toBe(false);
    expectJsonFailure(replay(['restore', '--tx', '3', '--out', file, '--json', '-j', dir]), 2, 'E_EXISTS', /--force/);
  });

  it('a directory that is not a journal: exit 3 naming it', () => {
    const empty = tmp('empty');
    const r = replay(['run', '1', '-j', empty]);
    expectFailure(r, 3, new RegExp(empty.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    expectJsonFailure(replay(['verify', '--json', '-j', empty]), 3, 'E_NOT_A_JOURNAL');
  });

  it('bad verify flags: exit 2', async () => {
    const results = await Promise.all([
      replayAsync(['verify', '--shard', '3/2', '-j', dir]),
      replayAsync(['verify', '--shard', 'half', '-j', dir]),
      replayAsync(['verify', '--from-tx', '9', '--to-tx', '3', '-j', dir]),
      replayAsync(['verify', '--from-tx', 'x', '-j', dir]),
      replayAsync(['verify', '--jobs', '0', '-j', dir]),
      replayAsync(['verify', '--code', path.join(tmp('nocode'), 'missing.ts'), '-j', dir]),
      // The same error from worker threads keeps its kind: exit 2, not an internal error.
      replayAsync(['verify', '--code', path.join(tmp('nocode-jobs'), 'missing.ts'), '--jobs', '2', '-j', dir]),
      replayAsync(['verify', '--code', path.join(tmp('nocode-jobs-json'), 'missing.ts'), '--jobs', '2', '--json', '-j', dir]),
      // Filters that select nothing: a CI job that replays nothing must not pass.
      replayAsync(['verify', '--kind', 'trasnfer', '-j', dir]),
      replayAsync(['verify', '--from-tx', '999999', '-j', dir]),
    ]);
    expectFailure(results[0], 2, /3\/2/);
    expectFailure(results[1], 2, /half/);
    expectFailure(results[2], 2, /9.*3/);
    expectFailure(results[3], 2, /"x"/);
    // oclif rejects --jobs 0 itself (the flag's min is 1): exit 2, with oclif's own message ("Parsing --jobs").
    expect(results[4].code, results[4].stdout + results[4].stderr).toBe(2);
    expect(results[4].stderr).toMatch(/^replay: .*--jobs/);
    expect(results[4].stderr).not.toMatch(/\n\s+at /);
    expectFailure(results[5], 2, /missing\.ts/);
    expectFailure(results[6], 2, /missing\.ts/);
    expectJsonFailure(results[7], 2, 'E_NOT_FOUND', /missing\.ts/);
    expectFailure(results[8], 2, /--kind trasnfer: the journal has no session of that kind \(its kinds: .*transfer/);
    expectFailure(results[9], 2, /--from-tx 999999 is after the journal's last transaction, \d+/);
  });
});

interface Step {
  index: number;
  attempt: number;
  kind: string;
  at: string | null;
  position: number;
  tx: number | null;
  bytes: number;
  summary: string;
}

describe('replay show --json', () => {
  it('is an array of {index, attempt, kind, at, position, tx, bytes, summary}, 0-based and consecutive, tx only on write-tx', async () => {
    const all = records(dir);
    const resumed = all.find((r) => r.record.kind === 'session-attempt' && (r.record as SessionAttemptRecord).reason === 'resume')!.record as SessionAttemptRecord;
    const ids = [...new Set([1, resumed.session, Math.ceil(sessionCount / 2), sessionCount])];
    const shown = await Promise.all(ids.map((id) => replayAsync(['show', String(id), '--json', '-j', dir])));
    shown.forEach((r, i) => {
      const id = ids[i];
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const steps = r.json as Step[];
      expect(Array.isArray(steps)).toBe(true);
      const mine = all.filter(({ record }) => 'session' in record && record.session === id);
      expect(steps).toHaveLength(mine.length);
      let attempt = 1;
      steps.forEach((step, index) => {
        expect(Object.keys(step).sort(), `session ${id} step ${index}`).toEqual(['at', 'attempt', 'bytes', 'index', 'kind', 'position', 'summary', 'tx']);
        expect(step.index).toBe(index);
        const record = mine[index];
        expect(step.position).toBe(record.position);
        expect(step.kind).toBe(record.record.kind);
        if (record.record.kind === 'session-attempt') attempt = record.record.attempt;
        expect(step.attempt).toBe(attempt);
        expect(step.tx).toBe(record.record.kind === 'write-tx' ? record.record.tx : null);
        if (step.at !== null) expect(step.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        expect(Number.isInteger(step.bytes) && step.bytes > 9).toBe(true);
        expect(typeof step.summary).toBe('string');
        expect(step.summary.length).toBeGreaterThan(0);
        if (index > 0) expect(step.position).toBeGreaterThan(steps[index - 1].position);
      });
      expect(steps[0].kind).toBe('session-start');
      expect(steps[steps.length - 1].kind).toBe('session-end');
    });
    const resumedSteps = shown[ids.indexOf(resumed.session)].json as Step[];
    expect(resumedSteps.some((s) => s.kind === 'session-attempt' && s.attempt === 2)).toBe(true);
    expect(resumedSteps.filter((s) => s.kind === 'write-tx').every((s) => Number.isInteger(s.tx) && s.tx! >= 1)).toBe(true);
    expect(resumedSteps.some((s) => s.kind === 'write-tx')).toBe(true);
  });

  it('replay show of an unknown session: exit 2 naming it', () => {
    expectJsonFailure(replay(['show', '999999', '--json', '-j', dir]), 2, 'E_NOT_FOUND', /999999/);
  });
});
