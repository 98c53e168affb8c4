import * as fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ResponseRecord, SessionAttemptRecord, WriteTxRecord } from '../../src/model/records.js';
import { replay, replayAsync, tempDirs, type CliResult } from '../helpers/cli.js';
import { expectFailure, expectJsonFailure } from './expect.js';
import { BATCH_COMMIT, batchStart, copyJournal, frames, recordBank, records, tamper, type RecordedBank } from './record-fixture.js';

// A recorded journal altered after the fact. A byte changed inside a
// response body or a row change, with the record's CRC fixed up so that only
// the hash chain can tell: `replay audit` exits 1 naming the batch, and
// `replay verify` and `replay run` do not pass the session. A journal cut
// short passes audit unless the old head is expected. Garbage in the middle
// (CRC and all) is corruption: exit 3 naming the position.

const tmp = tempDirs('windback-replay-tamper');
let bank: RecordedBank;

beforeAll(async () => {
  bank = await recordBank(tmp('journal'));
  // Build the catalog once, so that the copies below start from a used journal.
  const r = replay(['sessions', '-j', bank.dir]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
}, 120_000);

function copy(label: string, catalog = true): string {
  return copyJournal(bank.dir, tmp(label), { catalog });
}

function flipIn(payload: Buffer, needle: Uint8Array | string, at: number): void {
  const i = payload.indexOf(typeof needle === 'string' ? Buffer.from(needle) : Buffer.from(needle));
  if (i < 0) throw new Error('the bytes to alter are not in the payload');
  payload[i + at] ^= 0x01;
}

/**
 * A session replayed on an altered journal must not pass: either it diverges
 * (exit 1, the JSON result names it) or the journal is refused as corrupt
 * (exit 3, E_CORRUPT), both documented in docs/cli.md.
 */
function expectNotPassed(result: CliResult, session: number, kind: string): void {
  const all = `exit ${result.code}\n${result.stdout}${result.stderr}`;
  expect([1, 3], all).toContain(result.code);
  expect(result.json, all).toBeDefined();
  if (result.code === 3) {
    expect(result.json.error.code, all).toBe('E_CORRUPT');
    return;
  }
  const failure = 'failures' in result.json ? result.json.failures.find((f: { session: number }) => f.session === session) : result.json;
  expect(failure, all).toBeDefined();
  expect(failure.session).toBe(session);
  expect(failure.equal).toBe(false);
  expect(failure.divergence.kind, all).toBe(kind);
  if (kind === 'response') expect(failure.divergence.message, all).toMatch(/response body differs/);
}

describe('tampering caught by the hash chain', () => {
  it('the untouched journal audits clean (the control)', () => {
    const r = replay(['audit', '--json', '-j', copy('control')]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ ok: true, firstBadOffset: null, problem: null });
    expect(r.json.responses).toBe(records(bank.dir).filter((x) => x.record.kind === 'response').length);
  });

  it('one byte of a recorded response body: audit exits 1 at the batch start; verify and run do not pass the session', async () => {
    const dir = copy('response');
    // A resumed session's response: the one a crash made the runtime finish.
    const all = records(dir);
    const resumed = all.find((r): r is typeof r & { record: SessionAttemptRecord } => r.record.kind === 'session-attempt' && r.record.reason === 'resume')!.record.session;
    const target = all.find((r) => r.record.kind === 'response' && r.record.session === resumed)!;
    const body = (target.record as ResponseRecord).body;
    expect(body.byteLength).toBeGreaterThan(20);
    tamper(dir, target.position, (payload) => flipIn(payload, body, Math.floor(body.byteLength / 2)));
    const expectedOffset = batchStart(frames(dir), target.position);

    const audit = replay(['audit', '--json', '-j', dir]);
    expect(audit.code, audit.stdout + audit.stderr).toBe(1);
    expect(audit.json).toMatchObject({ ok: false, firstBadOffset: expectedOffset });
    expect(audit.json.problem).toContain(`position ${expectedOffset}`);
    const human = replay(['audit', '-j', dir]);
    expect(human.code, human.stdout + human.stderr).toBe(1);
    expect(human.stdout).toContain(`at position ${expectedOffset}`);

    const [verify, run] = await Promise.all([
      replayAsync(['verify', '--json', '-j', dir]),
      replayAsync(['run', String(resumed), '--json', '-j', dir]),
    ]);
    expectNotPassed(verify, resumed, 'response');
    expectNotPassed(run, resumed, 'response');
  });

  it('one byte of a row change in a write-tx: audit exits 1 at the batch start; verify and run do not pass the session', async () => {
    const dir = copy('row-change');
    const target = records(dir).find(
      (r) => r.record.kind === 'write-tx' && r.record.session !== null && r.record.changes.some((c) => c.table === 'ledger' && c.after?.memo === 'deposit'),
    )!;
    const record = target.record as WriteTxRecord;
    tamper(dir, target.position, (payload) => flipIn(payload, 'deposit', 6)); // memo "deposit" becomes "deposiu"
    const expectedOffset = batchStart(frames(dir), target.position);
    // The frame still checks out on its own and decodes to the altered change.
    const altered = records(dir).find((r) => r.position === target.position)!.record as WriteTxRecord;
    expect(altered.changes.find((c) => c.table === 'ledger')!.after!.memo).toBe('deposiu');

    const audit = replay(['audit', '--json', '-j', dir]);
    expect(audit.code, audit.stdout + audit.stderr).toBe(1);
    expect(audit.json).toMatchObject({ ok: false, firstBadOffset: expectedOffset });

    const [verify, run] = await Promise.all([
      replayAsync(['verify', '--json', '-j', dir]),
      replayAsync(['run', String(record.session), '--json', '-j', dir]),
    ]);
    expectNotPassed(verify, record.session!, 'tx');
    expectNotPassed(run, record.session!, 'tx');
  });
});

describe('a journal cut short', () => {
  it('passes audit, but not audit --expect-head with the head noted before the cut', () => {
    const dir = copy('cut', false);
    const info = replay(['info', '--json', '-j', dir]);
    expect(info.code, info.stdout + info.stderr).toBe(0);
    const head = info.json.chainHead as string;
    expect(head).toMatch(/^[0-9a-f]{64}$/);
    expect(replay(['audit', '--expect-head', head, '-j', dir]).code).toBe(0);

    // Cut whole batches off the end: what is left is a clean, shorter journal.
    const all = frames(dir);
    const commits = all.filter((f) => f.type === BATCH_COMMIT);
    expect(commits.length).toBeGreaterThan(10);
    const keep = commits[commits.length - 6];
    fs.truncateSync(keep.segment, keep.fileOffset + 9 + keep.length);
    const keptHead = fs.readFileSync(keep.segment).subarray(keep.fileOffset + 9 + 56, keep.fileOffset + 9 + 88).toString('hex');

    const plain = replay(['audit', '--json', '-j', dir]);
    expect(plain.code, plain.stdout + plain.stderr).toBe(0);
    expect(plain.json).toMatchObject({ ok: true, chainHead: keptHead, tornTail: 0 });
    expect(plain.json.chainHead).not.toBe(head);

    const expecting = replay(['audit', '--json', '--expect-head', head, '-j', dir]);
    expect(expecting.code, expecting.stdout).toBe(1);
    expect(expecting.json).toMatchObject({ ok: false, expectedHeadSeq: null });
    expect(expecting.json.problem).toContain(head);
    const human = replay(['audit', '--expect-head', head, '-j', dir]);
    expect(human.code, human.stdout + human.stderr).toBe(1);
    expect(human.stdout).toMatch(/cut short/);
    // A head still in the chain passes.
    expect(replay(['audit', '--expect-head', keptHead, '-j', dir]).code).toBe(0);
  });

  it('cut inside a batch, it is a torn tail: audit still exits 0 and reports it, --expect-head still catches the cut', () => {
    const dir = copy('torn', false);
    const info = replay(['info', '--json', '-j', dir]);
    expect(info.code, info.stdout + info.stderr).toBe(0);
    const head = info.json.chainHead as string;
    expect(head).toMatch(/^[0-9a-f]{64}$/);
    const all = frames(dir);
    const commits = all.filter((f) => f.type === BATCH_COMMIT);
    const last = commits[commits.length - 3];
    fs.truncateSync(last.segment, last.fileOffset + 4); // inside that batch's commit record
    const plain = replay(['audit', '--json', '-j', dir]);
    expect(plain.code, plain.stdout).toBe(0);
    expect(plain.json.ok).toBe(true);
    expect(plain.json.tornTail).toBeGreaterThan(0);
    const expecting = replay(['audit', '--json', '--expect-head', head, '-j', dir]);
    expect(expecting.code, expecting.stdout + expecting.stderr).toBe(1);
    expect(expecting.json.ok).toBe(false);
  });
});

describe('a corrupt journal: garbage in the middle', () => {
  let dir: string;
  let damage: number;
  let lastTx: number;
  let txBefore: number;
  let before: number;
  let after: number;
  /** A session that started before the damage and went on past it. */
  let spanning: number;

  beforeAll(() => {
    dir = copy('garbage');
    const all = records(dir);
    const first = new Map<number, number>();
    const last = new Map<number, number>();
    for (const { position, record } of all) {
      if (!('session' in record) || typeof record.session !== 'number') continue;
      if (!first.has(record.session)) first.set(record.session, position);
      last.set(record.session, position);
    }
    // Damage a record inside the life of a resumed session (it spans the crash).
    spanning = all.find((r): r is typeof r & { record: SessionAttemptRecord } => r.record.kind === 'session-attempt' && r.record.reason === 'resume')!.record.session;
    const from = first.get(spanning)!;
    const to = last.get(spanning)!;
    // In a later batch than its start, so that the catalog indexes the start and sees the session open.
    const startCommitted = frames(dir).find((f) => f.type === BATCH_COMMIT && f.position > from)!.position;
    const frame = frames(dir).find((f) => f.position > startCommitted && f.position < to && f.type !== BATCH_COMMIT && f.length > 24)!;
    expect(frame).toBeDefined();
    damage = frame.position;
    const fd = fs.openSync(frame.segment, 'r+');
    fs.writeSync(fd, Buffer.alloc(16, 0xee), 0, 16, frame.fileOffset + 9);
    fs.closeSync(fd);
    const txs = all.map((r) => r.record).filter((r): r is WriteTxRecord => r.kind === 'write-tx');
    lastTx = Math.max(...txs.map((t) => t.tx));
    txBefore = Math.max(...all.filter((r) => r.position < damage && r.record.kind === 'write-tx').map((r) => (r.record as WriteTxRecord).tx));
    before = [...last].find(([, p]) => p < damage)![0];
    after = [...first].find(([, p]) => p > damage)![0];
  });

  it('replay run, verify and state exit 3 naming the position, in words and in JSON', async () => {
    const position = new RegExp(`position ${damage}\\b`);
    const runs = await Promise.all([
      replayAsync(['run', String(after), '-j', dir]),
      replayAsync(['verify', '-j', dir]),
      replayAsync(['state', '--tx', String(lastTx), '-j', dir]),
      replayAsync(['run', String(after), '--json', '-j', dir]),
      replayAsync(['verify', '--json', '-j', dir]),
      replayAsync(['state', '--tx', String(lastTx), '--json', '-j', dir]),
    ]);
    for (const r of runs.slice(0, 3)) expectFailure(r, 3, position);
    for (const r of runs.slice(3)) expectJsonFailure(r, 3, 'E_CORRUPT', position);
    // --debug adds the stack.
    const debug = replay(['run', String(after), '--debug', '-j', dir]);
    expect(debug.code, debug.stdout + debug.stderr).toBe(3);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });

  it('a session cut by the damage is not replayed as if it had crashed there: exit 3', () => {
    // The catalog knows the session (its start lies before the damage): show lists what can be read of it.
    const shown = replay(['show', String(spanning), '--json', '-j', dir]);
    expect(shown.code, shown.stdout + shown.stderr).toBe(0);
    expect(shown.json[0]).toMatchObject({ kind: 'session-start' });
    expect(shown.json.every((s: { position: number }) => s.position < damage)).toBe(true);
    const r = replay(['run', String(spanning), '--json', '-j', dir]);
    expectJsonFailure(r, 3, 'E_CORRUPT', new RegExp(`position ${damage}\\b`));
  });

  it('what lies before the damage still replays and rebuilds', async () => {
    const [run, state] = await Promise.all([
      replayAsync(['run', String(before), '--json', '-j', dir]),
      replayAsync(['state', '--tx', String(txBefore), '--json', '-j', dir]),
    ]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.json).toMatchObject({ session: before, equal: true });
    expect(state.code, state.stdout + state.stderr).toBe(0);
    expect(state.json.tx).toBe(txBefore);
  });
});
