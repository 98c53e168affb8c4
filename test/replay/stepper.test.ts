import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Divergence } from '../../src/executor/types.js';
import { NotFoundError, OutOfRangeError } from '../../src/model/errors.js';
import type { CallStartRecord, JournalRecord, ResponseRecord, SessionStartRecord, WriteTxRecord } from '../../src/model/records.js';
import { RealmCache, replaySession, type ReplayResult, type ReplayStep } from '../../src/replay/engine.js';
import type { JournalAccess } from '../../src/replay/state.js';
import { Stepper, type StepState } from '../../src/replay/stepper.js';
import { startServer } from '../../src/runtime/server.js';
import { openJournal, type OpenJournal } from '../../src/services/journal-access.js';
import { replay, tempDirs } from '../helpers/cli.js';
import { BANK_APP, BANK_CHANGED_APP, BANK_REFACTOR_APP, call, copyJournal, recordBank, records, ROOT, tamper, type RecordedBank } from './record-fixture.js';

// The stepping API (src/replay/stepper.ts) and the replay engine's observer
// stream, on journals the real runtime recorded: the bank journal of
// record-fixture.ts (retries, resumed sessions, business errors, three
// transports), and a long session of fixtures/apps/rounds (a checkpoint
// every six steps). A state at step k must be what walking next() from the
// start gives at k, and what a full replay (replaySession) observes at k,
// whatever path of next, back and goto led there, from 'start' or from
// 'checkpoint'.

const tmp = tempDirs('windback-replay-stepper');
const ROUNDS_APP = path.join(ROOT, 'fixtures', 'apps', 'rounds', 'app.ts');
const COMPARED = new Set<JournalRecord['kind']>(['value', 'call-start', 'call-result', 'write-tx', 'read-tx', 'checkpoint', 'response']);

let bank: RecordedBank;
let journal: OpenJournal;
let longDir: string;
let longJournal: OpenJournal;
/** The long session: rounds of checkpoint, read, call, value and write. */
let longSession: number;
/** A shorter one whose every third transaction asks for the time inside its body. */
let stampedSession: number;
let bankSessions: number[];
/** Sessions with more than one attempt (retries, resumes). */
let multiAttempt: number[];
/** Transfers that committed: what bank-changed diverges on. */
let committedTransfers: number[];
/** Realms and states per journal: a RealmCache's states belong to the journal it first served. */
const caches = new Map<JournalAccess, RealmCache>();
function realmsOf(access: JournalAccess): RealmCache {
  let cache = caches.get(access);
  if (!cache) caches.set(access, (cache = new RealmCache()));
  return cache;
}

beforeAll(async () => {
  bank = await recordBank(tmp('journal'));
  journal = openJournal(bank.dir);
  const all = records(bank.dir).map((r) => r.record);
  bankSessions = all.filter((r): r is SessionStartRecord => r.kind === 'session-start').map((r) => r.session);
  multiAttempt = [...new Set(all.filter((r) => r.kind === 'session-attempt').map((r) => (r as { session: number }).session))];
  const transfers = new Set(all.filter((r): r is SessionStartRecord => r.kind === 'session-start' && r.sessionKind === 'transfer').map((r) => r.session));
  committedTransfers = [...new Set(all.filter((r): r is WriteTxRecord => r.kind === 'write-tx' && r.session !== null && transfers.has(r.session)).map((r) => r.session!))];

  longDir = tmp('long');
  const server = await startServer(ROUNDS_APP, { journal: longDir, durability: 'none', log: () => {} });
  try {
    const stamped = await call(server.url, { kind: 'walk', transport: 'json', input: { rounds: 8, stampEvery: 3 } });
    const reply = await call(server.url, { kind: 'walk', transport: 'json', input: { rounds: 12, extra: 2 } });
    expect(reply.status, reply.body.toString()).toBe(200);
    expect(stamped.status, stamped.body.toString()).toBe(200);
    longSession = reply.session!;
    stampedSession = stamped.session!;
  } finally {
    await server.close();
  }
  longJournal = openJournal(longDir);
}, 120_000);

afterAll(() => {
  for (const cache of caches.values()) cache.close();
  journal?.close();
  longJournal?.close();
});

// ---- what a full replay observes ---------------------------------------------------------------

interface Observed {
  steps: ReplayStep[];
  divergences: { divergence: Divergence; attempt: number }[];
  ends: ReplayResult[];
  result: ReplayResult;
}

async function observe(access: JournalAccess, id: number, options: { code?: string; strict?: boolean } = {}): Promise<Observed> {
  const steps: ReplayStep[] = [];
  const divergences: Observed['divergences'] = [];
  const ends: ReplayResult[] = [];
  const result = await replaySession(
    access,
    id,
    { ...options, observer: { step: (s) => steps.push(s), divergence: (divergence, attempt) => divergences.push({ divergence, attempt }), end: (r) => ends.push(r) } },
    realmsOf(access),
  );
  return { steps, divergences, ends, result };
}

type Seen = Pick<StepState, 'verdict' | 'actual' | 'location' | 'divergence'>;

/** What the full replay's observer saw at step k: its own step event there, and any divergence numbered k. */
function seenAt(full: Observed, k: number, kind: JournalRecord['kind']): Seen {
  if (!COMPARED.has(kind)) return { verdict: 'info', actual: null, location: null, divergence: null };
  const step = full.steps.find((s) => s.step === k && !s.inherited);
  const divergence = full.divergences.find((d) => d.divergence.step === k)?.divergence ?? null;
  return { verdict: divergence ? 'diverged' : step ? 'equal' : 'not-reached', actual: step?.actual ?? null, location: step?.location ?? divergence?.location ?? null, divergence };
}

/** A state without how it was computed (which differs by path). */
function outcome(state: StepState): Omit<StepState, 'ran'> {
  const { ran: _ran, ...rest } = state;
  return rest;
}

interface Reference {
  code: string | undefined;
  full: Observed;
  /** The states walking next() from before the first step gives, in order. */
  walk: StepState[];
}

const references = new Map<string, Promise<Reference>>();

function reference(access: JournalAccess, id: number, code: string | undefined): Promise<Reference> {
  const key = `${id}|${code ?? ''}|${access === journal ? 'bank' : 'long'}`;
  let ref = references.get(key);
  if (!ref) {
    ref = (async () => {
      const full = await observe(access, id, { code });
      const stepper = Stepper.open(access, id, { code, from: 'start', realms: realmsOf(access) });
      const walk: StepState[] = [];
      for (let k = 0; k < stepper.steps.length; k++) walk.push(await stepper.next());
      return { code, full, walk };
    })();
    references.set(key, ref);
  }
  return ref;
}

type Move = { type: 'next' } | { type: 'back' } | { type: 'goto'; to: number };

const moves = (maxStep: number): fc.Arbitrary<Move[]> =>
  fc.array(
    fc.oneof(
      { weight: 2, arbitrary: fc.constant<Move>({ type: 'next' }) },
      { weight: 2, arbitrary: fc.constant<Move>({ type: 'back' }) },
      { weight: 3, arbitrary: fc.integer({ min: -2, max: maxStep + 2 }).map((to): Move => ({ type: 'goto', to })) },
    ),
    { minLength: 1, maxLength: 14 },
  );

/** Play `walk` on a fresh stepper; every state must be the reference's at its step, every move out of range refused. */
async function playWalk(access: JournalAccess, id: number, code: string | undefined, from: 'start' | 'checkpoint', walk: Move[]): Promise<void> {
  const ref = await reference(access, id, code);
  const stepper = Stepper.open(access, id, { code, from, realms: realmsOf(access) });
  const count = stepper.steps.length;
  expect(ref.walk).toHaveLength(count);
  for (const move of walk) {
    const before = stepper.position;
    const target = move.type === 'next' ? before + 1 : move.type === 'back' ? Math.max(before, 0) - 1 : move.to;
    const promise = move.type === 'next' ? stepper.next() : move.type === 'back' ? stepper.back() : stepper.goto(move.to);
    const context = `session ${id}${code ? ' (what-if)' : ''} from ${from}: ${move.type} ${target} after ${before}`;
    if (target < 0 || target >= count) {
      await expect(promise, context).rejects.toBeInstanceOf(OutOfRangeError);
      expect(stepper.position, context).toBe(before);
      continue;
    }
    const state = await promise;
    expect(stepper.position, context).toBe(target);
    expect(state.index, context).toBe(target);
    expect(outcome(state), context).toEqual(outcome(ref.walk[target]));
    expect({ verdict: state.verdict, actual: state.actual, location: state.location, divergence: state.divergence }, context).toEqual(seenAt(ref.full, target, state.step.kind));
  }
}

// ---- the stepper ---------------------------------------------------------------------------------

describe('Stepper: the steps', () => {
  it('are the records as replay show numbers them', () => {
    for (const id of [...multiAttempt.slice(0, 3), committedTransfers[0], bankSessions[0]]) {
      const shown = replay(['show', String(id), '--json', '-j', bank.dir]);
      expect(shown.code, shown.stdout + shown.stderr).toBe(0);
      const stepper = Stepper.open(journal, id, { realms: realmsOf(journal) });
      expect(stepper.position).toBe(-1);
      expect(stepper.steps.map((s) => ({ index: s.index, attempt: s.attempt, kind: s.kind, position: s.position, tx: s.tx, summary: s.summary }))).toEqual(
        (shown.json as { index: number; attempt: number; kind: string; position: number; tx: number | null; summary: string }[]).map((s) => ({
          index: s.index,
          attempt: s.attempt,
          kind: s.kind,
          position: s.position,
          tx: s.tx,
          summary: s.summary,
        })),
      );
    }
  });
});

describe.each([
  { what: 'the recorded code', code: undefined as string | undefined },
  { what: 'bank-changed (a what-if that diverges)', code: BANK_CHANGED_APP },
])('Stepper on the bank journal, $what: random walks of next, back and goto', ({ code }) => {
  it('give at every step the state walking next() gives there, and what the full replay observes there', async () => {
    expect(multiAttempt.length).toBeGreaterThan(2);
    const session = fc.oneof(fc.constantFrom(...bankSessions), fc.constantFrom(...multiAttempt), fc.constantFrom(...committedTransfers));
    await fc.assert(
      fc.asyncProperty(session, fc.constantFrom<'start' | 'checkpoint'>('start', 'checkpoint'), moves(21), (id, from, walk) => playWalk(journal, id, code, from, walk)),
      { numRuns: 40 },
    );
    // The walks met every verdict the session set has.
    const verdicts = new Set<string>();
    for (const ref of await Promise.all(references.values())) if (ref.code === code) for (const s of ref.walk) verdicts.add(s.verdict);
    expect([...verdicts].sort()).toEqual(code ? ['diverged', 'equal', 'info', 'not-reached'] : expect.arrayContaining(['equal', 'info']));
  }, 240_000);
});

describe('Stepper on a long session (a checkpoint every six steps)', () => {
  it('random walks give the same states as walking next() and as the full replay, from start and from checkpoint', async () => {
    const count = Stepper.open(longJournal, longSession, { realms: realmsOf(longJournal) }).steps.length;
    // session-start, response and session-end, the app's 2 extra steps, 12 rounds of 6 (no checkpoint journaled before the handler or after it)
    expect(count).toBe(3 + 2 + 6 * 12);
    // The stamped session: moves from a checkpoint after a transaction whose body took a value serve that transaction, and pass the value over.
    const stamped = Stepper.open(longJournal, stampedSession, { realms: realmsOf(longJournal) }).steps;
    expect(stamped.filter((s) => s.kind === 'value' && s.summary.startsWith('date'))).toHaveLength(2);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(longSession, stampedSession), fc.constantFrom<'start' | 'checkpoint'>('start', 'checkpoint'), moves(count - 1), (id, from, walk) =>
        playWalk(longJournal, id, undefined, from, walk),
      ),
      { numRuns: 30 },
    );
  }, 240_000);

  it('back and goto re-execute from the nearest checkpoint at or before the target, stop right after it, and re-run nothing before the checkpoint', async () => {
    /** Records every transaction and read the replay runs against a database state, with the state's transaction. */
    class CountingRealms extends RealmCache {
      ran: { kind: 'write' | 'read'; tx: number }[] = [];
      private counting = false;
      override states(access: JournalAccess) {
        const cache = super.states(access);
        if (this.counting) return cache;
        this.counting = true;
        const wrapped = new WeakSet<object>();
        const acquire = cache.acquire.bind(cache);
        cache.acquire = (tx) => {
          const store = acquire(tx);
          if (!wrapped.has(store)) {
            wrapped.add(store);
            const write = store.write.bind(store);
            const read = store.read.bind(store);
            store.write = ((t: number, body: never) => {
              this.ran.push({ kind: 'write', tx: t });
              return write(t, body);
            }) as typeof store.write;
            store.read = ((body: never) => {
              this.ran.push({ kind: 'read', tx: store.lastAppliedTx });
              return read(body);
            }) as typeof store.read;
          }
          return store;
        };
        return cache;
      }
    }
    const counted = new CountingRealms();
    const fromCheckpoint = Stepper.open(longJournal, longSession, { from: 'checkpoint', realms: counted });
    const fromStart = Stepper.open(longJournal, longSession, { from: 'start', realms: counted });
    try {
      const steps = fromCheckpoint.steps;
      const response = steps.findIndex((s) => s.kind === 'response');
      // The first move knows no checkpoint yet: it runs from the attempt's start, and learns them.
      const first = await fromCheckpoint.goto(response);
      expect(first.ran!.from).toBe(0);
      expect(first.verdict).toBe('equal');
      const writes = steps.filter((s) => s.kind === 'write-tx').map((s) => s.index);
      for (const target of [writes[9], writes[3], writes[10], writes[3] - 1, writes[6] - 3]) {
        const checkpoint = steps.filter((s) => s.kind === 'checkpoint' && s.index <= target).at(-1)!.index;
        const txBefore = steps.filter((s) => s.kind === 'write-tx' && s.index < checkpoint).at(-1)!.tx!;
        const nextTx = steps.find((s) => s.kind === 'write-tx' && s.index >= target)!.tx!;
        const lastAllowed = steps[target].kind === 'write-tx' ? nextTx : nextTx - 1;
        counted.ran = [];
        const state = await fromCheckpoint.goto(target);
        const context = `goto ${target}: ran ${JSON.stringify(counted.ran)}`;
        expect(state.ran!.from, context).toBe(checkpoint);
        expect(state.verdict).toBe('equal');
        expect(counted.ran.length, context).toBeGreaterThan(0);
        // No transaction before the checkpoint ran again, nor anything after the target.
        for (const r of counted.ran) {
          if (r.kind === 'write') expect(r.tx, context).toBeGreaterThan(txBefore);
          else expect(r.tx, context).toBeGreaterThanOrEqual(txBefore);
          expect(r.tx, context).toBeLessThanOrEqual(lastAllowed);
        }
        if (steps[target].kind === 'write-tx') expect(counted.ran).toContainEqual({ kind: 'write', tx: steps[target].tx });
        // The control: from the start, the same move re-runs the earlier rounds too, and stops as early.
        counted.ran = [];
        const control = await fromStart.goto(target);
        expect(control.ran!.from).toBe(0);
        expect(counted.ran.some((r) => r.kind === 'write' && r.tx <= txBefore)).toBe(true);
        expect(Math.max(...counted.ran.map((r) => r.tx))).toBeLessThanOrEqual(lastAllowed);
        expect(outcome(control)).toEqual(outcome(state));
      }
      // back() from a step right after a checkpoint goes back to that checkpoint's own run.
      const checkpointStep = steps.find((s) => s.record.kind === 'checkpoint' && s.record.label === 'round-6')!.index;
      await fromCheckpoint.goto(checkpointStep + 1);
      const back = await fromCheckpoint.back();
      expect(back.index).toBe(checkpointStep);
      expect(back.ran!.from).toBe(checkpointStep);
      expect(back.checkpoint).toMatchObject({ step: checkpointStep, label: 'round-6' });
    } finally {
      fromCheckpoint.close();
      fromStart.close();
      counted.close();
    }
  });
});

describe('Stepper.learner: taught by a full replay', () => {
  it('makes even the first move from a checkpoint, with the state a stepper that was not taught computes', async () => {
    const realms = realmsOf(longJournal);
    const taught = Stepper.open(longJournal, longSession, { realms });
    const untaught = Stepper.open(longJournal, longSession, { realms });
    expect((await replaySession(longJournal, longSession, { observer: taught.learner() }, realms)).equal).toBe(true);
    const target = taught.steps.filter((s) => s.kind === 'write-tx').at(-2)!.index;
    const checkpoint = taught.steps.filter((s) => s.kind === 'checkpoint' && s.index <= target).at(-1)!.index;
    const learned = await taught.goto(target);
    expect(learned.ran!.from).toBe(checkpoint);
    const control = await untaught.goto(target);
    expect(control.ran!.from).toBe(0);
    expect(outcome(learned)).toEqual(outcome(control));
  });

  it('trusts no checkpoint at or past a divergence the replay found', async () => {
    const id = committedTransfers[committedTransfers.length - 1];
    const realms = realmsOf(journal);
    const taught = Stepper.open(journal, id, { code: BANK_CHANGED_APP, realms });
    const untaught = Stepper.open(journal, id, { code: BANK_CHANGED_APP, realms });
    const result = await replaySession(journal, id, { code: BANK_CHANGED_APP, observer: taught.learner() }, realms);
    const diverged = result.divergence!.step;
    const response = taught.steps.findIndex((s) => s.kind === 'response');
    expect(response).toBeGreaterThan(diverged);
    const learned = await taught.goto(response);
    expect(learned.ran!.from).toBeLessThan(diverged);
    expect(outcome(learned)).toEqual(outcome(await untaught.goto(response)));
    expect(learned.verdict).toBe('not-reached');
  });
});

describe('Stepper: a what-if whose transactions return other values (no divergence by itself without --strict)', () => {
  it('does not start from a checkpoint after such a transaction: the served result would hide the difference', async () => {
    const source = fs.readFileSync(ROUNDS_APP, 'utf8');
    const plusOne = source.replace("WHERE id = 1')!.value;", "WHERE id = 1')!.value + 1;");
    expect(plusOne).not.toBe(source);
    const code = path.join(tmp('plus-one'), 'app.ts');
    fs.writeFileSync(code, plusOne);
    const full = await observe(longJournal, longSession, { code });
    // The rows are the same; the response (the last total) is not.
    expect(full.result.divergence).toMatchObject({ kind: 'response' });
    const stepper = Stepper.open(longJournal, longSession, { code, from: 'checkpoint', realms: realmsOf(longJournal) });
    const response = stepper.steps.findIndex((s) => s.kind === 'response');
    const firstWrite = stepper.steps.findIndex((s) => s.kind === 'write-tx');
    for (let k = 0; k < response; k++) expect((await stepper.next()).verdict).not.toBe('diverged');
    const state = await stepper.next();
    expect(state.index).toBe(response);
    expect(state.ran!.from).toBeLessThan(firstWrite);
    expect(state.verdict).toBe('diverged');
    expect(state.divergence).toEqual(full.result.divergence);
    expect(outcome(await stepper.goto(response))).toEqual(outcome(state));
  });
});

describe('Stepper: a what-if (bank-changed)', () => {
  it('reports its divergence at the step and source location `replay run` names, and nothing after it is reached', async () => {
    const id = committedTransfers[committedTransfers.length - 1];
    const run = replay(['run', String(id), '--json', '--code', BANK_CHANGED_APP, '-j', bank.dir]);
    expect(run.code, run.stdout + run.stderr).toBe(1);
    const expected = run.json.divergence as { step: number; kind: string; location: { file: string; line: number; column: number }; message: string };
    for (const from of ['start', 'checkpoint'] as const) {
      const stepper = Stepper.open(journal, id, { code: BANK_CHANGED_APP, from, realms: realmsOf(journal) });
      // Walk up to it, then past it, then back to it.
      let at: StepState | null = null;
      for (let k = 0; k <= expected.step; k++) at = await stepper.next();
      expect(at!.index).toBe(expected.step);
      expect(at!.verdict, from).toBe('diverged');
      expect(at!.step.kind).toBe('write-tx');
      expect(at!.divergence).toMatchObject({ step: expected.step, kind: expected.kind, location: expected.location, message: expected.message });
      expect(at!.location).toEqual(expected.location);
      const after = await stepper.goto(stepper.steps.findIndex((s, i) => i > expected.step && COMPARED.has(s.kind)));
      expect(after.verdict).toBe('not-reached');
      const again = await stepper.goto(expected.step);
      expect(outcome(again)).toEqual(outcome(at!));
      // Every step before it replays equal.
      for (let k = 0; k < expected.step; k++) expect(['equal', 'info']).toContain((await stepper.goto(k)).verdict);
    }
  });
});

describe('RealmCache', () => {
  it('serves one journal: handing it a second one is refused, not served the first one\'s states', async () => {
    const realms = new RealmCache();
    try {
      expect((await replaySession(longJournal, longSession, {}, realms)).equal).toBe(true);
      await expect(replaySession(journal, committedTransfers[0], {}, realms)).rejects.toThrow(/a RealmCache serves one journal/);
    } finally {
      realms.close();
    }
  });
});

describe('Stepper: bad steps and sessions', () => {
  it('an unknown session is a NotFoundError naming it and the journal range', () => {
    const count = journal.catalog.sessionCount();
    for (const id of [count + 1, 0]) {
      let error: unknown;
      try {
        Stepper.open(journal, id, { realms: realmsOf(journal) });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(NotFoundError);
      const message = (error as Error).message;
      expect(message.split('\n')).toHaveLength(1);
      expect(message).toContain(`session ${id}`);
      expect(message).toContain(`1 to ${count}`);
    }
  });

  it('a step out of range is an OutOfRangeError naming it, the session and the valid range; the position stays', async () => {
    const id = committedTransfers[0];
    const stepper = Stepper.open(journal, id, { realms: realmsOf(journal) });
    const last = stepper.steps.length - 1;
    const refused = async (move: Promise<StepState>, step: number): Promise<void> => {
      const error = await move.then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(OutOfRangeError);
      const message = (error as Error).message;
      expect(message.split('\n')).toHaveLength(1);
      expect(message).toMatch(new RegExp(`^step ${String(step).replace('.', '\\.')} .*session ${id}.* 0 to ${last}$`));
    };
    await refused(stepper.back(), -1);
    for (const step of [last + 1, -1, 2.5, Number.NaN]) await refused(stepper.goto(step), step);
    expect(stepper.position).toBe(-1);
    await stepper.goto(last);
    await refused(stepper.next(), last + 1);
    expect(stepper.position).toBe(last);
    await stepper.goto(0);
    await refused(stepper.back(), -1);
    expect(stepper.position).toBe(0);
  });
});

describe('Stepper: the journal directory', () => {
  it('is left exactly as it was', async () => {
    const snapshot = (dir: string): Record<string, string> => {
      const out: Record<string, string> = {};
      for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
        if (!entry.isFile()) continue;
        const file = path.join(entry.parentPath, entry.name);
        const stat = fs.statSync(file);
        out[path.relative(dir, file)] = `${stat.size} ${stat.mtimeMs} ${createHash('sha256').update(fs.readFileSync(file)).digest('hex')}`;
      }
      return out;
    };
    const before = snapshot(bank.dir);
    expect(Object.keys(before).length).toBeGreaterThan(3);
    for (const id of [multiAttempt[0], committedTransfers[0]]) {
      for (const options of [{ from: 'start' as const }, { from: 'checkpoint' as const }, { code: BANK_CHANGED_APP }]) {
        const stepper = Stepper.open(journal, id, options);
        for (let k = 0; k < stepper.steps.length; k++) await stepper.next();
        await stepper.goto(1);
        stepper.close();
      }
    }
    expect(snapshot(bank.dir)).toEqual(before);
  });
});

// ---- the engine's observer stream ------------------------------------------------------------------

/** A session's records in journal order, read without the catalog: its steps as `replay show` numbers them. */
function sessionRecords(dir: string, id: number): { position: number; record: JournalRecord; attempt: number }[] {
  let attempt = 1;
  return records(dir)
    .filter((r) => (r.record as { session?: unknown }).session === id && r.record.kind !== 'duplicate-request')
    .map((r) => {
      if (r.record.kind === 'session-attempt') attempt = r.record.attempt;
      return { position: r.position, record: r.record, attempt };
    });
}

describe('replaySession observers', () => {
  it('number every step as replay show does, with its attempt; report the response as a step; end with the result', async () => {
    let responses = 0;
    for (const id of bankSessions) {
      const own = sessionRecords(bank.dir, id);
      const index = new Map(own.map((r, i) => [r.position, i]));
      const full = await observe(journal, id);
      expect(full.result.equal, `session ${id}`).toBe(true);
      for (const step of full.steps) {
        expect(step.step, `session ${id}: ${step.kind} at ${step.position}`).toBe(index.get(step.position!));
        const recordAttempt = own[step.step].attempt;
        if (step.inherited) expect(recordAttempt).toBeLessThan(step.attempt);
        else expect(recordAttempt).toBe(step.attempt);
      }
      // Each own effect once, in an attempt's own steps.
      const ownSteps = full.steps.filter((s) => !s.inherited).map((s) => s.step);
      expect(new Set(ownSteps).size).toBe(ownSteps.length);
      // The response, rendered from the replayed outcome: byte for byte the journal's.
      const responseAt = own.findIndex((r) => r.record.kind === 'response');
      const reported = full.steps.filter((s) => s.kind === 'response');
      if (responseAt >= 0) {
        responses++;
        const recorded = own[responseAt].record as ResponseRecord;
        expect(reported).toHaveLength(1);
        expect(reported[0]).toMatchObject({ step: responseAt, position: own[responseAt].position, attempt: own[responseAt].attempt, inherited: false, location: null });
        expect(reported[0].actual).toEqual({ status: recorded.status, body: Buffer.from(recorded.body).toString('utf8') });
      } else {
        expect(reported).toEqual([]);
      }
      expect(full.ends).toHaveLength(1);
      expect(full.ends[0]).toBe(full.result);
      // Observing changes nothing in the result.
      expect(await replaySession(journal, id, {}, realmsOf(journal))).toEqual(full.result);
    }
    expect(responses).toBeGreaterThan(bankSessions.length / 2);
  });

  it('report a response that differs as a divergence at the response step, the object the result holds', async () => {
    const dir = copyJournal(bank.dir, tmp('tampered'));
    const target = records(dir).find((r) => r.record.kind === 'response' && r.record.session === committedTransfers[0])!;
    const body = (target.record as ResponseRecord).body;
    tamper(dir, target.position, (payload) => {
      const i = payload.indexOf(Buffer.from(body));
      payload[i + Math.floor(body.byteLength / 2)] ^= 0x01;
    });
    const access = openJournal(dir);
    try {
      const full = await observe(access, committedTransfers[0]);
      const step = sessionRecords(dir, committedTransfers[0]).findIndex((r) => r.position === target.position);
      expect(full.result.equal).toBe(false);
      expect(full.divergences).toHaveLength(1);
      const [{ divergence, attempt }] = full.divergences;
      expect(divergence).toBe(full.result.divergence);
      expect(divergence).toMatchObject({ kind: 'response', step, position: target.position });
      expect(attempt).toBe(sessionRecords(dir, committedTransfers[0])[step].attempt);
      // The response step is reported too, with what the replay rendered: the untampered body.
      const response = full.steps.find((s) => s.kind === 'response')!;
      expect(response.step).toBe(step);
      expect(response.actual).toEqual(divergence.actual);
      expect(divergence.expected).not.toEqual(divergence.actual);
      expect(full.ends).toEqual([full.result]);
      // The stepper sees the same at that step.
      const state = await Stepper.open(access, committedTransfers[0], { realms: realmsOf(access) }).goto(step);
      expect(state).toMatchObject({ verdict: 'diverged', divergence, actual: divergence.actual });
    } finally {
      access.close();
    }
  });

  it('report a missing step (code that skips the notify call) at the step of the call it no longer makes', async () => {
    const source = fs.readFileSync(BANK_APP, 'utf8');
    const withoutNotify = source.replace(/await ctx\.call\('notify'[\s\S]*?\}, \{ account: from, transfer: id \}\);/, '');
    expect(withoutNotify.length).toBeLessThan(source.length - 100);
    const code = path.join(tmp('no-notify'), 'app.ts');
    fs.writeFileSync(code, withoutNotify);
    const id = committedTransfers[0];
    const full = await observe(journal, id, { code });
    const own = sessionRecords(bank.dir, id);
    const notify = own.findIndex((r) => r.record.kind === 'call-start' && (r.record as CallStartRecord).name === 'notify');
    expect(notify).toBeGreaterThan(0);
    expect(full.divergences.map((d) => d.divergence)).toEqual([full.result.divergence]);
    expect(full.result.divergence).toMatchObject({ kind: 'missing-step', step: notify, position: own[notify].position, location: null });
    expect(full.divergences[0].attempt).toBe(own[notify].attempt);
    // Stopped at the divergence: no response step.
    expect(full.steps.some((s) => s.kind === 'response')).toBe(false);
    expect(full.ends).toEqual([full.result]);
  });

  it('number an extra step right after the furthest step reached, the same with and without an observer', async () => {
    // bank-refactor asks for one more Date.now() in transfer: an extra step under --strict.
    const id = committedTransfers[0];
    const full = await observe(journal, id, { code: BANK_REFACTOR_APP, strict: true });
    const divergence = full.result.divergence!;
    expect(divergence.kind).toBe('extra-step');
    expect(divergence.position).toBeNull();
    const [{ divergence: reported, attempt }] = full.divergences;
    expect(reported).toBe(divergence);
    // The furthest own step of that attempt reported before the divergence, plus one.
    const own = sessionRecords(bank.dir, id);
    const before = full.steps.filter((s) => !s.inherited && s.attempt === attempt).map((s) => s.step);
    expect(before.length).toBeGreaterThan(0);
    expect(divergence.step).toBe(Math.max(...before) + 1);
    expect(divergence.step).toBeLessThan(own.length);
    // The CLI (no observer) numbers it the same.
    const run = replay(['run', String(id), '--json', '--strict', '--code', BANK_REFACTOR_APP, '-j', bank.dir]);
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.json.divergence).toMatchObject({ kind: 'extra-step', step: divergence.step });
    // And the stepper shows it at that step.
    const state = await Stepper.open(journal, id, { code: BANK_REFACTOR_APP, strict: true, realms: realmsOf(journal) }).goto(divergence.step);
    expect(state.verdict).toBe('diverged');
    expect(state.divergence).toEqual(divergence);
  });
});
