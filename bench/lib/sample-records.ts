import type { AppendableRecord } from '../../src/model/records.js';

// Sample records for benchmarks that need a realistic journal. Each function
// yields one session's records, lazily: append each record before taking the
// next, so that `prev()` (the position of the session's previous record, kept
// up to date by the caller) is right when the next record is built.

/** A session's worth of records: 9 records, about 1.2 KB framed (~136 B a record on average). */
export function* sessionRecords(session: number, tx: number, prev: () => number | null): Generator<AppendableRecord> {
  const at = 1_764_000_000_000 + session;
  const body = Buffer.from(JSON.stringify({ ok: true, id: session, balance: 1234.5, items: Array.from({ length: 12 }, (_, i) => ({ i, sku: `SKU-${i}` })) }));
  yield {
    kind: 'session-start',
    session,
    prev: null,
    at,
    sessionKind: 'http',
    route: 'POST /accounts/:id/transfer',
    transport: 'json',
    input: { from: session, to: session + 1, amount: 2500, currency: 'EUR', note: 'rent' },
    codeVersion: 'sha256:8f2c1a9b',
    startedAfterTx: tx - 1,
    idempotencyKey: `idem-${session}`,
    meta: { 'user-agent': 'curl/8.5.0', 'content-type': 'application/json', 'x-request-id': `req-${session}` },
  };
  yield { kind: 'value', session, prev: prev(), source: 'random-seed', value: 0x5eed0000 + session };
  yield { kind: 'value', session, prev: prev(), source: 'date', value: at + 1 };
  yield {
    kind: 'call-start',
    session,
    prev: prev(),
    call: 0,
    name: 'fx.rate',
    request: { base: 'EUR', quote: 'USD' },
    idempotencyKey: `idem-${session}-0`,
    at: at + 2,
  };
  yield { kind: 'call-result', session, prev: prev(), call: 0, ok: true, value: { rate: 1.0842, asOf: '2025-11-28T06:00:00Z' }, at: at + 9 };
  yield {
    kind: 'write-tx',
    session,
    prev: prev(),
    tx,
    committedAt: at + 11,
    readAtTx: tx - 1,
    changes: [
      { table: 'accounts', key: session, before: { id: session, balance: 10000, owner: 'alice' }, after: { id: session, balance: 7500, owner: 'alice' } },
      { table: 'accounts', key: session + 1, before: { id: session + 1, balance: 500, owner: 'bob' }, after: { id: session + 1, balance: 3000, owner: 'bob' } },
      { table: 'transfers', key: tx, before: null, after: { id: tx, src: session, dst: session + 1, amount: 2500 } },
    ],
    readDigest: Buffer.alloc(32, session & 0xff),
    result: { transfer: tx },
    migration: null,
  };
  yield { kind: 'checkpoint', session, prev: prev(), at: at + 12, label: 'after-transfer', state: { step: 2, transfer: tx }, randomDraws: 3 };
  yield {
    kind: 'response',
    session,
    prev: prev(),
    at: at + 13,
    status: 200,
    headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
    body,
  };
  yield { kind: 'session-end', session, prev: prev(), at: at + 14, status: 'ok', error: null, randomDraws: 3 };
}

/** 1 KiB `value` records, 16 to a session. */
export function* valueRecords(session: number, _tx: number, prev: () => number | null): Generator<AppendableRecord> {
  for (let i = 0; i < 16; i++) yield { kind: 'value', session, prev: prev(), source: 'random-bytes', value: VALUE_1000 };
}

const VALUE_1000 = 'v'.repeat(1000);

