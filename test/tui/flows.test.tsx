import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BANK_APP } from '../../scripts/load.js';
import { TuiData } from '../../src/services/tui-data.js';
import { tempDirs } from '../helpers/cli.js';
import { BANK_CHANGED_APP, recordBankJournal, type BankJournal } from './fixture.js';
import { KEYS, lineWith, renderTui, type Rendered } from './render.js';

// The key flows of the whole TUI at 80x24, through ink-testing-library, over a
// journal the real recording server wrote (see fixture.ts for its shape).

const tmp = tempDirs('windback-tui-flows');
let journal: BankJournal;
let data: TuiData;
let whatIf: TuiData;
const mounted: Rendered[] = [];

beforeAll(async () => {
  journal = await recordBankJournal(tmp());
  data = TuiData.open({ journal: journal.dir });
  whatIf = TuiData.open({ journal: journal.dir, code: BANK_CHANGED_APP });
});

afterAll(() => {
  data?.close();
  whatIf?.close();
});

afterEach(() => {
  while (mounted.length) mounted.pop()!.unmount();
});

function start(props: Parameters<typeof renderTui>[1] = {}, source = data): Rendered {
  const r = renderTui(source, props);
  mounted.push(r);
  return r;
}

const replayDone = (f: string): boolean => /replays equal|diverges at/.test(f);
const timelineAt = (tx: number) => (f: string) => f.includes(`Timeline · tx ${tx} of 1–8`) && !f.includes('winding');

describe('starting', () => {
  it('opens at the last transaction with the sessions alive there, in 24 rows of 80 columns', async () => {
    const r = start();
    const frame = await r.waitFor((f) => f.includes('Sessions at tx 8 (1)'));
    const lines = frame.split('\n');
    expect(lines).toHaveLength(24);
    for (const line of lines) expect([...line].length).toBeLessThanOrEqual(80);
    expect(lines[0]).toMatch(/^╭─ Timeline · tx 8 of 1–8 ─+╮$/);
    expect(frame).toMatch(/by session 5 transfer · rows: accounts 2, ledger 2/);
    expect(frame).toMatch(/▸ 5 transfer ok/);
    expect(frame).toContain('No session selected');
    expect(lines[23]).toMatch(/^sessions: .*\? help {2}q quit$/);
  });

  it('--session starts with that session replaying, at its first transaction', async () => {
    const r = start({ session: 5, tx: data.txForSession(5) });
    const frame = await r.waitFor(replayDone, 'the replay');
    expect(frame).toContain('┏━ Steps #5 · ✓ replays equal · 9/13 ━');
    expect(lineWith(frame, '▸ 9')).toMatch(/▸ 9 ✓ tx {7}tx 8: 5 rows \(accounts/);
    expect(frame).toContain('Diff · step 9 write-tx');
  });

  it('adapts to a larger screen, and says so when the screen is too small', async () => {
    const big = start({ size: { columns: 100, rows: 40 } });
    const frame = await big.waitFor((f) => f.includes('Sessions at tx 8'));
    expect(frame.split('\n')).toHaveLength(40);
    expect(frame.split('\n')[0]).toHaveLength(100);
    expect(frame).toContain('by session 5 transfer · rows: accounts 2, ledger 2, transfers 1');
    const small = start({ size: { columns: 50, rows: 12 } });
    const tooSmall = await small.waitFor((f) => f.includes('needs at least'));
    expect(tooSmall.split('\n')).toHaveLength(12);
    expect(tooSmall.split('\n').slice(0, 2).map((l) => l.trimEnd())).toEqual(['The terminal is 50x12; the TUI needs at least', '60x16. Enlarge it, or press q to quit.']);
  });
});

describe('winding', () => {
  it('[ and ] move one transaction, and the sessions alive there follow', async () => {
    const r = start();
    await r.waitFor(timelineAt(8));
    let frame = await r.press('[', timelineAt(7));
    expect(frame).toContain('Sessions at tx 7 (2)');
    expect(frame).toMatch(/▸ 5 transfer ok\s+\d+ms validated/);
    // The deposit had reached no checkpoint: it runs from its start.
    expect(frame).toMatch(/ {2}6 deposit\s+ok\s+\d+ms \(start\)/);
    expect(frame).toContain('1 2 3 4 5 6 [7] 8');
    frame = await r.press(']', timelineAt(8));
    frame = await r.press(']', (f) => f.includes('tx 8 is the last transaction'));
    expect(frame).toContain('Timeline · tx 8 of 1–8');
  });

  it('← and → move it when the timeline has the focus, and only then', async () => {
    const r = start();
    await r.waitFor(timelineAt(8));
    r.send('left'); // Sessions has the focus: the timeline must not move
    await r.press('shiftTab', (f) => f.startsWith('┏━ Timeline'));
    expect(r.frame()).toContain('Timeline · tx 8 of 1–8');
    await r.press('left', timelineAt(7));
    await r.press('left', timelineAt(6));
    await r.press('home', timelineAt(1));
    expect(r.frame()).toContain('migration 001-accounts');
    await r.press('end', timelineAt(8));
  });

  it('g goes to a transaction id or an ISO time, and says what is wrong with anything else', async () => {
    const r = start();
    await r.waitFor(timelineAt(8));
    await r.press('g', (f) => f.includes('go to tx, ISO time or s<session>:'));
    await r.press('3');
    await r.press('enter', timelineAt(3));
    await r.press('g', (f) => f.includes('go to tx, ISO time or s<session>:'));
    await r.press(data.tx(6).at);
    await r.press('enter', timelineAt(6));
    await r.press('g', (f) => f.includes('go to tx, ISO time or s<session>:'));
    await r.press('42');
    expect(await r.press('enter', (f) => f.includes('tx 42 is out of range'))).toContain('tx 42 is out of range: the journal holds tx 1 to 8');
    await r.press('escape', (f) => !f.includes('go to tx'));
    expect(r.frame()).toContain('Timeline · tx 6 of 1–8');
  });
});

describe('g s<session>', () => {
  it('goes to a session (the id a response\'s Windback-Session header gives): its first transaction, its steps replaying, the cursor on it', async () => {
    const r = start({ tx: 1 });
    await r.waitFor(timelineAt(1));
    await r.press('g', (f) => f.includes('go to tx, ISO time or s<session>:'));
    await r.press('s5');
    const frame = await r.press('enter', (f) => f.includes('Steps #5') && replayDone(f) && timelineAt(data.txForSession(5))(f));
    expect(frame).toContain('┏━ Steps #5 · ✓ replays equal');
    expect(lineWith(frame, /▸\s*5 /)).toMatch(/transfer/);
    await r.press('g', (f) => f.includes('go to tx, ISO time or s<session>:'));
    await r.press('s99');
    expect(await r.press('enter', (f) => f.includes('unknown session 99'))).toMatch(/unknown session 99: the journal holds \d+ sessions/);
  });
});

describe('sessions', () => {
  it('/ filters the sessions alive, Esc clears the filter', async () => {
    const r = start({ tx: 7 });
    await r.waitFor((f) => f.includes('Sessions at tx 7 (2)'));
    await r.press('/');
    await r.press('d');
    let frame = await r.press('e', (f) => f.includes('(1/2)'));
    expect(frame).not.toMatch(/5 transfer/);
    expect(frame).toMatch(/▸ 6 deposit/);
    frame = await r.press('enter', (f) => f.includes('Sessions at tx 7 (1/2) /de'));
    frame = await r.press('escape', (f) => f.includes('Sessions at tx 7 (2)'));
    expect(frame).toMatch(/5 transfer/);
  });

  it('Enter replays the session under the cursor, with its cursor at the moment of the transaction', async () => {
    const r = start({ tx: 7 });
    await r.waitFor((f) => f.includes('Sessions at tx 7 (2)'));
    const frame = await r.press('enter', replayDone);
    expect(frame).toMatch(/┏━ Steps #5 · ✓ replays equal · 4\/13 ━/);
    expect(lineWith(frame, /▸ 4 ✓/)).toMatch(/▸ 4 ✓ call {5}#0 fetch \/score/);
    expect(lineWith(frame, /\b5 {3}result/)).toMatch(/ {2}5 {3}result {3}#0 →/);
    expect(frame).toContain('call 0 fetch  key');
    expect(frame).toContain('1 2 3 4 5 6 [7] 8*');
  });
});

describe('stepping', () => {
  it('n/p and ↓/↑ step forward and back, and the diff follows', async () => {
    const r = start({ session: 5, tx: 7 });
    await r.waitFor(replayDone);
    let frame = await r.press('n', (f) => f.includes('Diff · step 5 call-result'));
    expect(frame).toMatch(/result\s+│\n│ +\{\s+│\n│ +"status": 200,/);
    frame = await r.press('down', (f) => f.includes('Diff · step 6 value'));
    expect(frame).toMatch(/performance = \d/);
    frame = await r.press('p', (f) => f.includes('Diff · step 5 call-result'));
    frame = await r.press('up', (f) => f.includes('Diff · step 4 call-start'));
    expect(lineWith(frame, /▸ 4 ✓/)).toContain('✓ call');
    expect(lineWith(frame, /\b5 {3}result/)).toBeDefined();
    frame = await r.press('end', (f) => f.includes('Diff · step 13 session-end'));
    frame = await r.press('up', (f) => f.includes('Diff · step 12 response'));
    expect(frame).toContain('replayed: identical to the recording');
  });

  it('back is instant because the trace is cached: re-selecting a session serves it without re-executing', async () => {
    const r = start({ session: 4, tx: 6 });
    await r.waitFor(replayDone);
    const again = start({ session: 4, tx: 6 });
    const frame = await again.waitFor(replayDone);
    expect(frame).toContain('Steps #4 · ✓ replays equal');
    expect((await data.replay(4)).cached).toBe(true);
  });

  it('a checkpoint shows its state (the first one against nothing); c runs from one to the next', async () => {
    const r = start({ session: 5, tx: 7 });
    await r.waitFor(replayDone);
    await r.press('home', (f) => f.includes('Diff · step 0 session-start'));
    // The app's own 'validated' is the session's first checkpoint: none is journaled before its handler.
    let frame = await r.press('c', (f) => f.includes('Diff · step 2 checkpoint'));
    expect(frame).toContain('state "validated" (the first checkpoint)');
    expect(frame).toMatch(/\+ from: "acc_/);
    expect(frame).toContain('checkpoint at step 2');
    // Nor after it returned: none lies ahead.
    frame = await r.press('c', (f) => f.includes('no divergence or checkpoint ahead'));
    expect(frame).toContain('Diff · step 13 session-end');
  });

  it('Tab to the diff scrolls it; Enter opens a step in full and Esc closes it', async () => {
    const r = start({ session: 5, tx: 8 });
    await r.waitFor(replayDone);
    await r.press('tab', (f) => f.includes('┏━ Diff'));
    const before = r.frame();
    const total = Number(/┏━ Diff · step 9 write-tx · 1–6 of (\d+)/.exec(before)?.[1]);
    expect(total).toBeGreaterThan(6);
    await r.press('down', (f) => f.includes(`2–7 of ${total}`));
    await r.press('shiftTab', (f) => f.includes('┏━ Steps'));
    let frame = await r.press('enter', (f) => f.includes('┏━ Step 9 write-tx'));
    expect(frame).toMatch(/Step 9 write-tx · 1–21 of \d+/);
    expect(frame).toContain('"kind": "write-tx"');
    frame = await r.press('pageDown', (f) => !f.includes('1–21 of'));
    expect(frame).toMatch(/Step 9 write-tx · 21–41 of/);
    frame = await r.press('escape', (f) => f.includes('Sessions at tx 8'));
    expect(frame).toContain('Diff · step 9 write-tx');
  });

  it('r re-executes the session', async () => {
    const r = start({ session: 5, tx: 8 });
    await r.waitFor(replayDone);
    await r.press('r', (f) => f.includes('re-executing session 5') && replayDone(f));
  });
});

describe('divergence', () => {
  it('with the changed code, c finds the transaction that wrote different rows and the diff shows the field', async () => {
    const r = start({ session: 5, tx: 7 }, whatIf);
    let frame = await r.waitFor(replayDone, 'the what-if replay');
    expect(frame).toContain('Steps #5 · ✗ diverges at 9 · 4/13');
    frame = await r.press('c', (f) => f.includes('divergence at step 9'));
    expect(lineWith(frame, '▸ 9')).toMatch(/▸ 9 ✗ tx/);
    expect(frame).toContain('✗ transaction 8 wrote different rows');
    expect(frame).toContain('≠ accounts #2  balance: 6500 → 6499');
    frame = await r.press('n', (f) => f.includes('Diff · step 10 call-start'));
    frame = await r.press('end', (f) => f.includes('Diff · step 13'));
    frame = await r.press('up', (f) => f.includes('Diff · step 12 response'));
    expect(frame).toContain('replayed: not reached (the replay stopped before the response)');
  });
});

describe('a what-if that throws', () => {
  it('shows at the divergence the error the replayed code threw and where, wrapped, not only that a step is missing', async () => {
    const app = fs.readFileSync(BANK_APP, 'utf8');
    const line = 'const latencyMs = Math.round(performance.now() - started);';
    const code = path.join(tmp(), 'throws.ts');
    fs.writeFileSync(code, app.replace(line, `${line} (config as unknown as { limits: { daily: number } }).limits.daily.toFixed();`));
    const throws = TuiData.open({ journal: journal.dir, code });
    try {
      const r = start({ session: 5, tx: 7 }, throws);
      await r.waitFor(replayDone, 'the what-if replay');
      const frame = await r.press('c', (f) => /divergence at step \d+/.test(f) && /Diff · step \d+ value/.test(f));
      // Where it threw (a long temporary path here, cut by the header).
      expect(frame).toMatch(/step \d+ value · ✗ DIVERGED · \/\S*windback-tui-flows/);
      expect(frame).toMatch(/✗ the replay ended without the recorded value at position \d+; the replay\s*│\n│ +threw TypeError: Cannot read properties of undefined \(reading 'daily'\)/);
    } finally {
      throws.close();
    }
  });
});

describe('keys read together', () => {
  // A busy process (a frame, a re-execution) or a slow link hands the TUI
  // several keys in one read, before anything renders: each must count, in
  // the pane focused when it lands.
  it('the keys after a focus change count in the pane it focused: Tab ↓ ↓, Shift-Tab Home, Enter n, q n', async () => {
    const r = start({ session: 5, tx: 7 });
    await r.waitFor((f) => replayDone(f) && f.includes('Diff · step 4 call-start'));
    // Shift-Tab to Timeline, Tab back to Sessions, whose ↓ moves to session 6.
    await r.press('shiftTab', (f) => f.includes('┏━ Sessions'));
    let frame = await r.press(KEYS.shiftTab + KEYS.tab + KEYS.down, (f) => /▸ 6 deposit/.test(f));
    expect(frame).toContain('┏━ Sessions');
    expect(frame).toContain('Timeline · tx 7 of 1–8');
    // Enter replays session 6 from its tx 7 (step 2); the ↓ typed with it, before its records are read, steps on to 3.
    frame = await r.press(KEYS.enter + KEYS.down, (f) => /Steps #6 · ✓ replays equal · 3\/4/.test(f) && f.includes('Diff · step 3 response'));
    expect(frame).not.toContain('select a session first');
    await r.press('shiftTab', (f) => f.includes('┏━ Sessions'));
    await r.press(KEYS.up + KEYS.enter, (f) => /Steps #5 · ✓ replays equal · 4\/13/.test(f));
    await r.press('shiftTab', (f) => f.includes('┏━ Sessions'));
    // Tab focuses Steps: its two ↓ step from 4 to 6.
    frame = await r.press(KEYS.tab + KEYS.down + KEYS.down, (f) => f.includes('Diff · step 6 value'));
    expect(frame).toMatch(/┏━ Steps #5 · ✓ replays equal · 6\/13 ━/);
    await r.press('tab', (f) => f.includes('┏━ Diff'));
    frame = await r.press(KEYS.shiftTab + KEYS.home, (f) => f.includes('Diff · step 0 session-start'));
    expect(frame).toMatch(/┏━ Steps #5 · ✓ replays equal · 0\/13 ━/);
    // Enter then n (Esc then n would read as Alt-n): the step view closes and the n steps.
    await r.press('enter', (f) => f.includes('┏━ Step 0 session-start'));
    frame = await r.press(KEYS.enter + 'n', (f) => f.includes('Diff · step 1 read-tx'));
    expect(frame).not.toContain('┏━ Step ');
    // q closes the help, and does not quit as well.
    await r.press('?', (f) => f.includes('Keys · ? or Esc closes'));
    frame = await r.press('qn', (f) => f.includes('Diff · step 2 checkpoint'));
    expect(frame).toContain('Sessions at tx 7');
  });

  it('a held Backspace (several in one read) deletes as many characters in the filter and in the go-to prompt', async () => {
    const r = start({ tx: 7 });
    await r.waitFor((f) => f.includes('Sessions at tx 7 (2)'));
    await r.press('/');
    await r.press('depo', (f) => f.includes('(1/2)'));
    let frame = await r.press(KEYS.backspace.repeat(3), (f) => f.includes('Sessions at tx 7 (2/2)'));
    expect(lineWith(frame, 'Enter keep')).toMatch(/\/d {2,}Enter keep/);
    await r.press('escape', (f) => f.includes('Sessions at tx 7 (2)'));
    await r.press('g', (f) => f.includes('go to tx, ISO time or s<session>:'));
    await r.press('abc');
    await r.press(KEYS.backspace.repeat(3) + '3', (f) => /go to tx, ISO time or s<session>: 3 /.test(f));
    frame = await r.press('enter', timelineAt(3));
    expect(frame).not.toContain('go to tx');
  });
});

describe('help', () => {
  it('? shows every key and closes again', async () => {
    const r = start();
    await r.waitFor(timelineAt(8));
    let frame = await r.press('?', (f) => f.includes('Keys · ? or Esc closes'));
    expect(frame).toMatch(/c\s+next divergence or checkpoint/);
    expect(frame).toMatch(/Enter\s+open the step in full/);
    frame = await r.press('?', (f) => f.includes('Timeline · tx 8'));
    expect(frame).not.toContain('Keys ·');
  });

  it('at 60x16 scrolls in one column, and the keys scroll it rather than move the panes', async () => {
    const r = start({ size: { columns: 60, rows: 16 } });
    await r.waitFor((f) => f.includes('Sessions at tx 8'));
    let frame = await r.press('?', (f) => f.includes('┏━ Keys · 1–13 of '));
    expect(frame).toContain('Anywhere');
    frame = await r.press('end', (f) => f.includes('Step view, help') && !f.includes('Keys · 1–13'));
    expect(frame).toMatch(/Esc Enter q\s+close/);
    frame = await r.press('home', (f) => f.includes('Keys · 1–13'));
    frame = await r.press('escape', (f) => f.includes('Timeline · tx 8 of 1–8'));
    expect(frame).toContain('Sessions at tx 8 (1)');
  });
});
