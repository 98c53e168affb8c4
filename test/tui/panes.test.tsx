import type { ReactNode } from 'react';
import chalk from 'chalk';
import { afterEach, describe, expect, it } from 'vitest';
import { DetailOverlay } from '../../src/tui/components/DetailOverlay.js';
import { DiffPane } from '../../src/tui/components/DiffPane.js';
import { helpLayout, HelpOverlay } from '../../src/tui/components/HelpOverlay.js';
import { Pane } from '../../src/tui/components/Pane.js';
import { SessionsPane } from '../../src/tui/components/SessionsPane.js';
import { StatusBar } from '../../src/tui/components/StatusBar.js';
import { StepsPane } from '../../src/tui/components/StepsPane.js';
import { TimelinePane } from '../../src/tui/components/TimelinePane.js';
import { stepDiff } from '../../src/tui/diff.js';
import { displayWidth, padEnd, padStart, truncate } from '../../src/tui/format.js';
import { BINDINGS } from '../../src/tui/keys.js';
import { initialState, reducer, type Action, type TuiState } from '../../src/tui/state.js';
import { ThemeProvider } from '../../src/tui/theme.js';
import type { StepRow } from '../../src/services/tui-data.js';
import { renderElement, type Rendered } from './render.js';
import { alive, steps, trace, transferRows, txDivergence, txView } from './samples.js';

// Every pane on its own, through ink-testing-library, from reducer-built state.

const range = { first: 1, last: 90 };
const mounted: Rendered[] = [];

function show(node: ReactNode, color = false): Rendered {
  const r = renderElement(<ThemeProvider color={color}>{node}</ThemeProvider>);
  mounted.push(r);
  return r;
}

afterEach(() => {
  while (mounted.length) mounted.pop()!.unmount();
});

function state(...actions: Action[]): TuiState {
  return actions.reduce(reducer, initialState({ range, tx: 45 }));
}

function replayedState(rows: StepRow[] = transferRows(), options: Parameters<typeof trace>[1] = {}): TuiState {
  let s = state({ type: 'tx-loaded', view: txView(45, rows[7].position), alive: alive() }, { type: 'select-session', session: 5 });
  s = reducer(s, { type: 'steps-loaded', session: 5, steps: steps(rows) });
  return reducer(s, { type: 'replay-done', session: 5, run: s.steps!.trace.run, trace: trace(rows, options) });
}

describe('Pane', () => {
  it('draws its title in the top border, heavy when focused and light otherwise', () => {
    const plain = show(<Pane title="Sessions" width={20} height={3} />).frame().split('\n');
    expect(plain[0]).toBe('╭─ Sessions ───────╮');
    expect(plain[2]).toBe('╰──────────────────╯');
    const focused = show(<Pane title="Sessions" width={20} height={3} focused />).frame().split('\n');
    expect(focused[0]).toBe('┏━ Sessions ━━━━━━━┓');
  });

  it('measures a title with wide characters in columns: its border stays whole (a filter typed in CJK, an emoji)', () => {
    const wide = show(<Pane title="Sessions /山田 🏦" width={24} height={3} focused />).frame().split('\n');
    expect(wide[0]).toBe('┏━ Sessions /山田 🏦 ━━┓');
    const cut = show(<Pane title="Sessions at tx 36 (0/8) /山田太郎株式会社" width={30} height={3} focused />).frame().split('\n');
    expect(cut[0]).toBe('┏━ Sessions at tx 36 (0/8) … ┓');
  });
});

describe('column widths', () => {
  it('count a CJK character or an emoji as two columns, a combining mark as none', () => {
    expect(displayWidth('abc')).toBe(3);
    expect(displayWidth('山田')).toBe(4);
    expect(displayWidth('🏦 ok')).toBe(5);
    expect(displayWidth('é')).toBe(1);
    expect(displayWidth('✓ ✗ ▸ … ━')).toBe(9);
    expect(truncate('山田太郎', 5)).toBe('山田…');
    expect(padEnd('山田', 6)).toBe('山田  ');
    expect(padStart('🏦', 4)).toBe('  🏦');
  });
});

describe('TimelinePane', () => {
  it('shows the current transaction, when it committed and by whom, amid its neighbours', () => {
    const s = state({ type: 'tx-loaded', view: txView(45), alive: alive() });
    const frame = show(<TimelinePane state={s} width={80} height={4} focused />).frame();
    expect(frame).toContain('Timeline · tx 45 of 1–90');
    expect(frame).toContain('2026-11-24T09:00:045.000Z by session 5 transfer · rows: accounts 2');
    expect(frame).toMatch(/‹ .*44 \[45\] 46 .* ›/);
  });

  it("stars the selected session's transactions, and says it is winding until the data comes", () => {
    const s = reducer(replayedState(), { type: 'tx-set', tx: 9 });
    const frame = show(<TimelinePane state={s} width={80} height={4} focused={false} />).frame();
    expect(frame).toContain('* by session 5');
    expect(frame).toContain(' 7 8* [9] 10 ');
    expect(frame).toContain('winding to tx 9…');
  });
});

describe('SessionsPane', () => {
  it('lists the alive sessions with kind, status, age and last checkpoint, the cursor on the first', () => {
    const s = state({ type: 'tx-loaded', view: txView(45), alive: alive() });
    const lines = show(<SessionsPane state={s} width={38} height={8} focused />).frame().split('\n');
    expect(lines[0]).toContain('Sessions at tx 45 (3)');
    expect(lines[1]).toMatch(/#\s+kind\s+st\s+age\s+checkpoint/);
    expect(lines[2]).toMatch(/▸ 5 transfer\s+ok\s+1\.2s validated/);
    // An older journal's implicit checkpoint 'start' shows as its label; no checkpoint at all, as the start.
    expect(lines[3]).toMatch(/ {2}6 deposit\s+ok\s+300ms start/);
    expect(lines[4]).toMatch(/ {2}7 balance\s+err\s+12ms \(start\)/);
  });

  it('shows the filter being typed and the matching sessions only', () => {
    const s = state({ type: 'tx-loaded', view: txView(45), alive: alive() }, { type: 'filter-start' }, { type: 'filter-type', text: 'dep' });
    const frame = show(<SessionsPane state={s} width={38} height={8} focused />).frame();
    expect(frame).toContain('Sessions at tx 45 (1/3)');
    expect(frame).toContain('/dep');
    expect(frame).not.toContain('transfer');
  });

  it('says when no session was in flight', () => {
    const s = state({ type: 'tx-loaded', view: txView(45), alive: [] });
    expect(show(<SessionsPane state={s} width={38} height={8} focused />).frame()).toContain('no session in flight at tx 45');
  });
});

describe('StepsPane', () => {
  it('invites a selection when none is made', () => {
    const empty = show(<StepsPane state={state()} width={42} height={11} focused />).frame();
    expect(empty).toContain('No session selected');
    // Wrapped at words, no line starting with the space it broke at.
    expect(empty.split('\n').slice(1, 4).map((l) => l.slice(2, -2).trimEnd())).toEqual(['No session selected. Pick one in', 'Sessions (Tab, ↑/↓) and press Enter to', 'replay it.']);
  });

  it('marks the steps up to the cursor with their verdict, and the ones after as not yet stepped', () => {
    const s = replayedState();
    const lines = show(<StepsPane state={s} width={60} height={13} focused />).frame().split('\n');
    expect(lines[0]).toContain('Steps · #5 transfer · ✓ replays equal · 7/10');
    expect(lines.find((l) => l.includes('ckpt') && l.includes('"validated"'))).toMatch(/ 3 ✓ ckpt/);
    expect(lines.find((l) => l.includes('tx 8: 3 rows'))).toMatch(/▸ 7 ✓ tx {7}tx 8: 3 rows \(accounts, ledger\)/);
    expect(lines.find((l) => /\d {3}response/.test(l))).toMatch(/ 9 {3}response 200/);
    expect(lines.find((l) => l.includes('"start"'))).toMatch(/ 1 ✓ ckpt/);
    expect(lines.find((l) => /\d . start/.test(l))).toMatch(/ 0 · start/);
  });

  it('marks a divergence with ✗ and names it in the title', () => {
    const rows = transferRows();
    const s = replayedState(rows, { divergence: txDivergence(rows), until: 6 });
    const frame = show(<StepsPane state={s} width={60} height={13} focused />).frame();
    expect(frame).toContain('✗ diverges at step 7');
    expect(frame).toMatch(/▸ 7 ✗ tx/);
  });

  it('draws only the rows that fit around the cursor of a 1,000-step session', () => {
    const base = transferRows();
    const rows: StepRow[] = Array.from({ length: 1000 }, (_, i) => ({ ...base[6], index: i, position: 10_000 + i, summary: `value ${i}`, record: { kind: 'value', source: 'uuid', value: `v${i}` } }));
    let s = replayedState(rows);
    s = reducer(s, { type: 'step-move', delta: 500 - s.steps!.cursor });
    const lines = show(<StepsPane state={s} width={60} height={11} focused />).frame().split('\n');
    expect(lines).toHaveLength(11);
    expect(lines.find((l) => l.includes('▸'))).toContain('500 ✓ value    uuid = "v500"');
    expect(lines[0]).toContain('500/999');
  });
});

describe('DiffPane', () => {
  it('shows the lines of the selected step that fit, and where they are in the whole', () => {
    const s = replayedState();
    const lines = stepDiff(s.steps!.view, 7);
    const frame = show(<DiffPane lines={lines} scroll={0} title="Diff · step 7 write-tx" width={80} height={5} focused={false} />).frame();
    expect(frame).toContain('Diff · step 7 write-tx · 1–3 of 5');
    expect(frame).toContain('step 7 write-tx · tx 8 · ✓ equal');
    const scrolled = show(<DiffPane lines={lines} scroll={2} title="Diff" width={80} height={5} focused />).frame();
    expect(scrolled).toContain('3–5 of 5');
    expect(scrolled).toContain('~ accounts #2 update  balance: 50 → 150');
  });

  it('colours removed and added values only when colours are on', () => {
    const level = chalk.level;
    chalk.level = 3;
    try {
      const s = replayedState();
      const lines = stepDiff(s.steps!.view, 7);
      const colored = show(<DiffPane lines={lines} scroll={2} title="Diff" width={80} height={5} focused />, true).frame();
      expect(colored).toMatch(/\x1b\[31m500\x1b\[39m/);
      expect(colored).toMatch(/\x1b\[32m400\x1b\[39m/);
      const plain = show(<DiffPane lines={lines} scroll={2} title="Diff" width={80} height={5} focused />, false).frame();
      expect(plain).not.toMatch(/\x1b\[(3[0-7]|9[0-7]|38;)/);
      expect(plain).toContain('500 → 400');
    } finally {
      chalk.level = level;
    }
  });
});

describe('StatusBar', () => {
  it("shows the focused pane's keys, a message, or the go-to prompt with its error", () => {
    expect(show(<StatusBar state={state()} width={80} />).frame()).toMatch(/^sessions: ↑\/↓ move {2}Enter replay {2}\/ filter\s+\? help {2}q quit$/);
    expect(show(<StatusBar state={state({ type: 'message', text: 'tx 90 is the last transaction' })} width={80} />).frame()).toContain('tx 90 is the last transaction');
    const prompt = state({ type: 'goto-open' }, { type: 'goto-type', text: '12x' }, { type: 'goto-error', message: 'not a tx' });
    expect(show(<StatusBar state={prompt} width={80} />).frame()).toBe('go to: 12x   not a tx');
    expect(show(<StatusBar state={state({ type: 'goto-open' })} width={80} />).frame()).toMatch(/^go to tx, ISO time or s<session>: {2}\s*Enter go · Esc cancel/);
    // The errors of the go-to prompt fit one line of 80 after what was typed.
    const typed = (text: string, message: string): string =>
      show(<StatusBar state={state({ type: 'goto-open' }, { type: 'goto-type', text }, { type: 'goto-error', message })} width={80} />).frame();
    expect(typed('yesterday 9am', 'not a tx id nor an ISO-8601 time (2026-11-24T09:30Z)')).toBe('go to: yesterday 9am   not a tx id nor an ISO-8601 time (2026-11-24T09:30Z)');
    expect(typed('2026-11-01', 'none committed by then: tx 1 at 2026-11-28T20:39:10.081Z')).toBe('go to: 2026-11-01   none committed by then: tx 1 at 2026-11-28T20:39:10.081Z');
  });
});

describe('HelpOverlay', () => {
  it('lists every key binding at 80x24', () => {
    const frame = show(<HelpOverlay width={80} height={23} scroll={0} />).frame();
    expect(frame.split('\n')).toHaveLength(23);
    expect(helpLayout(80, 23)).toMatchObject({ columns: 2, max: 0 });
    for (const group of BINDINGS) {
      expect(frame).toContain(group.group);
      for (const b of group.bindings) expect(frame, `${b.keys} ${b.does}`).toMatch(new RegExp(`${escape(b.keys)}\\s+${escape(b.does)}`));
    }
  });

  it('at the smallest screen (60x16) is one column that scrolls: every group and key shows, none cut off', () => {
    const { columns, max, page } = helpLayout(60, 15);
    expect(columns).toBe(1);
    expect(max).toBeGreaterThan(0);
    let seen = '';
    for (let scroll = 0; ; scroll += page) {
      const frame = show(<HelpOverlay width={60} height={15} scroll={Math.min(scroll, max)} />).frame();
      expect(frame.split('\n')).toHaveLength(15);
      expect(frame).not.toContain('…');
      seen += `${frame}\n`;
      if (scroll >= max) {
        expect(frame.split('\n')[0]).toMatch(new RegExp(`^┏━ Keys · ${max + 1}–${max + 13} of ${max + 13} · ↑/↓ · \\? or Esc closes ━+┓$`));
        break;
      }
    }
    for (const group of BINDINGS) {
      expect(seen).toContain(group.group);
      for (const b of group.bindings) expect(seen, `${b.keys} ${b.does}`).toMatch(new RegExp(`${escape(b.keys)}\\s+${escape(b.does)}`));
    }
  });
});

describe('DetailOverlay', () => {
  it('shows the lines that fit from the scroll position, and where they are', () => {
    const lines = Array.from({ length: 50 }, (_, i) => `line ${i}`);
    const frame = show(<DetailOverlay title="Step 7 write-tx" lines={lines} scroll={10} width={80} height={12} />).frame();
    expect(frame).toContain('Step 7 write-tx · 11–20 of 50');
    expect(frame).toContain('line 10');
    expect(frame).toContain('line 19');
    expect(frame).not.toContain('line 20');
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
