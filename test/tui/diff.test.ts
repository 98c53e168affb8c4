import { describe, expect, it } from 'vitest';
import { displayWidth } from '../../src/tui/format.js';
import { changesAgainst, flatten, lineText, rowChanges, stepDetail, stepDiff, structuralDiff, wrapLines, type Line } from '../../src/tui/diff.js';
import { formatAge, stepSummary, timelineStrip, truncate, windowStart } from '../../src/tui/format.js';
import { buildView } from '../../src/tui/state.js';
import { stepEvents, trace, transferRows, txDivergence } from './samples.js';

// The diff pane's and the panes' text, without ink.

const text = (lines: Line[]): string[] => lines.map(lineText);
const tones = (line: Line): string[] => line.map((s) => s.tone ?? 'plain');

function viewOf(options: Parameters<typeof trace>[1] = {}) {
  const rows = transferRows();
  const t = trace(rows, options);
  return { rows, view: buildView(rows, { ...t, done: true }) };
}

describe('structuralDiff', () => {
  it('lists changed, added and removed leaves by path, then the unchanged ones', () => {
    const lines = text(structuralDiff({ a: 1, b: { c: 2, d: [1, 2] }, gone: true }, { a: 1, b: { c: 3, d: [1, 2, 3] }, extra: 'x' }));
    expect(lines[0]).toBe('4 differences, 3 unchanged');
    expect(lines.slice(1, 5)).toEqual(['~ b.c: 2 → 3', '+ b.d[2]: 3', '+ extra: "x"', '- gone: true']);
    expect(lines.slice(5)).toEqual(['  a: 1', '  b.d[0]: 1', '  b.d[1]: 2']);
  });

  it('treats a first state (against null) as all added, and equal values as no difference', () => {
    expect(text(structuralDiff(null, { x: 1 }))).toEqual(['1 difference, 0 unchanged', '+ x: 1']);
    expect(text(structuralDiff({ x: [] }, { x: [] }))).toEqual(['no difference, 1 unchanged', '  x: []']);
    expect(text(structuralDiff(1, 2))).toEqual(['1 difference, 0 unchanged', '~ value: 1 → 2']);
  });

  it('tones the old value as removed and the new one as added', () => {
    const changed = structuralDiff({ a: 1 }, { a: 2 })[1];
    expect(tones(changed)).toEqual(['change', 'key', 'plain', 'del', 'plain', 'add']);
  });

  it('flattens empty containers as leaves', () => {
    expect(flatten({ a: {}, b: [], c: [{ d: null }] })).toEqual([
      ['a', {}],
      ['b', []],
      ['c[0].d', null],
    ]);
  });
});

describe('row changes', () => {
  it('shows an update as its changed fields before → after, inserts and deletes with every field', () => {
    const lines = rowChanges([
      { table: 'accounts', key: 1, before: { id: 'a', balance: 500, owner: 'alice' }, after: { id: 'a', balance: 400, owner: 'alice' } },
      { table: 'ledger', key: 9, before: null, after: { id: 9, amount: -100 } },
      { table: 'holds', key: 3, before: { id: 3 }, after: null },
    ]);
    expect(text(lines)).toEqual([
      '~ accounts #1 update  balance: 500 → 400  (2 unchanged)',
      '+ ledger #9 insert  id=9  amount=-100',
      '- holds #3 delete  id=3',
    ]);
    const update = lines[0];
    expect(update.find((s) => s.text === '500')?.tone).toBe('del');
    expect(update.find((s) => s.text === '400')?.tone).toBe('add');
  });

  it('compares recorded rows with replayed ones field by field', () => {
    const rows = transferRows();
    const d = txDivergence(rows);
    expect(text(changesAgainst(d.expected, d.actual))).toEqual(['≠ accounts #2  balance: 150 → 149  ']);
    expect(text(changesAgainst([], [{ table: 't', key: 1, before: null, after: { x: 1 } }]))).toEqual(['+ t #1 written by the replay only  x=1']);
    expect(text(changesAgainst([{ table: 't', key: 1, before: null, after: { x: 1 } }], []))).toEqual(['- t #1 recorded, not written by the replay']);
  });
});

describe('stepDiff', () => {
  it('a checkpoint: its state against the previous checkpoint', () => {
    const { view } = viewOf();
    const lines = text(stepDiff(view, 8));
    expect(lines[0]).toBe('step 8 checkpoint · ✓ equal · app.ts:18:3');
    expect(lines).toContain('state "response" against the previous checkpoint "validated"');
    expect(lines).toContain('+ done: true');
    expect(text(stepDiff(view, 1))).toContain('state "start" (the first checkpoint)');
  });

  it('a transaction: the rows it changed; diverged, the replayed rows against the recorded ones first', () => {
    const { view } = viewOf();
    expect(text(stepDiff(view, 7))).toEqual([
      'step 7 write-tx · tx 8 · ✓ equal · app.ts:17:3',
      'rows tx 8 changed (read at tx 7)',
      '~ accounts #1 update  balance: 500 → 400  (2 unchanged)',
      '~ accounts #2 update  balance: 50 → 150  (2 unchanged)',
      '+ ledger #9 insert  id=9  account="a"  amount=-100',
    ]);
    const diverged = viewOf({ divergence: txDivergence(transferRows()), until: 6 }).view;
    const lines = text(stepDiff(diverged, 7));
    expect(lines.slice(0, 4)).toEqual([
      'step 7 write-tx · tx 8 · ✗ DIVERGED · app.ts:92:32',
      '✗ transaction 8 wrote different rows',
      'recorded → replayed rows',
      '≠ accounts #2  balance: 150 → 149  ',
    ]);
  });

  it('what went wrong is wrapped to the pane, not cut: the error the replay threw ends the message', () => {
    const rows = transferRows();
    const message = "the replay ended without the recorded value at position 41912; the replay threw TypeError: Cannot read properties of undefined (reading 'daily')";
    const missing = { step: 7, position: rows[7].position, kind: 'missing-step', message, expected: null, actual: null, location: 'app.ts:88:105', construct: null };
    const view = buildView(rows, { events: [...stepEvents(rows).slice(0, 6), { type: 'divergence', attempt: 1, divergence: missing }, { type: 'end', equal: false, steps: 7 }], done: false });
    const lines = text(stepDiff(view, 7, undefined, 76));
    expect(lines.slice(1, 4)).toEqual([
      '✗ the replay ended without the recorded value at position 41912; the replay',
      "  threw TypeError: Cannot read properties of undefined (reading 'daily')",
      'recorded → replayed',
    ]);
    for (const line of lines.slice(1, 3)) expect([...line].length).toBeLessThanOrEqual(76);
  });

  it('a call: its request and its result, from either of its two records', () => {
    const { view } = viewOf();
    for (const index of [4, 5]) {
      const lines = text(stepDiff(view, index));
      expect(lines).toContain('call 0 fetch  key k-0');
      expect(lines.join('\n')).toMatch(/request\n {2}\{\n {4}"url": "http:\/\/stub\/score"/);
      expect(lines.join('\n')).toMatch(/result\n {2}\{\n {4}"status": 200/);
    }
  });

  it('the response: identical when the replay got there equal, not reached when it stopped before, the difference when it diverged', () => {
    expect(text(stepDiff(viewOf().view, 9)).slice(1, 3)).toEqual(['replayed: identical to the recording', 'recorded response 200']);
    const stopped = viewOf({ divergence: txDivergence(transferRows()), until: 6 }).view;
    expect(text(stepDiff(stopped, 9))[1]).toBe('replayed: not reached (the replay stopped before the response)');
    const rows = transferRows();
    const response = { step: 9, position: rows[9].position, kind: 'response', message: 'the response differs: recorded 200, replayed 500', expected: { status: 200, body: { id: 'tr_1' } }, actual: { status: 500, body: { error: 'boom' } }, location: null, construct: null };
    // The engine reports the response's divergence as an event, like any other.
    const diverged = buildView(rows, { events: [...stepEvents(rows), { type: 'divergence', attempt: 1, divergence: response }, { type: 'end', equal: false, steps: 10 }], done: false });
    expect(text(stepDiff(diverged, 9))).toEqual([
      'step 9 response · ✗ DIVERGED',
      '✗ the response differs: recorded 200, replayed 500',
      'recorded → replayed',
      '3 differences, 0 unchanged',
      '~ status: 200 → 500',
      '+ body.error: "boom"',
      '- body.id: "tr_1"',
    ]);
  });

  it('a value, a read, the start and the end', () => {
    const { view } = viewOf();
    expect(text(stepDiff(view, 6))[1]).toBe('uuid = "c6ffec36"');
    expect(text(stepDiff(view, 2))).toContain('read at tx 6: result');
    expect(text(stepDiff(view, 0)).slice(1, 3)).toEqual(['transfer via json /transfer  after tx 6', 'input']);
    expect(text(stepDiff(view, 10))[1]).toBe('status ok');
  });
});

describe('the step view', () => {
  it('holds the record, the verdict, what the replay produced and the divergence', () => {
    const { view } = viewOf({ divergence: txDivergence(transferRows()), until: 6 });
    const detail = stepDetail(view[7]) as Record<string, unknown>;
    expect(detail).toMatchObject({ step: 7, kind: 'write-tx', verdict: 'diverged', record: { tx: 8 }, divergence: { kind: 'tx' } });
  });

  it('hard-wraps long lines at the width, keeping the indent', () => {
    expect(wrapLines(`  "k": "${'x'.repeat(30)}"`, 20)).toEqual(['  "k": "xxxxxxxxxxxx', '  xxxxxxxxxxxxxxxxxx', '  "']);
    expect(wrapLines('short\n\nlines', 20)).toEqual(['short', '', 'lines']);
    // By columns: a CJK character takes two, so no line is wider than the view (ink would cut it).
    const cjk = wrapLines(`  "owner": "${'山田太郎'.repeat(4)}"`, 20);
    expect(cjk).toEqual(['  "owner": "山田太郎', '  山田太郎山田太郎山', '  田太郎"']);
    for (const line of cjk) expect(displayWidth(line)).toBeLessThanOrEqual(20);
  });
});

describe('pane text', () => {
  it('the timeline strip fits the width around the current tx, marks the session\'s own, and says when there is more', () => {
    const strip = timelineStrip(1, 90, 45, 30, new Set([44]));
    const line = strip.items.map((i) => i.text).join(' ');
    expect(line.length).toBeLessThanOrEqual(26);
    expect(line).toContain('44* [45] 46');
    expect(strip.more).toEqual({ before: true, after: true });
    const start = timelineStrip(1, 5, 1, 80, new Set());
    expect(start.items.map((i) => i.text).join(' ')).toBe('[1] 2 3 4 5');
    expect(start.more).toEqual({ before: false, after: false });
    expect(timelineStrip(0, 0, 0, 80, new Set()).items).toEqual([]);
  });

  it('ages, truncation, and list windows', () => {
    expect([850, 1_250, 42_000, 184_000, 7_500_000, 273_600_000].map(formatAge)).toEqual(['850ms', '1.3s', '42s', '3m04s', '2h05m', '3d04h']);
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abc', 4)).toBe('abc');
    expect(windowStart(100, 50, 10)).toBe(45);
    expect(windowStart(100, 99, 10)).toBe(90);
    expect(windowStart(5, 4, 10)).toBe(0);
  });

  it('summarizes steps in a few words', () => {
    const rows = transferRows();
    expect(stepSummary('write-tx', rows[7].record, '')).toBe('tx 8: 3 rows (accounts, ledger)');
    expect(stepSummary('call-start', rows[4].record, '')).toBe('#0 fetch /score');
    expect(stepSummary('checkpoint', rows[1].record, '')).toBe('"start"');
    expect(stepSummary('session-end', { status: 'error', error: { name: 'E', message: 'boom' } }, '')).toBe('error: boom');
  });
});
