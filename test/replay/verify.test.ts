import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SessionAttemptRecord, SessionEndRecord, SessionStartRecord } from '../../src/model/records.js';
import { replay, replayAsync, tempDirs } from '../helpers/cli.js';
import { junitSessions, readJunit } from './expect.js';
import { BANK_CHANGED_APP, recordBank, records, samples, SNAPSHOT_EVERY, type RecordedBank } from './record-fixture.js';

// `replay verify` and `replay run` over a journal the real runtime recorded
// (record-fixture.ts): every session, the resumed ones included, replays
// equal; --jobs, --shard, --kind and --from-tx/--to-tx select and split the
// sessions as documented.

interface SessionRow {
  id: number;
  kind: string;
  status: string;
  startedAfterTx: number;
}

const tmp = tempDirs('windback-replay-verify');
let bank: RecordedBank;
let dir: string;
let sessions: SessionRow[];
let resumed: number[];
/** The journal as the crash left it, before the restart resumed anything. */
let crashed: string;

beforeAll(async () => {
  crashed = path.join(tmp('crashed'), 'journal');
  bank = await recordBank(tmp('journal'), { crashedCopy: crashed });
  dir = bank.dir;
  const listed = replay(['sessions', '--json', '-j', dir]);
  expect(listed.code, listed.stdout + listed.stderr).toBe(0);
  sessions = listed.json as SessionRow[];
  resumed = [
    ...new Set(
      records(dir)
        .map((r) => r.record)
        .filter((r): r is SessionAttemptRecord => r.kind === 'session-attempt' && r.reason === 'resume')
        .map((r) => r.session),
    ),
  ].sort((a, b) => a - b);
}, 120_000);

const ids = (rows: SessionRow[]): number[] => rows.map((s) => s.id).sort((a, b) => a - b);

describe('the recorded journal', () => {
  it('holds what these tests rely on: three transports, business errors, duplicates, a crash with resumed sessions, snapshots', () => {
    const all = records(dir).map((r) => r.record);
    const starts = all.filter((r): r is SessionStartRecord => r.kind === 'session-start');
    expect(new Set(starts.map((s) => s.transport))).toEqual(new Set(['json', 'json-rpc', 'xml-rpc']));
    expect(new Set(starts.map((s) => s.sessionKind))).toEqual(new Set(['open', 'deposit', 'transfer', 'balance', 'statement']));
    const ends = all.filter((r): r is SessionEndRecord => r.kind === 'session-end');
    expect(ends).toHaveLength(starts.length);
    expect(ends.filter((e) => e.status === 'error' && e.error?.name === 'BusinessError').length).toBeGreaterThan(3);
    expect(all.filter((r) => r.kind === 'duplicate-request').length).toBeGreaterThanOrEqual(3);
    // A transaction whose function threw (insufficient funds, unknown account) is journaled as an aborted write.
    expect(all.some((r) => r.kind === 'read-tx' && r.write && r.error !== null)).toBe(true);
    expect(resumed).toHaveLength(bank.cut);
    // Retries too: fraud checks that answered 503 made transfers wind back to their checkpoint.
    expect(all.some((r) => r.kind === 'session-attempt' && r.reason === 'retry')).toBe(true);
    expect(ends.some((e) => e.error?.message.startsWith('insufficient funds'))).toBe(true);
    const lastTx = Math.max(...all.map((r) => (r.kind === 'write-tx' ? r.tx : 0)));
    // Snapshots are taken off the request path, one at a time, so some intervals get none.
    expect(lastTx).toBeGreaterThan(6 * SNAPSHOT_EVERY);
    expect(all.filter((r) => r.kind === 'snapshot').length).toBeGreaterThanOrEqual(3);
    expect(sessions.map((s) => s.status)).not.toContain('open');
    expect(sessions).toHaveLength(starts.length);
  });
});

describe('replay verify', () => {
  it('replays every session, the resumed ones included, equal to the recording', () => {
    const junit = path.join(tmp('junit'), 'all.xml');
    const r = replay(['verify', '--json', '--junit', junit, '-j', dir]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toEqual({ sessions: sessions.length, passed: sessions.length, diverged: 0, failures: [] });
    const report = readJunit(junit);
    expect(report.cases.map((c) => c.session).sort((a, b) => a - b)).toEqual(ids(sessions));
    expect(report.cases.filter((c) => c.failure !== null)).toEqual([]);
    for (const id of resumed) expect(report.cases.find((c) => c.session === id)?.failure).toBeNull();
  });

  it('replay run says equal for every resumed session and a sample of the others', async () => {
    const others = samples(1, sessions.length, 8, 7).filter((id) => !resumed.includes(id));
    const sample = [...resumed, ...others];
    const results = await Promise.all(sample.map((id) => replayAsync(['run', String(id), '--json', '-j', dir])));
    results.forEach((r, i) => {
      expect(r.code, `session ${sample[i]}: ${r.stdout}${r.stderr}`).toBe(0);
      expect(r.json).toMatchObject({ session: sample[i], equal: true, divergence: null });
      expect(r.json.steps).toBeGreaterThan(0);
    });
    // The human form says so too.
    const human = replay(['run', String(resumed[0]), '-j', dir]);
    expect(human.code, human.stdout + human.stderr).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^equal: session ${resumed[0]} replays as recorded`));
  });

  it('--jobs 2 gives the same verdicts as one thread, equal and diverged alike', async () => {
    const out = tmp('jobs');
    const args = (jobs: number): string[] => ['verify', '--json', '--code', BANK_CHANGED_APP, '--junit', path.join(out, `jobs-${jobs}.xml`), '--jobs', String(jobs), '-j', dir];
    const [one, two] = await Promise.all([replayAsync(args(1)), replayAsync(args(2))]);
    expect(one.code, one.stdout + one.stderr).toBe(1);
    expect(two.code, two.stdout + two.stderr).toBe(1);
    expect(one.json.diverged).toBeGreaterThan(0);
    expect(one.json.passed).toBeGreaterThan(0);
    expect(two.json).toEqual(one.json);
    const verdicts = (file: string): [number, string, string | null][] =>
      readJunit(file)
        .cases.map((c): [number, string, string | null] => [c.session, c.classname, c.failure?.message ?? null])
        .sort((a, b) => a[0] - b[0]);
    expect(verdicts(path.join(out, 'jobs-2.xml'))).toEqual(verdicts(path.join(out, 'jobs-1.xml')));
    const plain = await replayAsync(['verify', '--json', '--jobs', '2', '-j', dir]);
    expect(plain.code, plain.stdout + plain.stderr).toBe(0);
    expect(plain.json).toEqual({ sessions: sessions.length, passed: sessions.length, diverged: 0, failures: [] });
  });

  it('--shard 1/2 and --shard 2/2 partition the sessions exactly', async () => {
    const out = tmp('shards');
    const [a, b] = await Promise.all(
      ['1/2', '2/2'].map((shard, i) => replayAsync(['verify', '--json', '--shard', shard, '--junit', path.join(out, `${i + 1}.xml`), '-j', dir])),
    );
    expect(a.code, a.stdout + a.stderr).toBe(0);
    expect(b.code, b.stdout + b.stderr).toBe(0);
    const first = junitSessions(path.join(out, '1.xml'));
    const second = junitSessions(path.join(out, '2.xml'));
    expect(first.length).toBeGreaterThan(0);
    expect(second.length).toBeGreaterThan(0);
    expect(first.filter((id) => second.includes(id))).toEqual([]);
    expect([...first, ...second].sort((x, y) => x - y)).toEqual(ids(sessions));
    expect(a.json.sessions + b.json.sessions).toBe(sessions.length);
    // Deterministic: the same shard twice is the same sessions.
    const again = replay(['verify', '--json', '--shard', '1/2', '--junit', path.join(out, '1-again.xml'), '-j', dir]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(junitSessions(path.join(out, '1-again.xml'))).toEqual(first);
  });

  it('--kind selects the sessions of that kind', () => {
    const out = tmp('kind');
    for (const kind of ['transfer', 'balance']) {
      const file = path.join(out, `${kind}.xml`);
      const r = replay(['verify', '--json', '--kind', kind, '--junit', file, '-j', dir]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const expected = ids(sessions.filter((s) => s.kind === kind));
      expect(expected.length).toBeGreaterThan(0);
      expect(r.json.sessions).toBe(expected.length);
      expect(junitSessions(file)).toEqual(expected);
      expect(new Set(readJunit(file).cases.map((c) => c.classname))).toEqual(new Set([`windback.replay.${kind}`]));
    }
    // A kind the journal does not have is a typo, not a pass (errors-and-show.test.ts checks the message).
    const none = replay(['verify', '--json', '--kind', 'no-such-kind', '-j', dir]);
    expect(none.code, none.stdout + none.stderr).toBe(2);
    expect(none.json).toMatchObject({ error: { code: 'E_USAGE' } });
  });

  it('--from-tx A --to-tx B selects the sessions with A <= startedAfterTx <= B', async () => {
    const values = [...new Set(sessions.map((s) => s.startedAfterTx))].sort((x, y) => x - y);
    expect(values.length).toBeGreaterThan(6);
    // Bounds that are startedAfterTx values, so that both ends are inclusive for real.
    const a = values[Math.floor(values.length / 4)];
    const b = values[Math.floor((values.length * 3) / 4)];
    const cases: { args: string[]; keep: (s: SessionRow) => boolean }[] = [
      { args: ['--from-tx', String(a), '--to-tx', String(b)], keep: (s) => a <= s.startedAfterTx && s.startedAfterTx <= b },
      { args: ['--from-tx', String(b)], keep: (s) => s.startedAfterTx >= b },
      { args: ['--to-tx', String(a)], keep: (s) => s.startedAfterTx <= a },
      { args: ['--from-tx', String(a), '--to-tx', String(a)], keep: (s) => s.startedAfterTx === a },
      { args: ['--kind', 'deposit', '--from-tx', String(a), '--to-tx', String(b)], keep: (s) => s.kind === 'deposit' && a <= s.startedAfterTx && s.startedAfterTx <= b },
    ];
    const out = tmp('range');
    const results = await Promise.all(cases.map((c, i) => replayAsync(['verify', '--json', ...c.args, '--junit', path.join(out, `${i}.xml`), '-j', dir])));
    results.forEach((r, i) => {
      const expected = ids(sessions.filter(cases[i].keep));
      expect(r.code, `${cases[i].args.join(' ')}: ${r.stderr}`).toBe(0);
      expect(expected.length, cases[i].args.join(' ')).toBeGreaterThan(0);
      expect(expected.length, cases[i].args.join(' ')).toBeLessThan(sessions.length);
      expect(junitSessions(path.join(out, `${i}.xml`)), cases[i].args.join(' ')).toEqual(expected);
      expect(r.json.sessions).toBe(expected.length);
    });
  });

  it('on the journal as the crash left it, the open sessions replay equal up to the crash, and verify leaves them out', async () => {
    const open = replay(['sessions', '--status', 'open', '--json', '-j', crashed]);
    expect(open.code, open.stdout + open.stderr).toBe(0);
    const openIds = ids(open.json as SessionRow[]);
    expect(openIds).toEqual(resumed);
    const runs = await Promise.all(openIds.map((id) => replayAsync(['run', String(id), '--json', '-j', crashed])));
    runs.forEach((r, i) => {
      expect(r.code, `session ${openIds[i]}: ${r.stdout}${r.stderr}`).toBe(0);
      expect(r.json).toMatchObject({ session: openIds[i], equal: true, divergence: null });
    });
    // Those whose transfer committed before the crash still diverge with the buggy code, at that step.
    const committed = records(crashed).filter((r) => r.record.kind === 'write-tx' && openIds.includes(r.record.session ?? -1));
    expect(committed.length).toBeGreaterThan(0);
    for (const { record } of committed) {
      const id = (record as { session: number }).session;
      const r = replay(['run', String(id), '--json', '--code', BANK_CHANGED_APP, '-j', crashed]);
      const step = (replay(['show', String(id), '--json', '-j', crashed]).json as { index: number; kind: string }[]).find((x) => x.kind === 'write-tx')!;
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.json).toMatchObject({ session: id, equal: false, divergence: { kind: 'tx', step: step.index } });
    }
    const verify = replay(['verify', '--json', '-j', crashed]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const ended = (replay(['sessions', '--json', '-j', crashed]).json as SessionRow[]).filter((s) => s.status !== 'open');
    expect(verify.json).toEqual({ sessions: ended.length, passed: ended.length, diverged: 0, failures: [] });
  });
});
