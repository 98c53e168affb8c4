import type { AliveView, Json, ReplayEvent, ReplayTrace, SessionSteps, StepRow, StepView, TuiDivergence, TxView } from '../../src/services/tui-data.js';

// Hand-made TUI data for the reducer, diff and pane tests: one transfer
// session of 12 steps, as `replay show` would number them.

let position = 1000;

function row(index: number, kind: StepRow['kind'], record: { [key: string]: Json }, extra: Partial<StepRow> = {}): StepRow {
  position += 100;
  return { index, attempt: 1, kind, position, tx: null, at: null, summary: `${kind} ${index}`, record: { kind, ...record }, ...extra };
}

export function transferRows(): StepRow[] {
  position = 1000;
  return [
    row(0, 'session-start', { sessionKind: 'transfer', transport: 'json', route: '/transfer', input: { from: 'a', to: 'b', amount: 100 }, startedAfterTx: 6 }),
    row(1, 'checkpoint', { label: 'start', state: null }),
    row(2, 'read-tx', { readAtTx: 6, result: [{ id: 'a', balance: 500 }], error: null, write: false }),
    row(3, 'checkpoint', { label: 'validated', state: { from: 'a', to: 'b', amount: 100 } }),
    row(4, 'call-start', { call: 0, name: 'fetch', request: { url: 'http://stub/score', method: 'POST' }, idempotencyKey: 'k-0' }),
    row(5, 'call-result', { call: 0, ok: true, value: { status: 200, body: '{"risk":0.1}' } }),
    row(6, 'value', { source: 'uuid', value: 'c6ffec36' }),
    row(
      7,
      'write-tx',
      {
        tx: 8,
        readAtTx: 7,
        migration: null,
        changes: [
          { table: 'accounts', key: 1, before: { id: 'a', balance: 500, owner: 'alice' }, after: { id: 'a', balance: 400, owner: 'alice' } },
          { table: 'accounts', key: 2, before: { id: 'b', balance: 50, owner: 'bob' }, after: { id: 'b', balance: 150, owner: 'bob' } },
          { table: 'ledger', key: 9, before: null, after: { id: 9, account: 'a', amount: -100 } },
        ],
      },
      { tx: 8 },
    ),
    row(8, 'checkpoint', { label: 'response', state: { from: 'a', to: 'b', amount: 100, done: true } }),
    row(9, 'response', { status: 200, headers: {}, body: { id: 'tr_1', balance: 400 } }),
    row(10, 'session-end', { status: 'ok', error: null }),
  ];
}

export function steps(rows = transferRows()): SessionSteps {
  return {
    session: { id: 5, kind: 'transfer', route: '/transfer', status: 'ok', startedAt: '2026-11-24T09:00:05.000Z', endedAt: '2026-11-24T09:00:06.000Z', attempts: 1, txs: [8] },
    rows,
  };
}

const EFFECTS = new Set(['value', 'call-start', 'call-result', 'write-tx', 'read-tx', 'checkpoint']);

/** Observer events for every effect, in order; up to `until` (a row index) when given. */
export function stepEvents(rows: StepRow[], until = Infinity): ReplayEvent[] {
  return rows
    .filter((r) => EFFECTS.has(r.kind) && r.index <= until)
    .map((r) => ({ type: 'step' as const, step: r.index, attempt: r.attempt, inherited: false, kind: r.kind, position: r.position, actual: undefined, location: `app.ts:${10 + r.index}:3` }));
}

/** The response's step event, as the engine reports it once the handler returned. */
export function responseEvent(rows: StepRow[]): ReplayEvent {
  const r = rows.find((x) => x.kind === 'response')!;
  return { type: 'step', step: r.index, attempt: r.attempt, inherited: false, kind: 'response', position: r.position, actual: { status: r.record.status ?? null, body: r.record.body ?? null }, location: null };
}

export function txDivergence(rows: StepRow[]): TuiDivergence {
  const tx = rows.find((r) => r.kind === 'write-tx')!;
  const recorded = tx.record.changes as Json[];
  const replayed = JSON.parse(JSON.stringify(recorded)) as { after: { balance: number } }[];
  replayed[1].after.balance = 149;
  return { step: tx.index, position: tx.position, kind: 'tx', message: 'transaction 8 wrote different rows', expected: recorded, actual: replayed as unknown as Json, location: 'app.ts:92:32', construct: null };
}

/** A whole replay's events: the steps, the divergence, the response when reached, the end (none when it failed). */
export function trace(rows: StepRow[], options: { divergence?: TuiDivergence; until?: number; error?: string } = {}): ReplayTrace {
  const events: ReplayEvent[] = stepEvents(rows, options.until);
  if (options.divergence) events.push({ type: 'divergence', attempt: 1, divergence: options.divergence });
  else if (!options.error && options.until === undefined && rows.some((r) => r.kind === 'response')) events.push(responseEvent(rows));
  if (!options.error) events.push({ type: 'end', equal: !options.divergence, steps: events.filter((e) => e.type === 'step').length });
  return {
    session: 5,
    events,
    equal: !options.divergence && !options.error,
    divergences: options.divergence ? [options.divergence] : [],
    error: options.error ?? null,
    ms: 12,
    cached: false,
  };
}

export function txView(tx: number, position = 1750): TxView {
  return { tx, position, at: `2026-11-24T09:00:0${tx}.000Z`, atMs: Date.UTC(2026, 10, 24, 9, 0, tx), session: 5, sessionKind: 'transfer', migration: null, tables: [{ table: 'accounts', rows: 2 }] };
}

export function alive(): AliveView[] {
  return [
    { id: 5, kind: 'transfer', status: 'ok', startedAt: '2026-11-24T09:00:05.000Z', ageMs: 1200, lastCheckpoint: { label: 'validated', position: 1400 }, txs: [8] },
    { id: 6, kind: 'deposit', status: 'ok', startedAt: '2026-11-24T09:00:06.000Z', ageMs: 300, lastCheckpoint: { label: 'start', position: 1500 }, txs: [] },
    { id: 7, kind: 'balance', status: 'error', startedAt: '2026-11-24T09:00:06.500Z', ageMs: 12, lastCheckpoint: null, txs: [] },
  ];
}

/** A hand-made stepping-API state for a step of the sample session: equal, re-executed from its start. */
export function stepView(rows: StepRow[], index: number, change: Partial<StepView> = {}): StepView {
  const row = rows[index];
  const compared = EFFECTS.has(row.kind) || row.kind === 'response';
  const checkpoint = rows.filter((r) => r.kind === 'checkpoint' && r.index <= index).pop();
  return {
    session: 5,
    index,
    attempt: row.attempt,
    verdict: compared ? 'equal' : 'info',
    actual: null,
    location: compared && row.kind !== 'response' ? `app.ts:${10 + index}:3` : null,
    divergence: null,
    checkpoint: checkpoint ? { step: checkpoint.index, label: String(checkpoint.record.label), state: checkpoint.record.state ?? null } : null,
    ran: compared ? { from: 0, attempts: 1, ms: 0.5 } : null,
    ...change,
  };
}
