import { afterEach, describe, expect, it } from 'vitest';
import type { DebuggerFeed, DebuggerStatus } from '../../src/services/replay-child.js';
import type { ReplayEvent, ReplayListener, ReplayTrace, TuiSource } from '../../src/services/tui-data.js';
import { DebuggerBar } from '../../src/tui/components/DebuggerBar.js';
import { DebuggerOverlay } from '../../src/tui/components/DebuggerOverlay.js';
import { stepsTitle } from '../../src/tui/components/StepsPane.js';
import { debuggerHelp, debuggerLine, pausedAt, wordWrap } from '../../src/tui/debugger.js';
import { initialState, inScope, reducer, type Action, type TuiState } from '../../src/tui/state.js';
import { ThemeProvider } from '../../src/tui/theme.js';
import { lineWith, renderElement, renderTui, type Rendered } from './render.js';
import { alive, stepEvents, steps, stepView, trace, transferRows, txView } from './samples.js';

// `replay tui --inspect` in the TUI: the debugger's line, the steps pane
// while a debugger holds the replay, the `i` overlay and `R`, through the
// reducer alone and through ink with a scripted debugger feed.

const URL = 'ws://127.0.0.1:9229/86d2fc17-8f1b-4c8e-9d7a-0123456789ab';

function status(change: Partial<DebuggerStatus> = {}): DebuggerStatus {
  return {
    state: 'ready',
    url: URL,
    devtoolsUrl: `devtools://devtools/bundled/js_app.html?experiments=true&v8only=true&ws=${URL.slice(5)}`,
    address: '127.0.0.1:9229',
    session: null,
    at: null,
    function: null,
    atSessionStart: false,
    message: null,
    ...change,
  };
}

const waiting = status({ state: 'waiting' });
const atStart = status({ state: 'paused', session: 5, at: 'windback:session-start.js:3:3', function: 'sessionStart', atSessionStart: true });
const atLine = status({ state: 'paused', session: 5, at: 'fixtures/apps/bank/app.ts:88:11', function: 'transfer' });

const range = { first: 1, last: 10 };

function run(state: TuiState, ...actions: Action[]): TuiState {
  return actions.reduce(reducer, state);
}

/** At tx 8, session 5 selected, its records loaded, the replay not done; `until` steps reported so far. */
function replaying(d: DebuggerStatus | null, until = 3): TuiState {
  const rows = transferRows();
  let s = initialState({ range, tx: 8, session: 5, debugger: d });
  s = run(s, { type: 'tx-loaded', view: txView(8, rows[7].position), alive: alive() }, { type: 'steps-loaded', session: 5, steps: steps(rows) });
  return run(s, { type: 'replay-events', session: 5, run: s.steps!.trace.run, events: stepEvents(rows, until) });
}

describe('the reducer under --inspect', () => {
  it('has no debugger without --inspect, and keeps the one it starts with', () => {
    expect(initialState({ range })).toMatchObject({ debugger: null, resumes: 0 });
    expect(initialState({ range, debugger: waiting }).debugger).toEqual(waiting);
  });

  it('follows the debugger status', () => {
    const s = run(initialState({ range, debugger: status({ state: 'starting', url: null }) }), { type: 'debugger-status', status: waiting }, { type: 'debugger-status', status: atLine });
    expect(s.debugger).toEqual(atLine);
  });

  it('i opens and closes the debugger overlay, which scopes its keys; without --inspect it says how to get one', () => {
    const s = run(initialState({ range, debugger: waiting }), { type: 'debugger-info' });
    expect(s.overlay).toEqual({ kind: 'debugger' });
    expect(inScope(s, 'debugger')).toBe(true);
    expect(inScope(s, 'global')).toBe(false);
    expect(run(s, { type: 'debugger-info' }).overlay).toBeNull();
    expect(run(s, { type: 'scoped', scope: 'debugger', action: { type: 'close-overlay' } }).overlay).toBeNull();
    const none = run(initialState({ range }), { type: 'debugger-info' });
    expect(none.overlay).toBeNull();
    expect(none.message?.text).toMatch(/replay tui --inspect/);
  });

  it('R asks to resume only while the debugger waits or is paused', () => {
    const w = run(initialState({ range, debugger: waiting }), { type: 'debugger-resume' });
    expect(w.resumes).toBe(1);
    expect(w.message?.text).toMatch(/^going on without a debugger/);
    const p = run(initialState({ range, debugger: atLine }), { type: 'debugger-resume' }, { type: 'debugger-resume' });
    expect(p.resumes).toBe(2);
    expect(p.message?.text).toBe('resuming session 5');
    const r = run(initialState({ range, debugger: status({ state: 'running', session: 5 }) }), { type: 'debugger-resume' });
    expect(r.resumes).toBe(0);
    expect(r.message?.text).toBe('the debugger is not paused');
    expect(run(initialState({ range }), { type: 'debugger-resume' }).resumes).toBe(0);
  });

  it('says it in one status line at 80 columns (65 left of "? help  q quit"), never cut', () => {
    const said = [
      run(initialState({ range, debugger: waiting }), { type: 'debugger-resume' }),
      run(initialState({ range }), { type: 'debugger-resume' }),
      run(initialState({ range }), { type: 'debugger-info' }),
      run(initialState({ range, debugger: status({ state: 'running', session: 5 }) }), { type: 'debugger-resume' }),
    ].map((s) => s.message?.text ?? '');
    for (const text of said) expect([...text].length, text).toBeLessThanOrEqual(65);
  });
});

describe('what the TUI says about the debugger', () => {
  it('one line per state, the paused line naming the TypeScript line', () => {
    expect(debuggerLine(status({ state: 'starting', url: null, address: null })).text).toBe('◌ debugger: starting the inspector…');
    expect(debuggerLine(status()).text).toBe('◇ debugger on 127.0.0.1:9229 · replays pause where the session starts · i attach');
    expect(debuggerLine(waiting)).toEqual({ text: '⏸ waiting for a debugger on 127.0.0.1:9229 · i attach · R go on without', tone: 'warn' });
    expect(debuggerLine(status({ state: 'running', session: 5 })).text).toBe('▶ session 5 running under the debugger on 127.0.0.1:9229');
    expect(debuggerLine(atStart).text).toBe('⏸ paused in debugger at the start of session 5 · F11 steps in · F8/R resumes');
    expect(debuggerLine(atLine).text).toBe('⏸ paused in debugger at fixtures/apps/bank/app.ts:88 in transfer · F8/R resumes');
    expect(debuggerLine(status({ state: 'failed', message: 'the replay process exited (SIGKILL)' }))).toEqual({ text: '✗ debugger: the replay process exited (SIGKILL)', tone: 'bad' });
    for (const d of [waiting, atStart, atLine]) expect([...debuggerLine(d).text].length).toBeLessThanOrEqual(80);
  });

  it('drops the column of a paused location', () => {
    expect(pausedAt('src/app.ts:88:11')).toBe('src/app.ts:88');
    expect(pausedAt('node:internal/x')).toBe('node:internal/x');
    expect(pausedAt(null)).toBeNull();
  });

  it('the steps title says when the debugger holds the replay, or which session it is busy with', () => {
    expect(stepsTitle(replaying(atLine).steps, 60, atLine)).toBe('Steps · #5 transfer · ⏸ paused in debugger · 3 steps · 7/10');
    expect(stepsTitle(replaying(waiting).steps, 60, waiting)).toBe('Steps · #5 transfer · waiting for a debugger · 7/10');
    const other = status({ state: 'paused', session: 9, at: 'app.ts:1:1', function: 'f' });
    expect(stepsTitle(replaying(other).steps, 60, other)).toBe('Steps · #5 transfer · queued behind session 9 · 7/10');
    expect(stepsTitle(replaying(status({ state: 'running', session: 5 })).steps, 60, status({ state: 'running', session: 5 }))).toMatch(/replaying… 3 steps/);
    expect(stepsTitle(replaying(atLine).steps, 37, atLine)).toBe('Steps #5 · ⏸ paused · 3 steps · 7/10');
    // Without --inspect, or once the replay is done, the title is the usual one.
    expect(stepsTitle(replaying(null).steps, 60, null)).toMatch(/replaying… 3 steps/);
    const rows = transferRows();
    const done = run(replaying(atLine), { type: 'replay-done', session: 5, run: 1, trace: trace(rows) });
    expect(stepsTitle(done.steps, 60, atLine)).toMatch(/✓ replays equal/);
  });

  it('word-wraps the attach help to the width, cutting only a URL', () => {
    for (const width of [40, 76]) {
      const lines = debuggerHelp(waiting).flatMap((l) => wordWrap(l, width));
      for (const line of lines) expect([...line].length).toBeLessThanOrEqual(width);
      expect(lines.join('')).toContain('devtools://devtools/bundled/js_app.html?experiments=true&v8only=true&ws=127.0.0.1:9229/'.slice(0, 30));
    }
    expect(wordWrap('one two three four', 9)).toEqual(['one two', 'three', 'four']);
    expect(wordWrap('  abcdefghijklmnop', 8)).toEqual(['  abcdef', '  ghijkl', '  mnop']);
  });
});

// --- through ink ------------------------------------------------------------

const mounted: Rendered[] = [];
afterEach(() => {
  while (mounted.length) mounted.pop()!.unmount();
});

class ScriptedFeed implements DebuggerFeed {
  private listeners = new Set<(s: DebuggerStatus) => void>();
  resumed = 0;
  constructor(private current: DebuggerStatus) {}
  status(): DebuggerStatus {
    return this.current;
  }
  subscribe(listener: (s: DebuggerStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  resume(): void {
    this.resumed++;
  }
  set(s: DebuggerStatus): void {
    this.current = s;
    for (const l of this.listeners) l(s);
  }
}

/** The sample journal, with a replay that the test finishes (as the child would once the debugger resumes). */
function scriptedSource(feed: DebuggerFeed): TuiSource & { emit(events: ReplayEvent[]): void; finish(t: ReplayTrace): void } {
  let listener: ReplayListener = {};
  let finish: (t: ReplayTrace) => void = () => {};
  const rows = transferRows();
  return {
    journal: '/journal',
    code: null,
    debugger: feed,
    range: () => range,
    tx: (tx) => txView(tx, rows[7].position),
    alive: () => alive(),
    resolveTx: (text) => Number(text),
    txForSession: () => 8,
    steps: () => steps(rows),
    replay: (_session, l = {}) => {
      listener = l;
      return new Promise<ReplayTrace>((resolve) => (finish = resolve));
    },
    stepTo: async (_session, step) => stepView(rows, step),
    emit: (events) => events.forEach((e) => listener.event?.(e)),
    finish: (t) => finish(t),
    close: () => {},
  };
}

describe('the TUI under --inspect', () => {
  it('shows waiting, then paused at the app.ts line, keeps answering keys while paused, and R resumes', async () => {
    const feed = new ScriptedFeed(waiting);
    const source = scriptedSource(feed);
    const r = renderTui(source, { session: 5, tx: 8 });
    mounted.push(r);
    let frame = await r.waitFor((f) => f.includes('waiting for a debugger on 127.0.0.1:9229'), 'waiting');
    const lines = frame.split('\n');
    expect(lines).toHaveLength(24);
    expect(lines[22]).toBe('⏸ waiting for a debugger on 127.0.0.1:9229 · i attach · R go on without');
    expect(lines[23]).toMatch(/\? help {2}q quit$/);
    expect(frame).toMatch(/Steps #5 · waiting · 7\/10/);

    const rows = transferRows();
    source.emit(stepEvents(rows, 5));
    feed.set(atLine);
    // The TUI hands events on a frame at a time: wait for the steps too.
    frame = await r.waitFor((f) => f.includes('paused in debugger at fixtures/apps/bank/app.ts:88 in transfer') && f.includes('5 steps'), 'paused');
    expect(frame.split('\n')[22]).toBe('⏸ paused in debugger at fixtures/apps/bank/app.ts:88 in transfer · F8/R resumes');
    expect(frame).toMatch(/Steps #5 · ⏸ paused · 5 steps · 7\/10/);

    // The main thread of the replay is paused, not the TUI's: keys still work.
    frame = await r.press('p', (f) => /▸ ?6 /.test(f));
    frame = await r.press('?', (f) => f.includes('Keys · ? or Esc closes'));
    expect(frame).toContain('debugger: attach / resume');
    await r.press('escape', (f) => !f.includes('Keys ·'));
    await r.press('R', (f) => f.includes('resuming session 5'));
    expect(feed.resumed).toBe(1);

    feed.set(status({ state: 'running', session: 5 }));
    source.emit(stepEvents(rows).slice(5));
    source.finish(trace(rows));
    feed.set(status());
    frame = await r.waitFor((f) => f.includes('✓ replays equal'), 'the replay done');
    expect(lineWith(frame, '◇ debugger on')).toBe('◇ debugger on 127.0.0.1:9229 · replays pause where the session starts · i attach');
  });

  it('i shows the DevTools URL and how to attach; Esc closes it', async () => {
    const feed = new ScriptedFeed(waiting);
    const r = renderTui(scriptedSource(feed), { session: 5, tx: 8 });
    mounted.push(r);
    await r.waitFor((f) => f.includes('waiting for a debugger'), 'waiting');
    const frame = await r.press('i', (f) => f.includes('Debugger · i or Esc closes'));
    const text = frame.replace(/[┃│]/g, '').split('\n').map((l) => l.trim()).join('');
    expect(text).toContain(`devtools://devtools/bundled/js_app.html?experiments=true&v8only=true&ws=${URL.slice(5)}`);
    expect(text).toContain('chrome://inspect');
    expect(text).toContain('"address": "127.0.0.1", "port": 9229');
    for (const line of frame.split('\n')) expect([...line].length).toBeLessThanOrEqual(80);
    await r.press('escape', (f) => !f.includes('Debugger · i or Esc closes') && f.includes('Steps #5'));
  });

  it('a failed replay process shows as one line, and the TUI goes on', async () => {
    const feed = new ScriptedFeed(waiting);
    const source = scriptedSource(feed);
    const r = renderTui(source, { session: 5, tx: 8 });
    mounted.push(r);
    await r.waitFor((f) => f.includes('waiting for a debugger'), 'waiting');
    feed.set(status({ state: 'failed', message: 'the replay process exited (SIGKILL)' }));
    source.finish(trace(transferRows(), { error: 'the replay process exited (SIGKILL)' }));
    const frame = await r.waitFor((f) => f.includes('replay failed'), 'the failure');
    expect(frame.split('\n')[22]).toBe('✗ debugger: the replay process exited (SIGKILL)');
    expect(frame.split('\n')[23]).toMatch(/^replay failed: the replay process exited \(SIGKILL\)/);
    await r.press(']', (f) => f.includes('tx 9 of 1–10'));
  });

  it('draws no debugger line without --inspect', async () => {
    const source = { ...scriptedSource(new ScriptedFeed(waiting)), debugger: null };
    const r = renderTui(source, { session: 5, tx: 8 });
    mounted.push(r);
    const frame = await r.waitFor((f) => f.includes('Steps #5'), 'the first frame');
    expect(frame).not.toMatch(/debugger/);
    expect(frame.split('\n')[22]).toMatch(/^╰/);
  });
});

describe('DebuggerBar and DebuggerOverlay', () => {
  it('the bar is one row, cut to the width', () => {
    const r = renderElement(
      <ThemeProvider color={false}>
        <DebuggerBar status={atLine} width={50} />
      </ThemeProvider>,
    );
    mounted.push(r);
    const plain = r.frame().replace(/\x1b\[[0-9;]*m/g, '');
    expect(plain.split('\n')).toHaveLength(1);
    expect(plain.startsWith('⏸ paused in debugger at fixtures/apps/bank/app.ts')).toBe(true);
    expect([...plain].length).toBeLessThanOrEqual(50);
  });

  it('the overlay says the inspector is starting before it listens', () => {
    const r = renderElement(
      <ThemeProvider color={false}>
        <DebuggerOverlay status={status({ state: 'starting', url: null, devtoolsUrl: null, address: null })} width={60} height={10} />
      </ThemeProvider>,
    );
    mounted.push(r);
    expect(r.frame()).toContain('The inspector is starting.');
    expect(r.frame()).not.toContain('devtools://');
  });
});
