import type { DebuggerStatus } from '../services/replay-child.js';
import type { AliveView, Json, ReplayEvent, ReplayTrace, SessionInfo, SessionSteps, StepRow, StepView, TuiDivergence, TxView } from '../services/tui-data.js';
import type { SessionId, TxId } from '../model/records.js';

// The TUI's state, and the pure reducer that is the only thing that changes
// it. Effects (catalog queries, the replay engine) live in hooks, which
// dispatch what they find; everything here can be tested without ink.

export type Pane = 'timeline' | 'sessions' | 'steps' | 'diff';
export const PANES: readonly Pane[] = ['timeline', 'sessions', 'steps', 'diff'];

/**
 * A step's verdict: equal (re-executed as recorded), diverged, pending (the
 * replay has not got there yet), not-reached (the replay stopped before it),
 * info (a record the engine does not compare: start, end, attempts).
 */
export type Verdict = 'equal' | 'diverged' | 'pending' | 'not-reached' | 'info';

/** One line of the steps pane: a journal record, or a step the re-execution took that the journal does not hold. */
export interface ViewRow {
  key: string;
  /** The journal record, or null for an extra step. */
  row: StepRow | null;
  kind: string;
  summary: string;
  verdict: Verdict;
  divergence: TuiDivergence | null;
  /** What the re-execution produced (transactions, reads, the response). */
  actual: Json | undefined;
  location: string | null;
}

export interface TraceState {
  /** Bumped by every (re-)execution; events of an older run are dropped. */
  run: number;
  fresh: boolean;
  events: ReplayEvent[];
  /** The engine's end event came (or the replay failed). */
  done: boolean;
  equal: boolean | null;
  error: string | null;
  ms: number;
  cached: boolean;
}

export interface StepsState {
  session: SessionId;
  info: SessionInfo | null;
  /** The journal's records; null while loading. */
  rows: StepRow[] | null;
  loadError: string | null;
  trace: TraceState;
  view: ViewRow[];
  cursor: number;
  /**
   * The stepping API's answer for a step: the last one received, which may be
   * for a step the cursor has since left (shown until the cursor's arrives).
   */
  detail: StepDetail | null;
  /** Moves made while the records were still being read (an Enter and the ↓ typed right after it): made once they are. */
  deferred: Action[];
}

export interface StepDetail {
  /** The step, as `replay show` numbers them. */
  step: number;
  state: StepView | null;
  /** The re-execution failed: why. */
  error: string | null;
}

export type Overlay =
  | null
  /** `scroll`: where the help starts when it is one scrolling column (a small terminal). */
  | { kind: 'help'; scroll: number }
  | { kind: 'detail'; scroll: number }
  /** `i` under --inspect: where the debugger listens and how to attach. */
  | { kind: 'debugger' }
  /** `pending`: Enter was pressed; a hook resolves `text` against the journal. */
  | { kind: 'goto'; text: string; error: string | null; pending: boolean };

/**
 * Who a key belongs to. Keys arrive in chunks, every key of a chunk before
 * the next render (key-map.ts), so a key is sent with its meaning in each
 * scope, and the reducer applies the first in force as the state is when it
 * lands: the ↓ typed right after a Tab moves in the pane Tab focused, and a
 * key meant for the filter never steps.
 */
export type Scope = Pane | 'global' | 'help' | 'detail' | 'goto' | 'debugger';

export interface TuiState {
  focus: Pane;
  range: { first: TxId; last: TxId };
  /** The transaction the timeline is at (0 when the journal holds none). */
  tx: TxId;
  /** The loaded view of a transaction and the sessions alive at it (may lag `tx` for a frame). */
  txView: TxView | null;
  alive: AliveView[] | null;
  sessions: { cursor: number; filter: string; editing: boolean };
  steps: StepsState | null;
  diffScroll: number;
  overlay: Overlay;
  message: { text: string; tone: 'info' | 'error' } | null;
  quitting: boolean;
  /** Under --inspect: the debugger the replays run under, as last reported; null without --inspect. */
  debugger: DebuggerStatus | null;
  /** Bumped by `R`; a hook resumes the debugger when it changes. */
  resumes: number;
}

export type Action =
  | { type: 'focus'; pane: Pane }
  | { type: 'focus-next' }
  | { type: 'focus-prev' }
  | { type: 'tx-move'; delta: number }
  | { type: 'tx-set'; tx: TxId }
  | { type: 'tx-loaded'; view: TxView; alive: AliveView[] }
  | { type: 'tx-failed'; tx: TxId; message: string }
  | { type: 'session-move'; delta: number }
  | { type: 'filter-start' }
  | { type: 'filter-type'; text: string }
  | { type: 'filter-backspace' }
  | { type: 'filter-accept' }
  | { type: 'filter-cancel' }
  /** Keys of the sessions pane, whose meaning depends on whether the filter is being typed. */
  | { type: 'sessions-text'; text: string }
  | { type: 'sessions-enter' }
  | { type: 'sessions-escape' }
  | { type: 'sessions-backspace' }
  | { type: 'select-session'; session?: SessionId }
  | { type: 'steps-loaded'; session: SessionId; steps: SessionSteps }
  | { type: 'steps-failed'; session: SessionId; message: string }
  | { type: 'replay-events'; session: SessionId; run: number; events: ReplayEvent[] }
  | { type: 'replay-done'; session: SessionId; run: number; trace: ReplayTrace }
  | { type: 'step-detail'; session: SessionId; state: StepView }
  | { type: 'step-detail-failed'; session: SessionId; step: number; message: string }
  | { type: 'rerun' }
  | { type: 'step-move'; delta: number }
  | { type: 'step-edge'; edge: 'first' | 'last' }
  | { type: 'continue' }
  | { type: 'diff-scroll'; delta: number; max: number }
  | { type: 'open-detail' }
  | { type: 'overlay-scroll'; delta: number; max: number }
  | { type: 'close-overlay' }
  | { type: 'help' }
  | { type: 'goto-open' }
  | { type: 'goto-type'; text: string }
  | { type: 'goto-backspace' }
  | { type: 'goto-error'; message: string }
  | { type: 'goto-submit' }
  /** `g s<id>`: wind to the session's first transaction (or one it was alive at) and open its steps. */
  | { type: 'goto-session'; session: SessionId; tx: TxId }
  | { type: 'message'; text: string; tone?: 'info' | 'error' }
  | { type: 'quit' }
  | { type: 'debugger-status'; status: DebuggerStatus }
  | { type: 'debugger-info' }
  | { type: 'debugger-resume' }
  | { type: 'scoped'; scope: Scope; action: Action }
  /** The first of these scoped actions whose scope is in force (one key, one meaning). */
  | { type: 'first-in-scope'; actions: { scope: Scope; action: Action }[] };

export interface InitialOptions {
  range: { first: TxId; last: TxId };
  tx?: TxId;
  session?: SessionId;
  /** The debugger's status when the TUI starts under --inspect. */
  debugger?: DebuggerStatus | null;
  /** Shown in the status bar at start: the journal's damage, when it has some. */
  warning?: string | null;
}

export function initialState(options: InitialOptions): TuiState {
  const { first, last } = options.range;
  const tx = last === 0 ? 0 : clamp(options.tx ?? last, first, last);
  return {
    focus: options.session === undefined ? 'sessions' : 'steps',
    range: options.range,
    tx,
    txView: null,
    // Without transactions there is no moment to be alive at.
    alive: last === 0 ? [] : null,
    sessions: { cursor: 0, filter: '', editing: false },
    steps: options.session === undefined ? null : newSteps(options.session, 1),
    diffScroll: 0,
    overlay: null,
    message: options.warning ? { text: options.warning, tone: 'error' } : null,
    quitting: false,
    debugger: options.debugger ?? null,
    resumes: 0,
  };
}

function newSteps(session: SessionId, run: number): StepsState {
  return { session, info: null, rows: null, loadError: null, trace: emptyTrace(run, false), view: [], cursor: 0, detail: null, deferred: [] };
}

function emptyTrace(run: number, fresh: boolean): TraceState {
  return { run, fresh, events: [], done: false, equal: null, error: null, ms: 0, cached: false };
}

/** Does a key meant for `scope` still belong there? */
export function inScope(state: TuiState, scope: Scope): boolean {
  const overlay = state.overlay?.kind ?? null;
  switch (scope) {
    case 'help':
    case 'detail':
    case 'goto':
    case 'debugger':
      return overlay === scope;
    case 'global':
      return overlay === null && !state.sessions.editing;
    default:
      return overlay === null && state.focus === scope;
  }
}

export function reducer(state: TuiState, action: Action): TuiState {
  switch (action.type) {
    case 'scoped':
      return inScope(state, action.scope) ? reducer(state, action.action) : state;
    case 'first-in-scope': {
      const first = action.actions.find((a) => inScope(state, a.scope));
      return first ? reducer(state, first.action) : state;
    }
    case 'focus':
      return { ...state, focus: action.pane };
    case 'focus-next':
    case 'focus-prev': {
      const i = PANES.indexOf(state.focus);
      const step = action.type === 'focus-next' ? 1 : PANES.length - 1;
      return { ...state, focus: PANES[(i + step) % PANES.length], sessions: { ...state.sessions, editing: false } };
    }
    case 'tx-move':
      return windTo(state, state.tx + action.delta);
    case 'tx-set':
      return windTo(state, action.tx);
    case 'goto-session': {
      const wound = windTo(state, action.tx);
      const steps = state.steps?.session === action.session ? state.steps : newSteps(action.session, (state.steps?.trace.run ?? 0) + 1);
      const selected: TuiState = { ...wound, focus: 'steps', steps, diffScroll: 0 };
      // At another transaction, the sessions cursor lands on it once that loads
      // (as for --session); at this one, it moves there now.
      if (wound.tx !== state.tx) return { ...selected, alive: null };
      const at = visibleSessions(selected).findIndex((s) => s.id === action.session);
      return at < 0 ? selected : { ...selected, sessions: { ...selected.sessions, cursor: at } };
    }
    case 'tx-loaded': {
      if (action.view.tx !== state.tx) return state;
      // The session under the cursor, or at the first load the one selected (--session).
      const before = state.alive === null ? state.steps?.session : visibleSessions(state)[state.sessions.cursor]?.id;
      const next: TuiState = { ...state, txView: action.view, alive: action.alive };
      // Keep the cursor on the same session when it is still alive.
      const list = visibleSessions(next);
      const keep = before === undefined ? -1 : list.findIndex((s) => s.id === before);
      const cursor = keep >= 0 ? keep : clamp(state.sessions.cursor, 0, Math.max(0, list.length - 1));
      return followTx({ ...next, sessions: { ...next.sessions, cursor } });
    }
    case 'tx-failed':
      return action.tx === state.tx ? { ...state, message: { text: action.message, tone: 'error' } } : state;
    case 'session-move': {
      const list = visibleSessions(state);
      return { ...state, sessions: { ...state.sessions, cursor: clamp(state.sessions.cursor + action.delta, 0, Math.max(0, list.length - 1)) } };
    }
    case 'sessions-text': {
      if (!state.sessions.editing) return action.text.startsWith('/') ? reducer(reducer(state, { type: 'filter-start' }), { type: 'sessions-text', text: action.text.slice(1) }) : state;
      // A pasted chunk may carry its own Enter.
      const [text, ...rest] = action.text.split(/[\r\n]/);
      const typed = text.replace(/[\u0000-\u001f\u007f]/g, '');
      const next = typed ? reducer(state, { type: 'filter-type', text: typed }) : state;
      return rest.length > 0 ? reducer(next, { type: 'filter-accept' }) : next;
    }
    case 'sessions-enter':
      return reducer(state, { type: state.sessions.editing ? 'filter-accept' : 'select-session' });
    case 'sessions-escape':
      return state.sessions.editing || state.sessions.filter !== '' ? reducer(state, { type: 'filter-cancel' }) : state;
    case 'sessions-backspace':
      return state.sessions.editing ? reducer(state, { type: 'filter-backspace' }) : state;
    case 'filter-start':
      return { ...state, focus: 'sessions', sessions: { ...state.sessions, editing: true } };
    case 'filter-type':
      return { ...state, sessions: { ...state.sessions, filter: state.sessions.filter + action.text, cursor: 0 } };
    case 'filter-backspace':
      return { ...state, sessions: { ...state.sessions, filter: state.sessions.filter.slice(0, -1), cursor: 0 } };
    case 'filter-accept':
      return { ...state, sessions: { ...state.sessions, editing: false } };
    case 'filter-cancel':
      return { ...state, sessions: { ...state.sessions, editing: false, filter: '', cursor: 0 } };
    case 'select-session': {
      const id = action.session ?? visibleSessions(state)[state.sessions.cursor]?.id;
      if (id === undefined) return { ...state, message: { text: 'no session to select here', tone: 'info' } };
      if (state.steps?.session === id) return { ...state, focus: 'steps' };
      return { ...state, focus: 'steps', steps: newSteps(id, (state.steps?.trace.run ?? 0) + 1), diffScroll: 0, message: null };
    }
    case 'steps-loaded': {
      const steps = state.steps;
      if (!steps || steps.session !== action.session) return state;
      const rows = action.steps.rows;
      const loaded: StepsState = { ...steps, info: action.steps.session, rows, view: buildView(rows, steps.trace), loadError: null };
      // First load: the cursor starts at the moment of the current transaction; a re-run keeps it where it was.
      const cursor = steps.rows ? steps.cursor : state.txView ? cursorAtPosition(rows, state.txView.position) : 0;
      return steps.deferred.reduce(reducer, { ...state, steps: { ...loaded, cursor, deferred: [] } });
    }
    case 'steps-failed': {
      const steps = state.steps;
      if (!steps || steps.session !== action.session) return state;
      return { ...state, steps: { ...steps, loadError: action.message }, message: { text: action.message, tone: 'error' } };
    }
    case 'replay-events': {
      const steps = state.steps;
      if (!steps || steps.session !== action.session || steps.trace.run !== action.run || steps.trace.done) return state;
      // The engine's end event completes the replay.
      const end = action.events.find((e) => e.type === 'end');
      const trace: TraceState = { ...steps.trace, events: [...steps.trace.events, ...action.events], ...(end ? { done: true, equal: end.equal } : {}) };
      return { ...state, steps: { ...steps, trace, view: steps.rows ? buildView(steps.rows, trace) : steps.view } };
    }
    case 'replay-done': {
      const steps = state.steps;
      if (!steps || steps.session !== action.session || steps.trace.run !== action.run) return state;
      const t = action.trace;
      const end = t.events.find((e) => e.type === 'end');
      // Without an end event the replay failed: done, with no verdict.
      const trace: TraceState = { ...steps.trace, events: t.events, done: true, equal: t.error || !end ? null : end.equal, error: t.error, ms: t.ms, cached: t.cached };
      const view = steps.rows ? buildView(steps.rows, trace) : steps.view;
      const message = t.error ? { text: `replay failed: ${t.error}`, tone: 'error' as const } : state.message;
      return { ...state, message, steps: { ...steps, trace, view, cursor: clamp(steps.cursor, 0, Math.max(0, view.length - 1)) } };
    }
    case 'step-detail': {
      const steps = state.steps;
      if (!steps || steps.session !== action.session) return state;
      return { ...state, steps: { ...steps, detail: { step: action.state.index, state: action.state, error: null } } };
    }
    case 'step-detail-failed': {
      const steps = state.steps;
      if (!steps || steps.session !== action.session) return state;
      return { ...state, steps: { ...steps, detail: { step: action.step, state: null, error: action.message } } };
    }
    case 'rerun': {
      const steps = state.steps;
      if (!steps) return { ...state, message: { text: 'select a session first', tone: 'info' } };
      const trace = emptyTrace(steps.trace.run + 1, true);
      return { ...state, steps: { ...steps, trace, view: steps.rows ? buildView(steps.rows, trace) : [] }, message: { text: `re-executing session ${steps.session}`, tone: 'info' } };
    }
    case 'step-move':
    case 'step-edge':
    case 'continue':
      if (state.steps && state.steps.rows === null && state.steps.loadError === null) return { ...state, steps: { ...state.steps, deferred: [...state.steps.deferred, action] } };
      if (action.type === 'continue') return continueRun(state);
      return moveStep(state, (steps) => (action.type === 'step-move' ? steps.cursor + action.delta : action.edge === 'first' ? 0 : steps.view.length - 1));
    case 'diff-scroll':
      return { ...state, diffScroll: clamp(state.diffScroll + action.delta, 0, Math.max(0, action.max)) };
    case 'open-detail':
      if (!state.steps || state.steps.view.length === 0) return { ...state, message: { text: 'select a session and a step first', tone: 'info' } };
      return { ...state, overlay: { kind: 'detail', scroll: 0 } };
    case 'overlay-scroll':
      if (state.overlay?.kind !== 'detail' && state.overlay?.kind !== 'help') return state;
      return { ...state, overlay: { ...state.overlay, scroll: clamp(state.overlay.scroll + action.delta, 0, Math.max(0, action.max)) } };
    case 'close-overlay':
      return { ...state, overlay: null };
    case 'help':
      return { ...state, overlay: state.overlay?.kind === 'help' ? null : { kind: 'help', scroll: 0 } };
    case 'goto-open':
      return { ...state, overlay: { kind: 'goto', text: '', error: null, pending: false } };
    case 'goto-submit':
      return state.overlay?.kind === 'goto' ? { ...state, overlay: { ...state.overlay, pending: true } } : state;
    case 'goto-type':
      return state.overlay?.kind === 'goto' ? { ...state, overlay: { ...state.overlay, text: state.overlay.text + action.text, error: null } } : state;
    case 'goto-backspace':
      return state.overlay?.kind === 'goto' ? { ...state, overlay: { ...state.overlay, text: state.overlay.text.slice(0, -1), error: null } } : state;
    case 'goto-error':
      return state.overlay?.kind === 'goto' ? { ...state, overlay: { ...state.overlay, error: action.message, pending: false } } : state;
    case 'message':
      return { ...state, message: { text: action.text, tone: action.tone ?? 'info' } };
    case 'quit':
      return { ...state, quitting: true };
    case 'debugger-status':
      return { ...state, debugger: action.status };
    case 'debugger-info':
      if (!state.debugger) return { ...state, message: { text: 'no debugger: start it with `replay tui --inspect`', tone: 'info' } };
      return { ...state, overlay: state.overlay?.kind === 'debugger' ? null : { kind: 'debugger' } };
    case 'debugger-resume': {
      const d = state.debugger;
      if (!d) return { ...state, message: { text: 'no debugger: start it with `replay tui --inspect`', tone: 'info' } };
      if (d.state === 'waiting') return { ...state, resumes: state.resumes + 1, message: { text: "going on without a debugger (R again at each session's start)", tone: 'info' } };
      if (d.state === 'paused') return { ...state, resumes: state.resumes + 1, message: { text: `resuming session ${d.session}`, tone: 'info' } };
      return { ...state, message: { text: 'the debugger is not paused', tone: 'info' } };
    }
  }
}

// --- transitions --------------------------------------------------------------------

function windTo(state: TuiState, target: TxId): TuiState {
  const { first, last } = state.range;
  if (last === 0) return { ...state, message: { text: 'the journal holds no write transactions', tone: 'info' } };
  const tx = clamp(target, first, last);
  const edge = target < first ? `tx ${first} is the first transaction` : target > last ? `tx ${last} is the last transaction` : null;
  return { ...state, tx, overlay: state.overlay?.kind === 'goto' ? null : state.overlay, message: edge ? { text: edge, tone: 'info' } : null };
}

/** Winding the timeline moves the selected session's cursor to the same moment. */
function followTx(state: TuiState): TuiState {
  const steps = state.steps;
  if (!steps?.rows || !state.txView) return state;
  return { ...state, diffScroll: 0, steps: { ...steps, cursor: cursorAtPosition(steps.rows, state.txView.position) } };
}

function moveStep(state: TuiState, to: (steps: StepsState) => number): TuiState {
  const steps = state.steps;
  if (!steps || steps.view.length === 0) return { ...state, message: { text: 'select a session first (Tab to Sessions, Enter)', tone: 'info' } };
  const cursor = clamp(to(steps), 0, steps.view.length - 1);
  return { ...state, diffScroll: 0, message: null, steps: { ...steps, cursor } };
}

/** `c`: run to the next divergence or checkpoint the re-execution reached. */
function continueRun(state: TuiState): TuiState {
  const steps = state.steps;
  if (!steps || steps.view.length === 0) return moveStep(state, (s) => s.cursor);
  for (let i = steps.cursor + 1; i < steps.view.length; i++) {
    const row = steps.view[i];
    if (row.verdict === 'diverged' || (row.kind === 'checkpoint' && row.verdict !== 'not-reached')) {
      const what = row.verdict === 'diverged' ? `divergence at step ${stepLabel(row, i)}` : `checkpoint at step ${stepLabel(row, i)}`;
      return { ...state, diffScroll: 0, steps: { ...steps, cursor: i }, message: { text: what, tone: row.verdict === 'diverged' ? 'error' : 'info' } };
    }
    if (row.verdict === 'pending') return { ...state, steps: { ...steps, cursor: i }, message: { text: 'the replay is still running', tone: 'info' } };
  }
  const last = steps.view.length - 1;
  return { ...state, diffScroll: 0, steps: { ...steps, cursor: last }, message: { text: 'no divergence or checkpoint ahead: at the last step', tone: 'info' } };
}

function stepLabel(row: ViewRow, i: number): string {
  return row.row ? String(row.row.index) : `${i} (extra)`;
}

// --- derived data -------------------------------------------------------------------

/** The alive sessions that match the filter (a substring of id, kind, status or checkpoint label). */
export function visibleSessions(state: Pick<TuiState, 'alive' | 'sessions'>): AliveView[] {
  const list = state.alive ?? [];
  const filter = state.sessions.filter.trim().toLowerCase();
  if (filter === '') return list;
  return list.filter((s) => [String(s.id), `#${s.id}`, s.kind, s.status, s.lastCheckpoint?.label ?? ''].some((f) => f.toLowerCase().includes(filter)));
}

/** The last step at or before a journal position (the transaction's own record when the session wrote it). */
export function cursorAtPosition(rows: readonly StepRow[], position: number): number {
  let cursor = 0;
  for (let i = 0; i < rows.length; i++) {
    if (rows[i].position <= position) cursor = i;
    else break;
  }
  return cursor;
}

const COMPARED = new Set<string>(['value', 'call-start', 'call-result', 'write-tx', 'read-tx', 'checkpoint', 'response']);

/**
 * The steps pane's rows: each journal record with its verdict from the
 * engine's events so far, and any step the re-execution took that the
 * journal does not hold, placed where it would stand (its divergence's step).
 * Inherited steps (an earlier attempt's effects served to a later one) are
 * skipped: the earlier attempt's own re-execution of that record is its state.
 */
export function buildView(rows: readonly StepRow[], trace: Pick<TraceState, 'events' | 'done'>): ViewRow[] {
  const reached = new Map<number, { actual: Json | undefined; location: string | null }>();
  const diverged = new Map<number, TuiDivergence>();
  const extras = new Map<number, TuiDivergence[]>();
  let done = trace.done;
  const isRow = (step: number, position: number | null): boolean => position !== null && step >= 0 && step < rows.length && rows[step].position === position;
  for (const event of trace.events) {
    if (event.type === 'end') {
      done = true;
    } else if (event.type === 'step') {
      if (!event.inherited && isRow(event.step, event.position) && !reached.has(event.step)) reached.set(event.step, { actual: event.actual, location: event.location });
    } else {
      const d = event.divergence;
      if (isRow(d.step, d.position)) {
        if (!diverged.has(d.step)) diverged.set(d.step, d);
        continue;
      }
      const at = Math.min(Math.max(0, d.step), rows.length);
      const list = extras.get(at) ?? [];
      if (!list.some((e) => e.message === d.message && e.kind === d.kind)) list.push(d);
      extras.set(at, list);
    }
  }

  const out: ViewRow[] = [];
  const pushExtras = (at: number): void => {
    for (const [n, d] of (extras.get(at) ?? []).entries()) {
      out.push({ key: `extra-${at}-${n}`, row: null, kind: 'extra-step', summary: d.message, verdict: 'diverged', divergence: d, actual: d.actual, location: d.location });
    }
  };
  rows.forEach((row, i) => {
    pushExtras(i);
    const seen = reached.get(i);
    const divergence = diverged.get(i) ?? null;
    let verdict: Verdict;
    if (divergence) verdict = 'diverged';
    else if (COMPARED.has(row.kind)) verdict = seen ? 'equal' : done ? 'not-reached' : 'pending';
    else verdict = 'info';
    out.push({ key: `row-${row.position}`, row, kind: row.kind, summary: row.summary, verdict, divergence, actual: seen?.actual, location: seen?.location ?? divergence?.location ?? null });
  });
  pushExtras(rows.length);
  return out;
}

/** The view index of the journal record numbered `step`, or -1. */
export function viewIndexOf(view: readonly ViewRow[], step: number): number {
  const guess = Math.min(step, view.length - 1);
  // Extra rows only push records later: search forward from the record's own index.
  for (let i = Math.max(0, guess); i < view.length; i++) if (view[i].row?.index === step) return i;
  for (let i = Math.min(guess, view.length - 1); i >= 0; i--) if (view[i].row?.index === step) return i;
  return -1;
}

export function clamp(n: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, n));
}
