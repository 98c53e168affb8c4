import { describe, expect, it } from 'vitest';
import { buildView, cursorAtPosition, initialState, inScope, reducer, visibleSessions, type Action, type TuiState } from '../../src/tui/state.js';
import { shownStep } from '../../src/tui/diff.js';
import { alive, responseEvent, stepEvents, steps, stepView, trace, transferRows, txDivergence, txView } from './samples.js';

// The reducer on its own: every transition the keys and the data hooks cause.

const range = { first: 1, last: 10 };

function run(state: TuiState, ...actions: Action[]): TuiState {
  return actions.reduce(reducer, state);
}

/** Wound to tx 8 with the sessions alive there, session 5 selected and fully replayed. */
function replayed(options: Parameters<typeof trace>[1] = {}): TuiState {
  const rows = transferRows();
  let s = initialState({ range, tx: 8, session: 5 });
  s = run(s, { type: 'tx-loaded', view: txView(8, rows[7].position), alive: alive() }, { type: 'steps-loaded', session: 5, steps: steps(rows) });
  return run(s, { type: 'replay-done', session: 5, run: s.steps!.trace.run, trace: trace(rows, options) });
}

describe('initial state', () => {
  it('starts at the last transaction with Sessions focused, or at the given tx with the given session in Steps', () => {
    const plain = initialState({ range });
    expect(plain).toMatchObject({ tx: 10, focus: 'sessions', steps: null, overlay: null });
    const given = initialState({ range, tx: 4, session: 5 });
    expect(given).toMatchObject({ tx: 4, focus: 'steps', steps: { session: 5, rows: null } });
  });

  it('--session puts the sessions cursor on that session, not on the first one alive', () => {
    const s = run(initialState({ range, tx: 8, session: 6 }), { type: 'tx-loaded', view: txView(8), alive: alive() });
    expect(visibleSessions(s)[s.sessions.cursor].id).toBe(6);
    // Tab back to Sessions and Enter: the same session, not another replay.
    const again = run(s, { type: 'focus', pane: 'sessions' }, { type: 'select-session' });
    expect(again.steps).toBe(s.steps);
  });

  it('moves made while the session is still being read are made once it is (Enter, then ↓ ↓ at once)', () => {
    const rows = transferRows();
    let s = run(initialState({ range, tx: 8 }), { type: 'tx-loaded', view: txView(8, rows[7].position), alive: alive() }, { type: 'select-session' });
    s = run(s, { type: 'step-move', delta: 1 }, { type: 'step-move', delta: 1 });
    expect(s.message).toBeNull();
    s = run(s, { type: 'steps-loaded', session: 5, steps: steps(rows) });
    expect(s.steps).toMatchObject({ cursor: 9, deferred: [] });
  });

  it('clamps a tx outside the journal, and is at tx 0 for a journal without transactions', () => {
    expect(initialState({ range, tx: 99 }).tx).toBe(10);
    expect(initialState({ range: { first: 0, last: 0 } }).tx).toBe(0);
  });
});

describe('focus', () => {
  it('cycles Timeline → Sessions → Steps → Diff with Tab, and back with Shift-Tab', () => {
    let s = initialState({ range });
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      s = reducer(s, { type: 'focus-next' });
      seen.push(s.focus);
    }
    expect(seen).toEqual(['steps', 'diff', 'timeline', 'sessions']);
    expect(reducer(s, { type: 'focus-prev' }).focus).toBe('timeline');
  });
});

describe('winding the timeline', () => {
  it('moves one transaction at a time and stops at either end with a message', () => {
    let s = initialState({ range, tx: 2 });
    s = run(s, { type: 'tx-move', delta: -1 });
    expect(s.tx).toBe(1);
    s = run(s, { type: 'tx-move', delta: -1 });
    expect(s.tx).toBe(1);
    expect(s.message?.text).toBe('tx 1 is the first transaction');
    s = run(s, { type: 'tx-set', tx: 10 }, { type: 'tx-move', delta: 1 });
    expect(s.tx).toBe(10);
    expect(s.message?.text).toBe('tx 10 is the last transaction');
  });

  it('ignores the data of a transaction it has since moved away from', () => {
    let s = initialState({ range, tx: 8 });
    s = run(s, { type: 'tx-move', delta: 1 }, { type: 'tx-loaded', view: txView(8), alive: alive() });
    expect(s.txView).toBeNull();
    s = reducer(s, { type: 'tx-loaded', view: txView(9), alive: [] });
    expect(s.txView?.tx).toBe(9);
  });

  it("keeps the sessions cursor on the same session when it is still alive, and moves the selected session's cursor to the same moment", () => {
    const rows = transferRows();
    let s = run(initialState({ range, tx: 8 }), { type: 'tx-loaded', view: txView(8), alive: alive() }, { type: 'session-move', delta: 1 });
    expect(visibleSessions(s)[s.sessions.cursor].id).toBe(6);
    s = run(s, { type: 'tx-move', delta: -1 }, { type: 'tx-loaded', view: txView(7), alive: alive().slice(1) });
    expect(visibleSessions(s)[s.sessions.cursor].id).toBe(6);

    s = run(s, { type: 'select-session', session: 5 }, { type: 'steps-loaded', session: 5, steps: steps(rows) });
    s = run(s, { type: 'tx-move', delta: 1 }, { type: 'tx-loaded', view: txView(8, rows[7].position), alive: alive() });
    expect(s.steps!.cursor).toBe(7);
    s = run(s, { type: 'tx-move', delta: -1 }, { type: 'tx-loaded', view: txView(7, rows[3].position + 50), alive: alive() });
    expect(s.steps!.cursor).toBe(3);
  });

  it('a go-to prompt collects text, is pending once submitted, shows an error, and closes when it winds', () => {
    let s = run(initialState({ range, tx: 3 }), { type: 'goto-open' }, { type: 'goto-type', text: '1' }, { type: 'goto-type', text: 'x' }, { type: 'goto-backspace' });
    expect(s.overlay).toEqual({ kind: 'goto', text: '1', error: null, pending: false });
    s = run(s, { type: 'goto-type', text: 'x' }, { type: 'goto-submit' });
    expect(s.overlay).toEqual({ kind: 'goto', text: '1x', error: null, pending: true });
    s = reducer(s, { type: 'goto-error', message: 'tx 1x is out of range' });
    expect(s.overlay).toEqual({ kind: 'goto', text: '1x', error: 'tx 1x is out of range', pending: false });
    s = reducer(s, { type: 'tx-set', tx: 7 });
    expect(s).toMatchObject({ tx: 7, overlay: null });
  });
});

describe('keys in their scope', () => {
  const loaded = (): TuiState => run(initialState({ range, tx: 8 }), { type: 'tx-loaded', view: txView(8), alive: alive() });
  const scoped = (scope: Parameters<typeof inScope>[1], action: Action): Action => ({ type: 'scoped', scope, action });

  it('applies a key only where it was meant to go, as the state is when it lands', () => {
    let s = loaded();
    expect(inScope(s, 'global')).toBe(true);
    expect(inScope(s, 'sessions')).toBe(true);
    expect(inScope(s, 'steps')).toBe(false);
    // ↓ meant for Steps, landing after focus moved back: dropped.
    expect(reducer(s, scoped('steps', { type: 'step-move', delta: 1 }))).toBe(s);
    s = run(s, scoped('sessions', { type: 'sessions-text', text: '/' }));
    expect(s.sessions.editing).toBe(true);
    // `n` handled by a handler that had not seen the filter open yet: not a step.
    expect(reducer(s, scoped('global', { type: 'step-move', delta: 1 }))).toBe(s);
    s = run(s, { type: 'goto-open' });
    expect(inScope(s, 'goto')).toBe(true);
    expect(inScope(s, 'sessions')).toBe(false);
  });

  it('one key, one meaning: `g` then `7` typed in one go opens the prompt and types 7 into it', () => {
    const key = (ch: string): Action => ({
      type: 'first-in-scope',
      actions: [
        ...(ch === 'g' ? [{ scope: 'global' as const, action: { type: 'goto-open' } as Action }] : []),
        { scope: 'goto', action: { type: 'goto-type', text: ch } },
      ],
    });
    const s = run(loaded(), key('g'), key('7'));
    expect(s.overlay).toEqual({ kind: 'goto', text: '7', error: null, pending: false });
  });

  it('Enter, Esc, backspace and text in Sessions mean filter keys while it is typed, else select and clear', () => {
    let s = run(loaded(), scoped('sessions', { type: 'sessions-text', text: '/dex' }), scoped('sessions', { type: 'sessions-backspace' }));
    expect(s.sessions).toMatchObject({ editing: true, filter: 'de' });
    s = run(s, scoped('sessions', { type: 'sessions-enter' }));
    expect(s.sessions).toMatchObject({ editing: false, filter: 'de' });
    expect(s.steps).toBeNull();
    s = run(s, scoped('sessions', { type: 'sessions-backspace' }), scoped('sessions', { type: 'sessions-text', text: 'x' }));
    expect(s.sessions.filter).toBe('de');
    s = run(s, scoped('sessions', { type: 'sessions-enter' }));
    expect(s.steps?.session).toBe(6);
    s = run(s, { type: 'focus', pane: 'sessions' }, scoped('sessions', { type: 'sessions-escape' }));
    expect(s.sessions.filter).toBe('');
    s = run(s, scoped('sessions', { type: 'sessions-text', text: '/tra\r' }));
    expect(s.sessions).toMatchObject({ editing: false, filter: 'tra' });
  });
});

describe('the sessions pane', () => {
  it('filters by id, kind, status or checkpoint, and clears with cancel', () => {
    let s = run(initialState({ range, tx: 8 }), { type: 'tx-loaded', view: txView(8), alive: alive() }, { type: 'filter-start' });
    expect(s.sessions.editing).toBe(true);
    s = run(s, { type: 'filter-type', text: 'dep' });
    expect(visibleSessions(s).map((x) => x.id)).toEqual([6]);
    s = run(s, { type: 'filter-backspace' }, { type: 'filter-backspace' }, { type: 'filter-backspace' }, { type: 'filter-type', text: 'err' }, { type: 'filter-accept' });
    expect(visibleSessions(s).map((x) => x.id)).toEqual([7]);
    expect(s.sessions.editing).toBe(false);
    s = run(s, { type: 'filter-start' }, { type: 'filter-backspace' }, { type: 'filter-backspace' }, { type: 'filter-backspace' }, { type: 'filter-type', text: 'valid' });
    expect(visibleSessions(s).map((x) => x.id)).toEqual([5]);
    s = reducer(s, { type: 'filter-cancel' });
    expect(visibleSessions(s)).toHaveLength(3);
  });

  it('moves within the list and selects the session under the cursor, focusing Steps', () => {
    let s = run(initialState({ range, tx: 8 }), { type: 'tx-loaded', view: txView(8), alive: alive() }, { type: 'session-move', delta: 5 });
    expect(s.sessions.cursor).toBe(2);
    s = run(s, { type: 'session-move', delta: -1 }, { type: 'select-session' });
    expect(s).toMatchObject({ focus: 'steps', steps: { session: 6, rows: null } });
  });

  it('says so when there is nothing to select', () => {
    const s = run(initialState({ range, tx: 8 }), { type: 'tx-loaded', view: txView(8), alive: [] }, { type: 'select-session' });
    expect(s.steps).toBeNull();
    expect(s.message?.text).toMatch(/no session/);
  });
});

describe('replaying a session', () => {
  it('marks steps equal as the engine reports them, pending until then, and the response equal once done', () => {
    const rows = transferRows();
    let s = run(initialState({ range, tx: 8, session: 5 }), { type: 'steps-loaded', session: 5, steps: steps(rows) });
    const runId = s.steps!.trace.run;
    expect(s.steps!.view.map((v) => v.verdict)).toEqual(['info', 'pending', 'pending', 'pending', 'pending', 'pending', 'pending', 'pending', 'pending', 'pending', 'info']);
    s = reducer(s, { type: 'replay-events', session: 5, run: runId, events: stepEvents(rows, 3) });
    expect(s.steps!.view.slice(1, 5).map((v) => v.verdict)).toEqual(['equal', 'equal', 'equal', 'pending']);
    s = reducer(s, { type: 'replay-done', session: 5, run: runId, trace: trace(rows) });
    expect(s.steps!.view.map((v) => v.verdict)).toEqual(['info', 'equal', 'equal', 'equal', 'equal', 'equal', 'equal', 'equal', 'equal', 'equal', 'info']);
    expect(s.steps!.view[2].location).toBe('app.ts:12:3');
  });

  it('marks the diverging step, leaves the steps after it not reached, and the response not reached', () => {
    const rows = transferRows();
    const s = replayed({ divergence: txDivergence(rows), until: 6 });
    const verdicts = s.steps!.view.map((v) => v.verdict);
    expect(verdicts[7]).toBe('diverged');
    expect(verdicts.slice(8, 10)).toEqual(['not-reached', 'not-reached']);
    expect(s.steps!.view[7].divergence?.message).toBe('transaction 8 wrote different rows');
  });

  it('shows a step the journal does not hold as an extra row after the last step reached', () => {
    const rows = transferRows();
    // The engine numbers it where it would stand: after the furthest step reached (3).
    const extra = { step: 4, position: null, kind: 'extra-step', message: 'a write transaction that is not in the journal', expected: null, actual: { kind: 'tx' }, location: 'app.ts:99:1', construct: null };
    const view = buildView(rows, { events: [...stepEvents(rows, 3), { type: 'divergence', attempt: 1, divergence: extra }], done: true });
    expect(view).toHaveLength(rows.length + 1);
    expect(view[4]).toMatchObject({ row: null, kind: 'extra-step', verdict: 'diverged' });
    expect(view[5].row?.index).toBe(4);
  });

  it('drops events from an earlier run of the same session and from another session', () => {
    const rows = transferRows();
    let s = run(initialState({ range, tx: 8, session: 5 }), { type: 'steps-loaded', session: 5, steps: steps(rows) });
    const first = s.steps!.trace.run;
    s = reducer(s, { type: 'rerun' });
    s = reducer(s, { type: 'replay-events', session: 5, run: first, events: stepEvents(rows) });
    s = reducer(s, { type: 'replay-events', session: 6, run: s.steps!.trace.run, events: stepEvents(rows) });
    expect(s.steps!.view.filter((v) => v.verdict === 'equal')).toHaveLength(0);
  });

  it('reports a failed replay and keeps the steps', () => {
    const s = replayed({ error: 'no bundle for code version abc' });
    expect(s.message).toEqual({ text: 'replay failed: no bundle for code version abc', tone: 'error' });
    expect(s.steps!.view).toHaveLength(11);
  });

  it('starts with the cursor at the moment the timeline is wound to, and a re-run keeps it where it is', () => {
    const rows = transferRows();
    let s = replayed();
    expect(s.steps!.cursor).toBe(7);
    s = run(s, { type: 'step-move', delta: 2 }, { type: 'rerun' }, { type: 'steps-loaded', session: 5, steps: steps(rows) });
    expect(s.steps!.cursor).toBe(9);
    expect(s.steps!.trace).toMatchObject({ done: false, fresh: true });
    expect(s.steps!.view[9].verdict).toBe('pending');
  });
});

describe('stepping', () => {
  it('steps forward and back within the steps, stopping at either end', () => {
    let s = replayed();
    s = run(s, { type: 'step-move', delta: 1 }, { type: 'step-move', delta: 1 });
    expect(s.steps!.cursor).toBe(9);
    s = run(s, { type: 'step-move', delta: 5 });
    expect(s.steps!.cursor).toBe(10);
    s = run(s, { type: 'step-edge', edge: 'first' }, { type: 'step-move', delta: -1 });
    expect(s.steps!.cursor).toBe(0);
  });

  it('c runs to the next checkpoint or divergence, then to the end', () => {
    const rows = transferRows();
    let s = run(replayed({ divergence: txDivergence(rows), until: 6 }), { type: 'step-edge', edge: 'first' });
    const stops: number[] = [];
    for (let i = 0; i < 4; i++) {
      s = reducer(s, { type: 'continue' });
      stops.push(s.steps!.cursor);
    }
    expect(stops).toEqual([1, 3, 7, 10]);
    expect(s.message?.text).toMatch(/no divergence or checkpoint ahead/);
  });

  it('asks for a session first when none is selected', () => {
    const s = reducer(initialState({ range }), { type: 'step-move', delta: 1 });
    expect(s.message?.text).toMatch(/select a session first/);
  });

  it('resets the diff scroll on every step and clamps it to what there is', () => {
    let s = run(replayed(), { type: 'diff-scroll', delta: 3, max: 5 });
    expect(s.diffScroll).toBe(3);
    s = run(s, { type: 'diff-scroll', delta: 10, max: 5 });
    expect(s.diffScroll).toBe(5);
    s = run(s, { type: 'step-move', delta: 1 });
    expect(s.diffScroll).toBe(0);
  });
});

describe('overlays', () => {
  it('opens the step view, scrolls it within bounds, and closes it', () => {
    let s = run(replayed(), { type: 'open-detail' }, { type: 'overlay-scroll', delta: 4, max: 10 }, { type: 'overlay-scroll', delta: 40, max: 10 });
    expect(s.overlay).toEqual({ kind: 'detail', scroll: 10 });
    s = run(s, { type: 'overlay-scroll', delta: -Infinity, max: 10 });
    expect(s.overlay).toEqual({ kind: 'detail', scroll: 0 });
    expect(reducer(s, { type: 'close-overlay' }).overlay).toBeNull();
  });

  it('toggles the help, and refuses the step view without a session', () => {
    const s = reducer(initialState({ range }), { type: 'help' });
    expect(s.overlay).toEqual({ kind: 'help', scroll: 0 });
    expect(reducer(s, { type: 'help' }).overlay).toBeNull();
    expect(reducer(initialState({ range }), { type: 'open-detail' }).overlay).toBeNull();
  });

  it('quits', () => {
    expect(reducer(initialState({ range }), { type: 'quit' }).quitting).toBe(true);
  });
});

describe("the engine's event stream", () => {
  it('the end event completes the replay and gives its verdict before replay-done arrives', () => {
    const rows = transferRows();
    let s = run(initialState({ range, tx: 8, session: 5 }), { type: 'steps-loaded', session: 5, steps: steps(rows) });
    const runId = s.steps!.trace.run;
    s = reducer(s, { type: 'replay-events', session: 5, run: runId, events: [...stepEvents(rows), responseEvent(rows)] });
    expect(s.steps!.trace.done).toBe(false);
    expect(s.steps!.view[9].verdict).toBe('equal');
    s = reducer(s, { type: 'replay-events', session: 5, run: runId, events: [{ type: 'end', equal: true, steps: 9 }] });
    expect(s.steps!.trace).toMatchObject({ done: true, equal: true });
  });

  it('the response is equal when its step came, not reached when the replay ended without it', () => {
    const rows = transferRows();
    const reached = buildView(rows, { events: [...stepEvents(rows), responseEvent(rows), { type: 'end', equal: true, steps: 9 }], done: false });
    expect(reached[9]).toMatchObject({ verdict: 'equal', actual: { status: 200, body: { id: 'tr_1', balance: 400 } } });
    const ended = buildView(rows, { events: [...stepEvents(rows, 6), { type: 'end', equal: false, steps: 6 }], done: false });
    expect(ended[9].verdict).toBe('not-reached');
    expect(buildView(rows, { events: stepEvents(rows, 6), done: false })[9].verdict).toBe('pending');
  });

  it("a later attempt's inherited copy of a step does not replace the attempt's own", () => {
    const rows = transferRows();
    const own = stepEvents(rows, 3).map((e) => (e.type === 'step' && e.step === 2 ? { ...e, actual: { result: [{ id: 'a', balance: 500 }] } } : e));
    const inherited = stepEvents(rows, 3).map((e) => (e.type === 'step' ? { ...e, attempt: 2, inherited: true, location: 'app.ts:1:1' } : e));
    const view = buildView(rows, { events: [...own, ...inherited], done: false });
    expect(view[2]).toMatchObject({ verdict: 'equal', actual: { result: [{ id: 'a', balance: 500 }] }, location: 'app.ts:12:3' });
    // Inherited steps alone mark nothing reached.
    expect(buildView(rows, { events: inherited, done: false })[2].verdict).toBe('pending');
  });
});

describe("the stepping API's state", () => {
  it('keeps the last state received for the selected session, and drops it with the session', () => {
    const rows = transferRows();
    let s = replayed();
    s = reducer(s, { type: 'step-detail', session: 5, state: stepView(rows, 7) });
    expect(s.steps!.detail).toMatchObject({ step: 7, error: null, state: { index: 7 } });
    expect(reducer(s, { type: 'step-detail', session: 6, state: stepView(rows, 3) })).toBe(s);
    s = reducer(s, { type: 'step-detail-failed', session: 5, step: 8, message: 'boom' });
    expect(s.steps!.detail).toEqual({ step: 8, state: null, error: 'boom' });
    expect(reducer(s, { type: 'rerun' }).steps!.detail).toEqual(s.steps!.detail);
    s = run(s, { type: 'select-session', session: 6 });
    expect(s.steps!.detail).toBeNull();
  });

  it("the diff shows the cursor's state once it came; until then the previous one, or the record alone", () => {
    const rows = transferRows();
    let s = replayed();
    expect(shownStep(s.steps)).toEqual({ index: 7, stepped: 'pending', lag: ' · re-executing…' });
    s = reducer(s, { type: 'step-detail', session: 5, state: stepView(rows, 7) });
    expect(shownStep(s.steps)).toMatchObject({ index: 7, stepped: { step: 7 }, lag: null });
    s = run(s, { type: 'step-move', delta: 2 });
    expect(shownStep(s.steps)).toMatchObject({ index: 7, stepped: { step: 7 }, lag: ' · → step 9…' });
    s = reducer(s, { type: 'step-detail', session: 5, state: stepView(rows, 9) });
    expect(shownStep(s.steps)).toMatchObject({ index: 9, lag: null });
  });

  it('a step the journal does not hold is shown from the full replay alone', () => {
    const rows = transferRows();
    const extra = { step: 4, position: null, kind: 'extra-step', message: 'an extra transaction', expected: null, actual: { kind: 'tx' }, location: 'app.ts:99:1', construct: null };
    let s = run(initialState({ range, tx: 8, session: 5 }), { type: 'steps-loaded', session: 5, steps: steps(rows) });
    s = reducer(s, { type: 'replay-events', session: 5, run: s.steps!.trace.run, events: [...stepEvents(rows, 3), { type: 'divergence', attempt: 1, divergence: extra }] });
    s = run(s, { type: 'step-edge', edge: 'first' }, { type: 'step-move', delta: 4 });
    expect(s.steps!.view[4].row).toBeNull();
    expect(shownStep(s.steps)).toEqual({ index: 4, stepped: undefined, lag: null });
  });
});

describe('cursorAtPosition', () => {
  it('is the last step at or before a position', () => {
    const rows = transferRows();
    expect(cursorAtPosition(rows, 0)).toBe(0);
    expect(cursorAtPosition(rows, rows[4].position)).toBe(4);
    expect(cursorAtPosition(rows, rows[4].position + 1)).toBe(4);
    expect(cursorAtPosition(rows, Number.MAX_SAFE_INTEGER)).toBe(rows.length - 1);
  });
});
