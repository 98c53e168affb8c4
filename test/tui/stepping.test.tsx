import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Divergence } from '../../src/executor/types.js';
import type { JournalRecord } from '../../src/model/records.js';
import { RealmCache, replaySession, type ReplayStep } from '../../src/replay/engine.js';
import { openJournal } from '../../src/services/journal-access.js';
import { TuiData, type ReplayTrace, type StepView, type TuiSource } from '../../src/services/tui-data.js';
import { tempDirs } from '../helpers/cli.js';
import { BANK_CHANGED_APP, recordBankJournal, type BankJournal } from './fixture.js';
import { lineWith, renderTui, type Rendered } from './render.js';
import { alive, steps as sampleSteps, stepView, trace, transferRows, txView } from './samples.js';

// Stepping in the TUI goes through the stepping API: each move asks the
// source to re-execute the session up to the cursor's step (stepTo), and the
// diff pane shows that state. Checked against what the replay engine itself
// observes in a full replay (replaySession) and against the journal's
// records, over a journal the real server recorded; and, with a source whose
// moves the test holds, that a held key never queues a move per repeat.

const tmp = tempDirs('windback-tui-stepping');
let journal: BankJournal;
let data: TuiData;
let whatIf: TuiData;
let records: JournalRecord[];
const mounted: Rendered[] = [];

/** What a full replay of session 5 observed, per step: its own step event, its divergence. */
interface Observed {
  steps: ReplayStep[];
  divergences: Divergence[];
}
let recorded: Observed;
let changed: Observed;

async function observe(code?: string): Promise<Observed> {
  const access = openJournal(journal.dir);
  const realms = new RealmCache();
  const out: Observed = { steps: [], divergences: [] };
  try {
    await replaySession(access, journal.transfer.session, { code, observer: { step: (s) => out.steps.push(s), divergence: (d) => out.divergences.push(d) } }, realms);
  } finally {
    realms.close();
    access.close();
  }
  return out;
}

beforeAll(async () => {
  journal = await recordBankJournal(tmp());
  data = TuiData.open({ journal: journal.dir });
  whatIf = TuiData.open({ journal: journal.dir, code: BANK_CHANGED_APP });
  const access = openJournal(journal.dir);
  try {
    records = access.reader.sessionRecords(access.catalog.session(journal.transfer.session)!.lastPosition).map((r) => r.record);
  } finally {
    access.close();
  }
  recorded = await observe();
  changed = await observe(BANK_CHANGED_APP);
}, 120_000);

afterAll(() => {
  data?.close();
  whatIf?.close();
});

afterEach(() => {
  while (mounted.length) mounted.pop()!.unmount();
});

/** A source that hands everything to `inner`, noting every step move asked of it. */
function spy(inner: TuiData, change: Partial<TuiSource> = {}): TuiSource & { moves: number[] } {
  const moves: number[] = [];
  return {
    journal: inner.journal,
    code: inner.code,
    debugger: null,
    range: () => inner.range(),
    tx: (tx) => inner.tx(tx),
    alive: (tx) => inner.alive(tx),
    resolveTx: (text) => inner.resolveTx(text),
    txForSession: (session) => inner.txForSession(session),
    steps: (session) => inner.steps(session),
    replay: (session, listener, options) => inner.replay(session, listener, options),
    stepTo: (session, step) => {
      moves.push(step);
      return inner.stepTo(session, step);
    },
    close: () => {},
    moves,
    ...change,
  };
}

function start(source: TuiSource, props: Parameters<typeof renderTui>[1]): Rendered {
  const r = renderTui(source, props);
  mounted.push(r);
  return r;
}

const COMPARED = new Set(['value', 'call-start', 'call-result', 'write-tx', 'read-tx', 'checkpoint', 'response']);
const BIG = { columns: 160, rows: 80 };
const diffAt = (k: number) => (f: string): boolean => new RegExp(`[┃│] Diff · step ${k} `).test(f) || new RegExp(`[━─] Diff · step ${k} `).test(f);

/** Step of the held fraud check: the cursor's step at tx 7, while it waited. */
const atScore = (): number => records.findIndex((r) => r.kind === 'call-start');
/** Step of the transfer's transaction (tx 8). */
const atTx = (): number => records.findIndex((r) => r.kind === 'write-tx');

/** The diff pane at step k says what the full replay observed there, and the journal's checkpoint in force. */
function expectStep(frame: string, k: number, observed: Observed): void {
  const kind = records[k].kind;
  const header = lineWith(frame, new RegExp(`[│┃] step ${k} ${kind} `));
  expect(header, `the diff's header for step ${k}`).toBeDefined();
  const own = observed.steps.find((s) => s.step === k && !s.inherited);
  const divergence = observed.divergences.find((d) => d.step === k);
  const verdict = divergence ? '✗ DIVERGED' : own ? '✓ equal' : COMPARED.has(kind) ? '○ not reached' : '· not compared';
  expect(header, `step ${k}`).toContain(verdict);
  const location = own?.location ?? divergence?.location ?? null;
  if (location) expect(header).toContain(`app.ts:${location.line}:${location.column}`);
  if (divergence) expect(frame).toContain(`✗ ${divergence.message}`);
  // The journal's latest checkpoint at or before k (a checkpoint's own state is the diff itself).
  let checkpoint = -1;
  for (let i = 0; i <= k; i++) if (records[i].kind === 'checkpoint') checkpoint = i;
  if (checkpoint >= 0 && checkpoint !== k) {
    const label = (records[checkpoint] as { label: string }).label;
    expect(frame).toContain(`checkpoint "${label}" (step ${checkpoint}) in force here`);
  } else if (checkpoint < 0 && kind !== 'session-start') {
    // Before the app's first checkpoint (none is journaled before the handler): from the start.
    expect(frame).toContain('no checkpoint in force here: the session runs from its start');
  } else {
    expect(frame).not.toContain('in force here');
  }
}

describe('stepping through the stepping API', () => {
  it('every move, forward and back, shows the re-executed state at the step, as a full replay observes it', async () => {
    const source = spy(data);
    const r = start(source, { session: journal.transfer.session, tx: 7, size: BIG });
    expect(atScore()).toBe(4);
    await r.waitFor((f) => /replays equal/.test(f) && diffAt(atScore())(f), 'the replay, at the fraud check');
    expectStep(r.frame(), atScore(), recorded);
    await r.press('home', diffAt(0));
    const last = records.length - 1;
    for (let k = 1; k <= last; k++) {
      const frame = await r.press(k % 2 ? 'n' : 'down', diffAt(k));
      expectStep(frame, k, recorded);
      expect(source.moves[source.moves.length - 1]).toBe(k);
    }
    for (let k = last - 1; k >= 0; k--) {
      const frame = await r.press(k % 2 ? 'p' : 'up', diffAt(k));
      expectStep(frame, k, recorded);
      expect(source.moves[source.moves.length - 1]).toBe(k);
    }
    const end = await r.press('end', diffAt(last));
    expectStep(end, last, recorded);
  });

  it('with the changed code: equal before the transaction, diverged at it, not reached after, wherever the moves come from', async () => {
    const r = start(spy(whatIf), { session: journal.transfer.session, tx: 7, size: BIG });
    await r.waitFor((f) => /diverges at/.test(f) && diffAt(atScore())(f), 'the what-if replay');
    const at = changed.divergences[0].step;
    expect(records[at].kind).toBe('write-tx');
    await r.press('c', diffAt(at));
    expectStep(r.frame(), at, changed);
    for (const [key, k] of [['n', at + 1], ['end', records.length - 1], ['up', records.length - 2], ['home', 0]] as const) {
      expectStep(await r.press(key, diffAt(k)), k, changed);
    }
    for (let k = 1; k <= at; k++) expectStep(await r.press('n', diffAt(k)), k, changed);
  });

  it('the diff does not wait for the full replay: it shows the stepper state while the steps are still replaying', async () => {
    // A full replay that never reports anything: the steps pane stays "replaying…".
    const source = spy(data, { replay: () => new Promise<ReplayTrace>(() => {}) });
    const r = start(source, { session: journal.transfer.session, tx: 8, size: BIG });
    expect(atTx()).toBe(9);
    const frame = await r.waitFor(diffAt(atTx()), 'the step of tx 8');
    expect(frame).toMatch(/Steps · #5 transfer · replaying… 0 steps/);
    expect(lineWith(frame, '▸ 9')).toMatch(/▸ 9 … tx/);
    expectStep(frame, 9, recorded);
    expectStep(await r.press('p', diffAt(8)), 8, recorded);
  });
});

// ---- key repeat, against a source whose moves the test releases -----------------------------

interface Gated {
  source: TuiSource;
  moves: number[];
  /** Answer the oldest held move. */
  release(): void;
  held(): number;
  hold: boolean;
}

function gatedSource(): Gated {
  const rows = transferRows();
  const gates: (() => void)[] = [];
  const moves: number[] = [];
  const gated: Gated = {
    moves,
    hold: false,
    release: () => gates.shift()!(),
    held: () => gates.length,
    source: {
      journal: '/journal',
      code: null,
      range: () => ({ first: 1, last: 10 }),
      tx: (tx) => txView(tx, rows[7].position),
      alive: () => alive(),
      resolveTx: (text) => Number(text),
      txForSession: () => 8,
      steps: () => sampleSteps(rows),
      replay: async () => trace(rows),
      stepTo: (_session, step) => {
        moves.push(step);
        const state: StepView = stepView(rows, step);
        if (!gated.hold) return Promise.resolve(state);
        return new Promise((resolve) => gates.push(() => resolve(state)));
      },
      close: () => {},
    },
  };
  return gated;
}

const cursorAt = (n: number) => (f: string): boolean => f.includes(` · ${n}/10 `) || f.includes(` · ${n}/10━`) || f.includes(` · ${n}/10─`);

async function until(check: () => boolean, what: string): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > 15_000) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('key repeat', () => {
  it('moves the cursor at once, keeps the previous diff until the new state arrives, and re-executes only the latest target', async () => {
    const g = gatedSource();
    const r = start(g.source, { session: 5, tx: 8 });
    await r.waitFor((f) => /replays equal/.test(f) && diffAt(7)(f), 'step 7');
    expect(g.moves).toEqual([7]);

    g.hold = true;
    // Eleven repeats of ↓ and ↑ while the first move is held: each moves the cursor and draws.
    const keys = ['down', 'down', 'down', 'up', 'down', 'down', 'up', 'up', 'down', 'up', 'down'] as const;
    let cursor = 7;
    for (const key of keys) {
      cursor = Math.min(10, Math.max(0, cursor + (key === 'down' ? 1 : -1)));
      r.send(key);
      const frame = await r.waitFor(cursorAt(cursor), `the cursor at ${cursor}`, { unsettled: true });
      // The diff still shows step 7's state, saying where the cursor went.
      expect(frame).toContain(`Diff · step 7 write-tx · → step ${cursor}…`);
      expect(frame).toContain('rows tx 8 changed');
    }
    expect(cursor).toBe(9);
    // Only the first repeat's move started; it is held.
    expect(g.moves).toEqual([7, 8]);
    expect(g.held()).toBe(1);

    // Its answer is stale: dropped, and the latest target runs next, once.
    g.release();
    await until(() => g.moves.length === 3, 'the next move');
    expect(g.moves).toEqual([7, 8, 9]);
    expect(r.frame()).toContain('Diff · step 7 write-tx · → step 9…');
    g.release();
    const frame = await r.waitFor(diffAt(9));
    expect(frame).toContain('Diff · step 9 response');
    expect(frame).toContain('replayed: identical to the recording');
    expect(g.moves).toEqual([7, 8, 9]);
  });

  it('asks nothing again when the cursor comes back to the step being re-executed', async () => {
    const g = gatedSource();
    const r = start(g.source, { session: 5, tx: 8 });
    await r.waitFor(diffAt(7), 'step 7');
    g.hold = true;
    r.send('down');
    await r.waitFor(cursorAt(8), 'the cursor at 8', { unsettled: true });
    r.send('down');
    await r.waitFor(cursorAt(9), 'the cursor at 9', { unsettled: true });
    r.send('up');
    await r.waitFor(cursorAt(8), 'the cursor back at 8', { unsettled: true });
    g.hold = false;
    g.release();
    const frame = await r.waitFor(diffAt(8));
    expect(frame).toContain('Diff · step 8 checkpoint');
    expect(g.moves).toEqual([7, 8]);
  });

  it('says why when a move fails, and the next move recovers', async () => {
    const g = gatedSource();
    const failing: TuiSource = {
      ...g.source,
      stepTo: (session, step) => (step === 8 ? Promise.reject(new Error('step 8 is out of range: boom')) : g.source.stepTo(session, step)),
    };
    const r = start(failing, { session: 5, tx: 8 });
    await r.waitFor(diffAt(7), 'step 7');
    let frame = await r.press('n', diffAt(8));
    expect(frame).toContain('✗ cannot re-execute to this step: step 8 is out of range: boom');
    frame = await r.press('n', diffAt(9));
    expect(frame).not.toContain('cannot re-execute');
  });
});
