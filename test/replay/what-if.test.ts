import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SessionStartRecord, ValueRecord, WriteTxRecord } from '../../src/model/records.js';
import { replay, replayAsync, ROOT, tempDirs } from '../helpers/cli.js';
import { lineOf, readJunit, xmllint } from './expect.js';
import { BANK_APP, BANK_CHANGED_APP, BANK_REFACTOR_APP, recordBank, records, type RecordedBank } from './record-fixture.js';

// What-if replays (--code): fixtures/apps/bank-changed loses a cent in every
// transfer, so every session that committed a transfer diverges, at the step
// of its write transaction and at the line of the ctx.tx() call; a harmless
// refactor (fixtures/apps/bank-refactor: one more Date.now() nobody reads)
// passes by default and fails under --strict. The JUnit report validates
// against a JUnit XSD, and GITHUB_ACTIONS=true adds annotations.

const tmp = tempDirs('windback-replay-whatif');
let bank: RecordedBank;
let dir: string;
/** Sessions that committed a transfer: what bank-changed must diverge on. */
let transfersCommitted: number[];
/** Transfer sessions that asked for the date after the fraud check: what the refactor changes. */
let transfersDated: number[];
let allSessions: number[];
let txLine: number;

const sorted = (list: Iterable<number>): number[] => [...list].sort((a, b) => a - b);

beforeAll(async () => {
  bank = await recordBank(tmp('journal'));
  dir = bank.dir;
  const all = records(dir).map((r) => r.record);
  const transfer = new Set(all.filter((r): r is SessionStartRecord => r.kind === 'session-start' && r.sessionKind === 'transfer').map((r) => r.session));
  allSessions = sorted(all.filter((r): r is SessionStartRecord => r.kind === 'session-start').map((r) => r.session));
  transfersCommitted = sorted(new Set(all.filter((r): r is WriteTxRecord => r.kind === 'write-tx' && r.session !== null && transfer.has(r.session)).map((r) => r.session!)));
  transfersDated = sorted(new Set(all.filter((r): r is ValueRecord => r.kind === 'value' && r.source === 'date' && transfer.has(r.session)).map((r) => r.session)));
  txLine = lineOf(BANK_CHANGED_APP, /async transfer\(/, /ctx\.tx\(/);
}, 120_000);

interface Step {
  index: number;
  kind: string;
  tx: number | null;
}

function showSteps(session: number): Step[] {
  const r = replay(['show', String(session), '--json', '-j', dir]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return r.json as Step[];
}

describe('a what-if replay with a bug in the code (bank-changed)', () => {
  it('diverges on exactly the sessions that committed a transfer, at their write-tx step and the ctx.tx() line; exit 1, JSON printed', async () => {
    expect(transfersCommitted.length).toBeGreaterThan(5);
    expect(txLine).toBeGreaterThan(1);
    const r = replay(['verify', '--json', '--code', BANK_CHANGED_APP, '-j', dir]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.json, r.stdout).toBeDefined();
    expect(r.json).toMatchObject({ sessions: allSessions.length, diverged: transfersCommitted.length, passed: allSessions.length - transfersCommitted.length });
    expect(sorted(r.json.failures.map((f: { session: number }) => f.session))).toEqual(transfersCommitted);
    const failures = r.json.failures as { session: number; equal: boolean; divergence: { step: number; kind: string; message: string; location: { file: string; line: number } } }[];
    const shown = await Promise.all(failures.map((f) => replayAsync(['show', String(f.session), '--json', '-j', dir])));
    failures.forEach((failure, i) => {
      const d = failure.divergence;
      expect(failure.equal).toBe(false);
      expect(d.kind, `session ${failure.session}: ${d.message}`).toBe('tx');
      const txOf = Number(/transaction (\d+)/.exec(d.message)?.[1]);
      expect(shown[i].code, shown[i].stdout + shown[i].stderr).toBe(0);
      const step = (shown[i].json as Step[]).find((s) => s.kind === 'write-tx');
      expect(step, `session ${failure.session} has a write-tx step`).toBeDefined();
      expect(d.step, `session ${failure.session}`).toBe(step!.index);
      expect(txOf).toBe(step!.tx);
      expect(d.location.file.endsWith(path.join('bank-changed', 'app.ts')), d.location.file).toBe(true);
      expect(d.location.line, `session ${failure.session}`).toBe(txLine);
    });
  });

  it('replay run names the same step and line for one session, in JSON and in words', async () => {
    const id = transfersCommitted[transfersCommitted.length - 1];
    const [json, human] = await Promise.all([
      replayAsync(['run', String(id), '--json', '--code', BANK_CHANGED_APP, '-j', dir]),
      replayAsync(['run', String(id), '--code', BANK_CHANGED_APP, '-j', dir]),
    ]);
    const step = showSteps(id).find((s) => s.kind === 'write-tx')!;
    expect(json.code, json.stdout + json.stderr).toBe(1);
    expect(json.json).toMatchObject({ session: id, equal: false, divergence: { step: step.index, kind: 'tx', location: { line: txLine } } });
    expect(json.json.divergence.location.file).toMatch(/bank-changed\/app\.ts$/);
    // The recorded changes and the replayed ones, the target account a cent short.
    const expected = json.json.divergence.expected as { table: string; after: { balance?: number } | null }[];
    const actual = json.json.divergence.actual as { table: string; after: { balance?: number } | null }[];
    const balances = (changes: typeof expected): number[] => changes.filter((c) => c.table === 'accounts').map((c) => c.after!.balance!);
    expect(balances(actual)[0]).toBe(balances(expected)[0]);
    expect(balances(actual)[1]).toBe(balances(expected)[1] - 1);
    expect(human.code, human.stdout + human.stderr).toBe(1);
    expect(human.stdout).toContain(`DIVERGED: session ${id} at step ${step.index} (tx) at `);
    expect(human.stdout).toContain(`bank-changed/app.ts:${txLine}:`);
    // The difference is on screen: long values are shown from a little before where they first differ.
    const shownLine = (label: string): string => human.stdout.split('\n').find((l) => l.trimStart().startsWith(label))!;
    expect(shownLine('expected:')).toContain(`"balance":${balances(expected)[1]}`);
    expect(shownLine('actual:')).toContain(`"balance":${balances(actual)[1]}`);
    // With --keep-going the replay goes on past the first divergence and reports every one it finds:
    // code without the session's kind misses the session's steps, and answers differently.
    const other = path.join(ROOT, 'fixtures', 'apps', 'nondeterministic', 'app.ts');
    const [first, all] = await Promise.all([
      replayAsync(['run', String(id), '--json', '--code', other, '-j', dir]),
      replayAsync(['run', String(id), '--json', '--keep-going', '--code', other, '-j', dir]),
    ]);
    expect(first.json.divergences).toHaveLength(1);
    expect(all.code, all.stdout + all.stderr).toBe(1);
    expect(all.json.divergences.length).toBeGreaterThan(1);
    expect(all.json.divergences[0]).toEqual(first.json.divergence);
    expect(all.json.divergences.map((d: { kind: string }) => d.kind)).toContain('response');
    // A session that does not reach the changed line is still equal with that code.
    const untouched = allSessions.find((s) => !transfersCommitted.includes(s))!;
    const equal = replay(['run', String(untouched), '--json', '--code', BANK_CHANGED_APP, '-j', dir]);
    expect(equal.code, equal.stdout + equal.stderr).toBe(0);
    expect(equal.json).toMatchObject({ session: untouched, equal: true });
  });

  it('--code with the recorded source is no divergence at all', () => {
    const r = replay(['verify', '--json', '--code', BANK_APP, '-j', dir]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ sessions: allSessions.length, diverged: 0 });
  });
});

describe('a harmless refactor (bank-refactor: one more Date.now() whose value nobody reads)', () => {
  it('the fixture is bank/app.ts plus one line that calls Date.now() in transfer', () => {
    const original = fs.readFileSync(BANK_APP, 'utf8').split('\n');
    const refactor = fs.readFileSync(BANK_REFACTOR_APP, 'utf8').split('\n');
    expect(refactor).toHaveLength(original.length + 1);
    const added = refactor.findIndex((line, i) => line !== original[i]);
    expect(refactor[added]).toMatch(/Date\.now\(\)/);
    expect([...refactor.slice(0, added), ...refactor.slice(added + 1)]).toEqual(original);
    expect(added + 1).toBeGreaterThan(lineOf(BANK_REFACTOR_APP, /^\s*async transfer\(/, /./));
    expect(added + 1).toBeLessThan(lineOf(BANK_REFACTOR_APP, /^\s*async transfer\(/, /^\s*async balance\(/));
  });

  it('is not a divergence by default with --code', async () => {
    const [verify, run] = await Promise.all([
      replayAsync(['verify', '--json', '--code', BANK_REFACTOR_APP, '-j', dir]),
      replayAsync(['run', String(transfersCommitted[0]), '--json', '--code', BANK_REFACTOR_APP, '-j', dir]),
    ]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.json).toEqual({ sessions: allSessions.length, passed: allSessions.length, diverged: 0, failures: [] });
    expect(run.code, run.stdout).toBe(0);
    expect(run.json).toMatchObject({ equal: true, divergence: null });
  });

  it('is a divergence under --strict, on the transfers that ask for the time, in bank-refactor/app.ts', () => {
    expect(transfersDated.length).toBeGreaterThanOrEqual(transfersCommitted.length);
    const r = replay(['verify', '--json', '--strict', '--code', BANK_REFACTOR_APP, '-j', dir]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(sorted(r.json.failures.map((f: { session: number }) => f.session))).toEqual(transfersDated);
    const dateLines = [lineOf(BANK_REFACTOR_APP, /async transfer\(/, /Date\.now\(\)/), lineOf(BANK_REFACTOR_APP, /async transfer\(/, /new Date\(\)/)];
    for (const f of r.json.failures as { session: number; divergence: { kind: string; location: { file: string; line: number } } }[]) {
      expect(f.divergence.kind, `session ${f.session}`).toBe('extra-step');
      expect(f.divergence.location.file).toMatch(/bank-refactor\/app\.ts$/);
      expect(dateLines).toContain(f.divergence.location.line);
    }
  });
});

describe('verify --junit', () => {
  it('writes a report that validates against the JUnit XSD, with a <failure> for exactly the diverged sessions', async () => {
    const out = tmp('junit');
    const clean = path.join(out, 'clean.xml');
    const diverged = path.join(out, 'diverged.xml');
    const [a, b] = await Promise.all([
      replayAsync(['verify', '--json', '--junit', clean, '-j', dir]),
      replayAsync(['verify', '--json', '--junit', diverged, '--code', BANK_CHANGED_APP, '-j', dir]),
    ]);
    expect(a.code, a.stdout + a.stderr).toBe(0);
    expect(b.code, b.stdout + b.stderr).toBe(1);
    for (const file of [clean, diverged]) {
      const lint = xmllint(file);
      expect(lint.ok, `${file}: ${lint.output}`).toBe(true);
    }
    const good = readJunit(clean);
    expect(good.tests).toBe(allSessions.length);
    expect(good.failures).toBe(0);
    expect(good.cases.filter((c) => c.failure)).toEqual([]);

    const bad = readJunit(diverged);
    expect(bad.tests).toBe(allSessions.length);
    expect(bad.failures).toBe(transfersCommitted.length);
    expect(bad.suites.map((s) => s.failures)).toEqual([transfersCommitted.length]);
    expect(sorted(bad.cases.map((c) => c.session))).toEqual(allSessions);
    const failing = bad.cases.filter((c) => c.failure !== null);
    expect(sorted(failing.map((c) => c.session))).toEqual(transfersCommitted);
    expect(sorted(failing.map((c) => c.session))).toEqual(sorted(b.json.failures.map((f: { session: number }) => f.session)));
    for (const c of failing) {
      const d = b.json.failures.find((f: { session: number }) => f.session === c.session).divergence;
      expect(c.failure!.type).toBe('tx');
      expect(c.failure!.message).toContain(`step ${d.step} (tx)`);
      expect(c.failure!.text).toContain(`bank-changed/app.ts:${txLine}:`);
    }
  });

  it('the XSD is a real check: xmllint rejects reports that break it', () => {
    const out = tmp('junit-bad');
    const broken = {
      'no-name.xml': '<testsuites><testsuite name="s" tests="1" failures="0" errors="0"><testcase classname="c"/></testsuite></testsuites>',
      'no-counts.xml': '<testsuites><testsuite name="s"><testcase name="t"/></testsuite></testsuites>',
      'stray.xml': '<testsuites><testsuite name="s" tests="1" failures="1" errors="0"><testcase name="t"><oops/></testcase></testsuite></testsuites>',
      'bad-time.xml': '<testsuites time="soon"><testsuite name="s" tests="0" failures="0" errors="0"/></testsuites>',
    };
    for (const [name, text] of Object.entries(broken)) {
      fs.writeFileSync(path.join(out, name), `<?xml version="1.0" encoding="UTF-8"?>\n${text}\n`);
      const lint = xmllint(path.join(out, name));
      expect(lint.ok, `${name} should not validate: ${lint.output}`).toBe(false);
    }
  });
});

describe('verify under GitHub Actions', () => {
  it('GITHUB_ACTIONS=true prints an ::error annotation at the diverging line for each diverged session', () => {
    const r = replay(['verify', '--code', BANK_CHANGED_APP, '-j', dir], { env: { GITHUB_ACTIONS: 'true' }, cwd: ROOT });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const annotations = r.stdout.split('\n').filter((l) => l.startsWith('::error '));
    expect(annotations).toHaveLength(transfersCommitted.length);
    const named = annotations.map((l) => {
      const match = /^::error file=([^,]+),line=(\d+),col=\d+,title=[^:]*::session (\d+) diverged at step (\d+) \(tx\)/.exec(l);
      expect(match, l).not.toBeNull();
      expect(match![1]).toBe(path.relative(ROOT, BANK_CHANGED_APP));
      expect(Number(match![2])).toBe(txLine);
      return Number(match![3]);
    });
    expect(sorted(named)).toEqual(transfersCommitted);
  });

  it('with --json too, stdout stays one JSON document and the annotations go to stderr', () => {
    const r = replay(['verify', '--json', '--code', BANK_CHANGED_APP, '-j', dir], { env: { GITHUB_ACTIONS: 'true' }, cwd: ROOT });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.json, r.stdout.slice(0, 300)).toBeDefined();
    expect(r.json.diverged).toBe(transfersCommitted.length);
    const annotations = r.stderr.split('\n').filter((l) => l.startsWith('::error '));
    expect(annotations).toHaveLength(transfersCommitted.length);
    for (const line of annotations) expect(line).toContain(`file=${path.relative(ROOT, BANK_CHANGED_APP)},line=${txLine},`);
  });

  it('prints no annotation without GITHUB_ACTIONS, nor when nothing diverged', () => {
    const off = replay(['verify', '--code', BANK_CHANGED_APP, '-j', dir], { env: { GITHUB_ACTIONS: undefined } });
    expect(off.code, off.stdout + off.stderr).toBe(1);
    expect(off.stdout).not.toContain('::error');
    expect(off.stdout).toContain(`${transfersCommitted.length} diverged`);
    const clean = replay(['verify', '-j', dir], { env: { GITHUB_ACTIONS: 'true' } });
    expect(clean.code, clean.stdout + clean.stderr).toBe(0);
    expect(clean.stdout).not.toContain('::error');
  });
});

describe('the what-if fixtures', () => {
  // They are copies of the bank app, as a user's edited app.ts would be, each
  // with one deliberate change; this keeps them from drifting apart.
  const lines = (file: string): string[] => fs.readFileSync(file, 'utf8').split('\n');

  it('bank-changed differs from the bank app in exactly one line, the credit inside the transfer transaction', () => {
    const bankLines = lines(BANK_APP);
    const changed = lines(BANK_CHANGED_APP);
    expect(changed).toHaveLength(bankLines.length);
    const differing = bankLines.flatMap((line, i) => (line === changed[i] ? [] : [i]));
    expect(differing).toHaveLength(1);
    expect(changed[differing[0]]).toContain('amount - 1, to');
  });

  it('bank-refactor is the bank app with one more line: a Date.now() nobody reads', () => {
    const bankLines = lines(BANK_APP);
    const refactor = lines(BANK_REFACTOR_APP);
    const added = refactor.findIndex((line, i) => line !== bankLines[i]);
    expect(refactor[added]).toMatch(/const \w+ = Date\.now\(\);/);
    expect([...refactor.slice(0, added), ...refactor.slice(added + 1)]).toEqual(bankLines);
  });
});
