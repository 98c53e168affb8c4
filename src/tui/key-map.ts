import type { Action, Scope } from './state.js';

// What a key means, in every scope it can mean something in. Pure.
//
// ink reads the terminal in chunks and hands every key of a chunk to the
// input handlers before anything renders: a Tab and the ↓ after it, an Enter
// and the ↓↓ after it, typed while a frame or a re-execution kept the process
// busy (or coalesced over a slow link), arrive together. So no key is read in
// the light of a state the handler holds: each key becomes one
// `first-in-scope` action listing its meaning per scope, in order, and the
// reducer applies the first that is in force when the key lands, after the
// keys before it. One key, one meaning, in the pane that has the focus then.

/** The flags of a key, as ink's useInput gives them (the ones read here). */
export interface KeyFlags {
  upArrow?: boolean;
  downArrow?: boolean;
  leftArrow?: boolean;
  rightArrow?: boolean;
  pageUp?: boolean;
  pageDown?: boolean;
  home?: boolean;
  end?: boolean;
  return?: boolean;
  escape?: boolean;
  tab?: boolean;
  shift?: boolean;
  backspace?: boolean;
  delete?: boolean;
  ctrl?: boolean;
  meta?: boolean;
}

/** Sizes the keys that move by a page or to an end need: the screen's, as last drawn. */
export interface KeyContext {
  range: { first: number; last: number };
  /** Rows a page of the sessions list and of the steps moves. */
  sessionsPage: number;
  stepsPage: number;
  /** The diff pane's, the step view's and the help's last scroll offset, and their page. */
  diff: Scroll;
  detail: Scroll;
  help: Scroll;
}

export interface Scroll {
  max: number;
  page: number;
}

export type Candidates = { scope: Scope; action: Action }[];

const GLOBAL_KEYS: Record<string, Action> = {
  q: { type: 'quit' },
  '[': { type: 'tx-move', delta: -1 },
  ']': { type: 'tx-move', delta: 1 },
  g: { type: 'goto-open' },
  n: { type: 'step-move', delta: 1 },
  p: { type: 'step-move', delta: -1 },
  c: { type: 'continue' },
  r: { type: 'rerun' },
  '?': { type: 'help' },
  i: { type: 'debugger-info' },
  R: { type: 'debugger-resume' },
};

const CLOSE: Action = { type: 'close-overlay' };

/** The actions of one key event (a chunk of text is a key per character), each as its candidates per scope. */
export function keyActions(input: string, key: KeyFlags, ctx: KeyContext): Candidates[] {
  // Esc first: ink marks it meta too.
  if (key.escape) return [escape()];
  if (key.return) return [enter()];
  if (key.tab) return [tab(key.shift === true)];
  if (key.backspace || key.delete) return [backspace()];
  const moved = movement(key, ctx);
  if (moved) return [moved];
  // Ctrl-C is use-quit-keys'; other Ctrl and Alt keys mean nothing here.
  if (key.ctrl || key.meta) return [];
  const out: Candidates[] = [];
  for (const ch of input) {
    const c = character(ch, ctx);
    if (c.length > 0) out.push(c);
  }
  return out;
}

function escape(): Candidates {
  return [
    { scope: 'help', action: CLOSE },
    { scope: 'detail', action: CLOSE },
    { scope: 'debugger', action: CLOSE },
    { scope: 'goto', action: CLOSE },
    { scope: 'sessions', action: { type: 'sessions-escape' } },
  ];
}

function enter(): Candidates {
  return [
    { scope: 'help', action: CLOSE },
    { scope: 'detail', action: CLOSE },
    { scope: 'debugger', action: CLOSE },
    { scope: 'goto', action: { type: 'goto-submit' } },
    { scope: 'sessions', action: { type: 'sessions-enter' } },
    { scope: 'steps', action: { type: 'open-detail' } },
  ];
}

function tab(back: boolean): Candidates {
  return [{ scope: 'global', action: { type: back ? 'focus-prev' : 'focus-next' } }];
}

function backspace(): Candidates {
  return [
    { scope: 'goto', action: { type: 'goto-backspace' } },
    { scope: 'sessions', action: { type: 'sessions-backspace' } },
  ];
}

/** Arrows, PgUp/PgDn, Home/End: a scroll in the step view and the help, a move in the focused pane. */
function movement(key: KeyFlags, ctx: KeyContext): Candidates | null {
  const scroll = (delta: (s: Scroll) => number): Candidates => [
    { scope: 'help', action: { type: 'overlay-scroll', delta: delta(ctx.help), max: ctx.help.max } },
    { scope: 'detail', action: { type: 'overlay-scroll', delta: delta(ctx.detail), max: ctx.detail.max } },
  ];
  const diff = (delta: number): { scope: Scope; action: Action } => ({ scope: 'diff', action: { type: 'diff-scroll', delta, max: ctx.diff.max } });
  if (key.upArrow || key.downArrow) {
    const d = key.downArrow ? 1 : -1;
    return [...scroll(() => d), { scope: 'sessions', action: { type: 'session-move', delta: d } }, { scope: 'steps', action: { type: 'step-move', delta: d } }, diff(d)];
  }
  if (key.leftArrow || key.rightArrow) return [{ scope: 'timeline', action: { type: 'tx-move', delta: key.rightArrow ? 1 : -1 } }];
  if (key.pageUp || key.pageDown) {
    const sign = key.pageDown ? 1 : -1;
    return [
      ...scroll((s) => sign * s.page),
      { scope: 'timeline', action: { type: 'tx-move', delta: sign * 10 } },
      { scope: 'sessions', action: { type: 'session-move', delta: sign * ctx.sessionsPage } },
      { scope: 'steps', action: { type: 'step-move', delta: sign * ctx.stepsPage } },
      diff(sign * ctx.diff.page),
    ];
  }
  if (key.home || key.end) {
    const sign = key.end ? 1 : -1;
    return [
      ...scroll(() => sign * Infinity),
      { scope: 'timeline', action: { type: 'tx-set', tx: key.end ? ctx.range.last : ctx.range.first } },
      { scope: 'sessions', action: { type: 'session-move', delta: sign * Infinity } },
      { scope: 'steps', action: { type: 'step-edge', edge: key.end ? 'last' : 'first' } },
      diff(sign * Infinity),
    ];
  }
  return null;
}

/** One character of typed (or pasted) text. */
function character(ch: string, ctx: KeyContext): Candidates {
  if (ch === '\r' || ch === '\n') return enter();
  if (ch === '\t') return tab(false);
  // A held Backspace arrives as several DELs in one chunk, which ink does not name.
  if (ch === '\x7f' || ch === '\b') return backspace();
  if (ch < ' ') return [];
  const out: Candidates = [];
  if (ch === '?' || ch === 'q') out.push({ scope: 'help', action: CLOSE });
  if (ch === 'i' || ch === 'q') out.push({ scope: 'debugger', action: CLOSE });
  if (ch === 'R') out.push({ scope: 'debugger', action: { type: 'debugger-resume' } });
  if (ch === 'q') out.push({ scope: 'detail', action: CLOSE });
  if (ch === 'j' || ch === 'k' || ch === ' ') {
    const delta = ch === ' ' ? ctx.detail.page : ch === 'j' ? 1 : -1;
    out.push({ scope: 'detail', action: { type: 'overlay-scroll', delta, max: ctx.detail.max } });
  }
  out.push({ scope: 'goto', action: { type: 'goto-type', text: ch } });
  const command = GLOBAL_KEYS[ch];
  if (command) out.push({ scope: 'global', action: command });
  // Typed into the filter while it is open; `/` opens it.
  out.push({ scope: 'sessions', action: { type: 'sessions-text', text: ch } });
  return out;
}
