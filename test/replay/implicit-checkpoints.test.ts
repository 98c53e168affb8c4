import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { sessionHistory, type Positioned } from '../../src/executor/history.js';
import type { CheckpointRecord, SessionAttemptRecord } from '../../src/model/records.js';
import { RealmCache, replaySession, type ReplayStep } from '../../src/replay/engine.js';
import { Stepper } from '../../src/replay/stepper.js';
import { startServer } from '../../src/runtime/server.js';
import { openJournal } from '../../src/services/journal-access.js';
import { wind } from '../../src/services/wind.js';
import { LoadClient } from '../../scripts/load.js';
import { replay, tempDirs } from '../helpers/cli.js';
import { CHECKPOINTS_APP, IMPLICIT_JOURNAL, IMPLICIT_OBSERVED, observeJournal, sendMix, startService, type SessionObserved } from './implicit-fixture.js';
import { copyJournal, records } from './record-fixture.js';

// Recorders before this version journaled a checkpoint 'start' before every
// handler and a checkpoint 'response' after it; today's journal neither
// (docs/replay.md, "Checkpoints, and the implicit ones of older journals").
// A journal recorded with them (fixtures/journal-implicit-checkpoints, by
// the last such recorder) replays, verifies and steps exactly as that
// version did; recording goes on into it without them, an open session of
// it resumes, and an app's own checkpoints labelled 'start' or 'response'
// stay the app's.

const tmp = tempDirs('windback-implicit');

/** The session's records, in journal order. */
function sessionRecords(dir: string, id: number): Positioned[] {
  return records(dir).filter((r) => (r.record as { session?: unknown }).session === id);
}

function checkpointsOf(list: Positioned[]): CheckpointRecord[] {
  return list.map((r) => r.record).filter((r): r is CheckpointRecord => r.kind === 'checkpoint');
}

/** Session ids by kind, in start order. */
function sessionsByKind(dir: string, from = 1): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const { record } of records(dir)) {
    if (record.kind !== 'session-start' || record.session < from) continue;
    out.set(record.sessionKind, [...(out.get(record.sessionKind) ?? []), record.session]);
  }
  return out;
}

describe('a journal recorded with implicit checkpoints', () => {
  let dir: string;
  let expected: SessionObserved[];

  beforeAll(() => {
    dir = copyJournal(IMPLICIT_JOURNAL, path.join(tmp(), 'journal'));
    expected = JSON.parse(fs.readFileSync(IMPLICIT_OBSERVED, 'utf8')) as SessionObserved[];
  });

  it('holds them: a checkpoint "start" first in every attempt from the start, a checkpoint "response" before every answer of an ok one', () => {
    const all = records(dir);
    const starts = all.filter((r) => r.record.kind === 'session-start');
    expect(starts).toHaveLength(14);
    for (const start of starts) {
      const id = (start.record as { session: number }).session;
      const own = all.filter((r) => (r.record as { session?: unknown }).session === id);
      expect(own[1].record, `session ${id}`).toMatchObject({ kind: 'checkpoint', label: 'start', state: null });
      const response = own.findIndex((r) => r.record.kind === 'response');
      const end = own.find((r) => r.record.kind === 'session-end');
      if (end && (end.record as { status: string }).status === 'ok') expect(own[response - 1].record, `session ${id}`).toMatchObject({ kind: 'checkpoint', label: 'response', state: null });
    }
    // The retry before any checkpoint of the app's own went back to the implicit one.
    const [flaky] = sessionsByKind(dir).get('flaky')!;
    const attempt = all.find((r) => r.record.kind === 'session-attempt' && r.record.session === flaky)!.record as SessionAttemptRecord;
    expect(all.find((r) => r.position === attempt.fromCheckpoint)?.record).toMatchObject({ kind: 'checkpoint', label: 'start', session: flaky });
  });

  it('replays, verifies and steps exactly as the version that recorded it: the same steps, verdicts, locations, divergences and checkpoints in force', async () => {
    expect(expected.map((s) => s.id)).toEqual([...Array(14).keys()].map((i) => i + 1));
    // What that version observed: its implicit steps were served, with no source location.
    expect(expected[0].replay.events[0]).toMatch(/^step 1 a1 checkpoint served @\d+ - -$/);
    expect(expected[0].stepper[1]).toMatch(/^1 a1 equal - checkpoint=start@1 /);
    const observed = await observeJournal(dir);
    for (let i = 0; i < expected.length; i++) expect(observed[i], `session ${expected[i].id}`).toEqual(expected[i]);
  }, 120_000);

  it('replay verify finds every ended session equal', () => {
    const r = replay(['verify', '--json', '-j', dir]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ sessions: 13, passed: 13, diverged: 0 });
  });

  it('winds as before: a session that had reached nothing of its own shows the implicit "start"', () => {
    const [note] = sessionsByKind(dir).get('note')!;
    const start = checkpointsOf(sessionRecords(dir, note));
    expect(start[0].label).toBe('start');
    const alive = wind({ journal: dir, tx: 2 }).alive;
    expect(alive).toEqual([expect.objectContaining({ id: note, lastCheckpoint: { label: 'start', position: expect.any(Number) } })]);
  });
});

describe('recording after the upgrade, into a journal recorded with implicit checkpoints', () => {
  let dir: string;
  /** Sessions recorded today: after the fixture's 14 (the 15th would be the resume's, but a resume keeps its session). */
  let today: Map<string, number[]>;
  const OLD = 14;

  beforeAll(async () => {
    dir = copyJournal(IMPLICIT_JOURNAL, path.join(tmp(), 'journal'));
    const service = await startService();
    const server = await startServer(CHECKPOINTS_APP, { journal: dir, config: { serviceUrl: service.url }, durability: 'none', timeZone: 'UTC', locale: 'en-US', log: () => {} });
    try {
      // The fixture's last session was cut by a crash while it waited for the service: it resumes.
      expect(server.startup.resumed).toBe(1);
      await server.resumed;
      const client = new LoadClient(server.url);
      try {
        await sendMix(client, 'two');
      } finally {
        client.close();
      }
    } finally {
      await server.close();
      await service.close();
    }
    today = sessionsByKind(dir, OLD + 1);
  }, 120_000);

  it('journals no checkpoint but the app\'s own: none before the handler, none after it', () => {
    const expectedLabels: Record<string, string[]> = {
      note: [],
      flaky: [],
      counted: ['counted'],
      restart: ['start'],
      labelled: ['start', 'response'],
      stated: ['start', 'response'],
      later: ['start'],
      refuse: [],
      wait: [],
      remote: [],
    };
    expect([...today.keys()].sort()).toEqual(Object.keys(expectedLabels).sort());
    for (const [kind, ids] of today) {
      for (const id of ids) expect(checkpointsOf(sessionRecords(dir, id)).map((c) => c.label), `${kind} (session ${id})`).toEqual(expectedLabels[kind]);
    }
    // The stated ones carry the app's state; a session with none is its records alone.
    const [stated] = today.get('stated')!;
    expect(checkpointsOf(sessionRecords(dir, stated)).map((c) => c.state)).toEqual([{ text: 'two stated' }, { draw: expect.any(Number) }]);
    const [note] = today.get('note')!;
    expect(sessionRecords(dir, note).map((r) => r.record.kind)).toEqual(['session-start', 'value', 'write-tx', 'response', 'session-end']);
  });

  it('resumed the open session of the old recording: its first attempt keeps its implicit "start", the resume adds no checkpoint', () => {
    const own = sessionRecords(dir, OLD);
    const history = sessionHistory(own);
    expect(history.attempts.map((a) => a.reason)).toEqual(['first', 'resume']);
    expect(checkpointsOf(history.attempts[0].records).map((c) => c.label)).toEqual(['start']);
    expect(checkpointsOf(history.attempts[1].records)).toEqual([]);
    expect(history.attempts[1].records.map((r) => r.record.kind)).toEqual(['call-result', 'write-tx', 'response']);
    expect(history.end?.record).toMatchObject({ status: 'ok' });
  });

  it('replays the resumed session with its implicit "start" served as before, the response with no checkpoint before it', async () => {
    const access = openJournal(dir);
    const realms = new RealmCache();
    const steps: ReplayStep[] = [];
    try {
      const result = await replaySession(access, OLD, { observer: { step: (s) => steps.push(s) } }, realms);
      expect(result).toMatchObject({ equal: true, attempts: 2 });
    } finally {
      realms.close();
      access.close();
    }
    const own = sessionRecords(dir, OLD);
    // Attempt 1 (crashed): the implicit start, the time, the call. Attempt 2: the same inherited, then its own.
    expect(steps.map((s) => [s.attempt, s.step, s.kind, s.inherited])).toEqual([
      [1, 1, 'checkpoint', false],
      [1, 2, 'value', false],
      [1, 3, 'call', false],
      [2, 1, 'checkpoint', true],
      [2, 2, 'value', true],
      [2, 3, 'call', true],
      [2, 5, 'call-result', false],
      [2, 6, 'tx', false],
      [2, 7, 'response', false],
    ]);
    expect(own.map((r) => r.record.kind)[7]).toBe('response');
    expect(steps[0].location).toBeNull();
  });

  it('a retry before any checkpoint of the app\'s own runs again from the start: fromCheckpoint null, nothing inherited, and it replays equal', async () => {
    const [once, never] = today.get('flaky')!;
    const history = sessionHistory(sessionRecords(dir, once));
    expect(history.attempts.map((a) => [a.reason, a.fromCheckpoint, a.inherited.length])).toEqual([
      ['first', null, 0],
      ['retry', null, 0],
    ]);
    // The read ran again in the second attempt, and the session ended ok there.
    expect(history.attempts.map((a) => a.records.filter((r) => r.record.kind === 'read-tx').length)).toEqual([1, 1]);
    expect(history.end?.record).toMatchObject({ status: 'ok', error: null });
    const response = history.attempts[1].response!.record;
    expect(JSON.parse(Buffer.from(response.body).toString('utf8'))).toMatchObject({ attempt: 2 });
    const given = sessionHistory(sessionRecords(dir, never));
    expect(given.attempts.map((a) => [a.reason, a.fromCheckpoint])).toEqual([
      ['first', null],
      ['retry', null],
      ['retry', null],
    ]);
    expect(given.end?.record).toMatchObject({ status: 'error', error: { name: 'RetryableError', retryable: true } });
    const shown = replay(['show', String(once), '--json', '-j', dir]);
    expect((shown.json as { summary: string }[]).map((s) => s.summary)).toContain('attempt 2: retry from the start');
  });

  it('an app\'s own checkpoint "start" is the app\'s: stepped at its line, wound to as its last checkpoint, retried from', async () => {
    const [labelled] = today.get('labelled')!;
    const access = openJournal(dir);
    const stepper = Stepper.open(access, labelled);
    try {
      expect(stepper.steps.map((s) => s.kind)).toEqual(['session-start', 'checkpoint', 'value', 'write-tx', 'checkpoint', 'response', 'session-end']);
      const first = await stepper.goto(1);
      expect(first).toMatchObject({ verdict: 'equal', checkpoint: { step: 1, label: 'start' } });
      // Served to the app's own ctx.checkpoint('start'), at its line: not passed over as an implicit one (no location).
      expect(first.location?.file).toMatch(/fixtures\/apps\/checkpoints\/app\.ts$/);
      const last = await stepper.goto(4);
      expect(last).toMatchObject({ verdict: 'equal', checkpoint: { step: 4, label: 'response' } });
      expect(last.location?.file).toMatch(/fixtures\/apps\/checkpoints\/app\.ts$/);
      expect((await stepper.goto(5)).verdict).toBe('equal');
    } finally {
      stepper.close();
      access.close();
    }
    // Its transaction's wind: the app's 'start' is its last checkpoint before it.
    const own = sessionRecords(dir, labelled);
    const tx = (own.find((r) => r.record.kind === 'write-tx')!.record as { tx: number }).tx;
    const at = wind({ journal: dir, tx }).alive.find((s) => s.id === labelled)!;
    expect(at.lastCheckpoint).toEqual({ label: 'start', position: own[1].position });
    // A RetryableError after the app's own 'start' goes back to it.
    const [restart] = today.get('restart')!;
    const history = sessionHistory(sessionRecords(dir, restart));
    const start = history.attempts[0].records.find((r) => r.record.kind === 'checkpoint')!;
    expect(history.attempts[1].fromCheckpoint).toBe(start.position);
    expect(history.attempts[1].inherited.map((e) => e.position)).toEqual([start.position]);
  });

  it('winds a session that has reached no checkpoint of its own to null (the table: "(start)")', () => {
    const [note] = today.get('note')!;
    const tx = (sessionRecords(dir, note).find((r) => r.record.kind === 'write-tx')!.record as { tx: number }).tx;
    expect(wind({ journal: dir, tx }).alive.find((s) => s.id === note)).toMatchObject({ lastCheckpoint: null });
    const table = replay(['wind', '--tx', String(tx), '-j', dir]);
    expect(table.stdout).toMatch(new RegExp(`^\\s*${note}\\s+note\\s+ok\\s+\\S+\\s+\\d+\\s+\\(start\\)\\s+${tx}\\*`, 'm'));
  });

  it('the whole journal, old sessions and new, verifies equal; the old ones still replay and step as before', async () => {
    const r = replay(['verify', '--json', '-j', dir]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const count = OLD + [...today.values()].flat().length;
    expect(r.json).toMatchObject({ sessions: count, passed: count, diverged: 0 });
    const expected = JSON.parse(fs.readFileSync(IMPLICIT_OBSERVED, 'utf8')) as SessionObserved[];
    // The sessions the old recorder ended are what they were; the one it left open now has a second attempt.
    const observed = await observeJournal(dir, undefined, (id) => id < OLD);
    expect(observed).toEqual(expected.filter((s) => s.id < OLD));
  }, 120_000);
});
