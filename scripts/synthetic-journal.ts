// A realistic synthetic journal, written through the real writer API: a small
// bank (transfer, deposit, balance) serving interleaved sessions. The demo
// script, the benchmarks and the tests use it until the recording runtime can
// produce journals of its own.
//
//   tsx scripts/synthetic-journal.ts <dir> --sessions 100000 [--seed 1] [--concurrency 8]
//       [--durability none|batch|always] [--segment-bytes N] [--force]
//
// Deterministic given the seed: the same options give the same records (the
// journal id in the segment headers is still random). What it writes:
//   - a process-start record, then a migration write-tx (tx 1, session nil)
//     that creates the schema and seeds the accounts;
//   - sessions of three kinds, interleaved record by record, `concurrency` in
//     flight at once, each with session-start, values (date, random-seed),
//     checkpoints ('start', 'before-response'), external calls, read-tx and
//     write-tx records with row changes (before/after consistent with every
//     earlier change), a response and a session-end (mostly ok, some error);
//   - simulated process restarts (a process-start record; sessions in flight
//     are aborted or resumed with a session-attempt record);
//   - a snapshot marker every `snapshotEvery` transactions (the files named
//     by them are not written), and duplicate-request records;
//   - the last `openAtEnd` sessions are left open, as after a crash.
// Tx ids are consecutive, `prev` pointers link each session's records, and
// startedAfterTx / readAtTx are the last tx committed at that moment.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { openJournalWriter, type JournalWriter } from '../src/journal/index.js';
import type { AppendableRecord, Durability, ErrorInfo, Row, RowChange, SessionStatus } from '../src/model/records.js';

export interface SyntheticOptions {
  sessions: number;
  /** Default 1. */
  seed?: number;
  /** Sessions in flight at once (default 8). */
  concurrency?: number;
  /** Default 'none' (fastest; the journal is complete once the promise resolves). */
  durability?: Durability;
  /** Segment size limit (the writer's default is 64 MiB). */
  segmentBytes?: number;
  /** Seal a batch once it holds this many bytes (default 64 KiB, a busy server's group commit). */
  maxBatchBytes?: number;
  /** Let the event loop run every this many records, so the writer forms smaller group commits (default 0: never). */
  yieldEvery?: number;
  /** Accounts seeded by the migration (default 1000). */
  accounts?: number;
  /** Milliseconds since the epoch of the first record (default 2026-11-24T09:00:00Z). */
  startAt?: number;
  /** Share of sessions that end in an application error (default 0.03). */
  errorRate?: number;
  /** Simulated process restarts, spread evenly (default one per 20,000 sessions, at least one from 100 sessions). */
  restarts?: number;
  /** Sessions left open at the end (default min(2, concurrency)). */
  openAtEnd?: number;
  /** A snapshot marker every this many transactions (default 5000; 0: none). */
  snapshotEvery?: number;
  /** Share of idempotent sessions later followed by a duplicate-request record (default 0.01). */
  duplicateRate?: number;
  /** Relative weights of the session kinds (default transfer 5, deposit 3, balance 2). */
  kinds?: Partial<Record<SyntheticKind, number>>;
}

export type SyntheticKind = 'transfer' | 'deposit' | 'balance';

export interface SyntheticSummary {
  journal: string;
  sessions: number;
  records: number;
  /** The last write transaction id (the migration is tx 1). */
  transactions: number;
  /** Logical bytes written (the writer's final position). */
  bytes: number;
  batches: number;
  byKind: Record<string, number>;
  byStatus: Record<SessionStatus | 'open', number>;
  /** Ids of the sessions left open. */
  open: number[];
  restarts: number;
  snapshots: number;
  duplicates: number;
  firstAt: number;
  lastAt: number;
  elapsedMs: number;
}

export const ACCOUNTS_SQL =
  'CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, balance INTEGER NOT NULL);\n' +
  'CREATE TABLE ledger (id INTEGER PRIMARY KEY, account INTEGER NOT NULL, amount INTEGER NOT NULL, at INTEGER NOT NULL);';

const ROUTES: Record<SyntheticKind, string> = { transfer: '/transfer', deposit: '/deposit', balance: '/balance' };

/** mulberry32: small, fast, deterministic. */
class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = (seed ^ 0x9e3779b9) >>> 0;
  }
  u32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  float(): number {
    return this.u32() / 4294967296;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.float() < p;
  }
}

interface Live {
  id: number;
  kind: SyntheticKind;
  route: string;
  last: number | null;
  attempts: number;
  lastCheckpoint: number | null;
  idempotencyKey: string | null;
  steps: Generator<void, void, void>;
  /** Records appended so far. */
  records: number;
}

interface Account {
  id: number;
  owner: string;
  balance: number;
}

class Generator_ {
  readonly rng: Rng;
  clock: number;
  lastTx = 0;
  records = 0;
  ledgerSeq = 0;
  readonly accounts: Account[] = [];
  readonly codeVersion: string;
  snapshots = 0;
  duplicates = 0;
  readonly byStatus: Record<SessionStatus | 'open', number> = { ok: 0, error: 0, aborted: 0, open: 0 };
  private sinceYield = 0;

  constructor(
    readonly writer: JournalWriter,
    readonly options: Required<Omit<SyntheticOptions, 'kinds'>> & { kinds: Record<SyntheticKind, number> },
  ) {
    this.rng = new Rng(options.seed);
    this.clock = options.startAt;
    this.codeVersion = createHash('sha256').update(`synthetic-app-${options.seed}`).digest('hex');
  }

  /** Append one record; advance the simulated clock. */
  append(record: AppendableRecord): number {
    this.clock += this.rng.int(0, 2);
    this.records++;
    this.sinceYield++;
    return this.writer.append(record).position;
  }

  needsYield(): boolean {
    if (this.options.yieldEvery > 0 && this.sinceYield >= this.options.yieldEvery) {
      this.sinceYield = 0;
      return true;
    }
    return false;
  }

  emit(s: Live, record: AppendableRecord): number {
    const position = this.append(record);
    s.last = position;
    s.records++;
    if (record.kind === 'checkpoint') s.lastCheckpoint = position;
    return position;
  }

  processStart(): void {
    this.append({
      kind: 'process-start',
      at: this.clock,
      codeVersion: this.codeVersion,
      app: 'synthetic-bank',
      config: { store: 'sqlite', durability: this.options.durability },
      node: 'v20.20.2',
      v8: '11.3.244.8-node.33',
      timeZone: 'UTC',
      locale: 'en-US',
      pid: 4000 + this.rng.int(0, 999),
      durability: this.options.durability,
    });
  }

  migration(): void {
    const changes: RowChange[] = [];
    for (let id = 1; id <= this.options.accounts; id++) {
      const account: Account = { id, owner: `customer-${id}`, balance: 10_000 + this.rng.int(0, 90_000) };
      this.accounts.push(account);
      changes.push({ table: 'accounts', key: id, before: null, after: { ...account } });
    }
    this.append({
      kind: 'write-tx',
      session: null,
      prev: null,
      tx: ++this.lastTx,
      committedAt: this.clock,
      readAtTx: 0,
      changes,
      readDigest: this.digest(),
      result: ACCOUNTS_SQL,
      migration: '001-accounts',
    });
  }

  maybeSnapshot(): void {
    const every = this.options.snapshotEvery;
    if (every > 0 && this.lastTx % every === 0 && this.lastTx > 0) {
      const file = `snapshots/${String(this.lastTx).padStart(10, '0')}.sqlite`;
      this.append({
        kind: 'snapshot',
        at: this.clock,
        tx: this.lastTx,
        file,
        bytes: 4096 * (8 + Math.ceil(this.options.accounts / 40) + Math.ceil(this.ledgerSeq / 60)),
        sha256: createHash('sha256').update(file).digest('hex'),
      });
      this.snapshots++;
    }
  }

  digest(): Uint8Array {
    const out = Buffer.allocUnsafe(8);
    out.writeUInt32LE(this.rng.u32(), 0);
    out.writeUInt32LE(this.rng.u32(), 4);
    return out;
  }

  account(): Account {
    return this.accounts[this.rng.int(0, this.accounts.length - 1)];
  }

  start(s: Live, input: unknown): void {
    this.emit(s, {
      kind: 'session-start',
      session: s.id,
      prev: null,
      at: this.clock,
      sessionKind: s.kind,
      route: s.route,
      transport: 'json',
      input,
      codeVersion: this.codeVersion,
      startedAfterTx: this.lastTx,
      idempotencyKey: s.idempotencyKey,
      meta: { 'x-request-id': `req-${s.id}` },
    });
  }

  value(s: Live, source: string, value: unknown): void {
    this.emit(s, { kind: 'value', session: s.id, prev: s.last, source, value });
  }

  checkpoint(s: Live, label: string, state: unknown): void {
    this.emit(s, { kind: 'checkpoint', session: s.id, prev: s.last, at: this.clock, label, state, randomDraws: 0 });
  }

  callStart(s: Live, call: number, name: string, request: unknown): void {
    this.emit(s, { kind: 'call-start', session: s.id, prev: s.last, call, name, request, idempotencyKey: `${s.id}-${call}`, at: this.clock });
  }

  callResult(s: Live, call: number, ok: boolean, value: unknown): void {
    this.emit(s, { kind: 'call-result', session: s.id, prev: s.last, call, ok, value, at: this.clock });
  }

  readTx(s: Live, result: unknown): void {
    this.emit(s, { kind: 'read-tx', session: s.id, prev: s.last, readAtTx: this.lastTx, readDigest: this.digest(), result, error: null, write: false });
  }

  writeTx(s: Live, changes: RowChange[], result: unknown): void {
    const readAtTx = this.lastTx;
    this.emit(s, {
      kind: 'write-tx',
      session: s.id,
      prev: s.last,
      tx: ++this.lastTx,
      committedAt: this.clock,
      readAtTx,
      changes,
      readDigest: this.digest(),
      result,
      migration: null,
    });
    this.maybeSnapshot();
  }

  respond(s: Live, status: number, body: unknown): void {
    this.emit(s, {
      kind: 'response',
      session: s.id,
      prev: s.last,
      at: this.clock,
      status,
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify(body)),
    });
  }

  end(s: Live, status: SessionStatus, error: ErrorInfo | null): void {
    this.emit(s, { kind: 'session-end', session: s.id, prev: s.last, at: this.clock, status, error, randomDraws: 0 });
    this.byStatus[status]++;
  }

  /** Update an account's balance as a row change. */
  credit(account: Account, amount: number): RowChange {
    const before: Row = { id: account.id, owner: account.owner, balance: account.balance };
    account.balance += amount;
    return { table: 'accounts', key: account.id, before, after: { id: account.id, owner: account.owner, balance: account.balance } };
  }
}

function* transfer(g: Generator_, s: Live): Generator<void, void, void> {
  const from = g.account();
  let to = g.account();
  if (to === from) to = g.accounts[(from.id % g.accounts.length)];
  const careless = g.rng.chance(g.options.errorRate);
  const amount = careless ? 1_000_000 + g.rng.int(0, 1_000_000) : g.rng.int(1, 500);
  g.start(s, { from: from.id, to: to.id, amount });
  yield;
  g.value(s, 'date', g.clock);
  yield;
  g.value(s, 'random-seed', g.rng.u32());
  yield;
  g.checkpoint(s, 'start', { step: 'start' });
  yield;
  g.callStart(s, 0, 'fraud.check', { from: from.id, to: to.id, amount });
  yield;
  g.callResult(s, 0, true, { score: g.rng.int(0, 99) });
  yield;
  g.readTx(s, { balance: from.balance });
  yield;
  if (from.balance < amount) {
    g.checkpoint(s, 'before-response', { step: 'respond', error: 'insufficient-funds' });
    yield;
    g.respond(s, 422, { error: 'insufficient funds', account: from.id });
    yield;
    g.end(s, 'error', { name: 'InsufficientFunds', message: `account ${from.id} holds ${from.balance}, needs ${amount}` });
    return;
  }
  const changes = [g.credit(from, -amount), g.credit(to, amount)];
  g.writeTx(s, changes, { changes: 2 });
  yield;
  g.checkpoint(s, 'before-response', { step: 'respond' });
  yield;
  g.respond(s, 200, { ok: true, from: from.id, to: to.id, amount });
  yield;
  g.end(s, 'ok', null);
}

function* deposit(g: Generator_, s: Live): Generator<void, void, void> {
  const account = g.account();
  const amount = g.rng.int(10, 5_000);
  const declined = g.rng.chance(g.options.errorRate);
  g.start(s, { account: account.id, amount });
  yield;
  g.value(s, 'date', g.clock);
  yield;
  g.checkpoint(s, 'start', { step: 'start' });
  yield;
  g.callStart(s, 0, 'payments.authorize', { account: account.id, amount });
  yield;
  if (declined) {
    g.callResult(s, 0, false, { name: 'PaymentDeclined', message: 'card declined' });
    yield;
    g.checkpoint(s, 'before-response', { step: 'respond', error: 'declined' });
    yield;
    g.respond(s, 402, { error: 'payment declined' });
    yield;
    g.end(s, 'error', { name: 'PaymentDeclined', message: 'card declined' });
    return;
  }
  g.callResult(s, 0, true, { authorization: `auth-${g.rng.u32().toString(16)}` });
  yield;
  const ledgerId = ++g.ledgerSeq;
  const changes: RowChange[] = [
    g.credit(account, amount),
    { table: 'ledger', key: ledgerId, before: null, after: { id: ledgerId, account: account.id, amount, at: g.clock } },
  ];
  g.writeTx(s, changes, { ledger: ledgerId });
  yield;
  g.checkpoint(s, 'before-response', { step: 'respond' });
  yield;
  g.respond(s, 201, { ok: true, ledger: ledgerId, balance: account.balance });
  yield;
  g.end(s, 'ok', null);
}

function* balance(g: Generator_, s: Live): Generator<void, void, void> {
  const account = g.account();
  g.start(s, { account: account.id });
  yield;
  g.value(s, 'date', g.clock);
  yield;
  g.checkpoint(s, 'start', { step: 'start' });
  yield;
  g.readTx(s, { balance: account.balance });
  yield;
  g.checkpoint(s, 'before-response', { step: 'respond' });
  yield;
  g.respond(s, 200, { account: account.id, balance: account.balance });
  yield;
  g.end(s, 'ok', null);
}

const FLOWS: Record<SyntheticKind, (g: Generator_, s: Live) => Generator<void, void, void>> = { transfer, deposit, balance };

/** Write a synthetic journal into `dir`, which must not hold a journal yet. */
export async function writeSyntheticJournal(dir: string, options: SyntheticOptions): Promise<SyntheticSummary> {
  const began = performance.now();
  const journal = path.resolve(dir);
  if (fs.existsSync(journal) && fs.readdirSync(journal).some((n) => n.endsWith('.wbj'))) {
    throw new Error(`${journal} already holds a journal; remove it first`);
  }
  const total = Math.max(0, Math.floor(options.sessions));
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const o = {
    sessions: total,
    seed: options.seed ?? 1,
    concurrency,
    durability: options.durability ?? 'none',
    segmentBytes: options.segmentBytes ?? 64 * 1024 * 1024,
    maxBatchBytes: options.maxBatchBytes ?? 64 * 1024,
    yieldEvery: options.yieldEvery ?? 0,
    accounts: Math.max(2, options.accounts ?? 1000),
    startAt: options.startAt ?? Date.UTC(2026, 10, 24, 9, 0, 0),
    errorRate: options.errorRate ?? 0.03,
    restarts: options.restarts ?? (total >= 100 ? Math.max(1, Math.floor(total / 20_000)) : 0),
    openAtEnd: Math.min(options.openAtEnd ?? Math.min(2, concurrency), concurrency, total),
    snapshotEvery: options.snapshotEvery ?? 5000,
    duplicateRate: options.duplicateRate ?? 0.01,
    kinds: { transfer: 5, deposit: 3, balance: 2, ...options.kinds },
  };
  let clock = o.startAt;
  const { writer } = await openJournalWriter(journal, {
    durability: o.durability,
    segmentBytes: o.segmentBytes,
    maxBatchBytes: o.maxBatchBytes,
    now: () => clock,
  });
  const g = new Generator_(writer, o);
  const syncClock = (): void => {
    clock = g.clock;
  };
  const kindList = (Object.keys(o.kinds) as SyntheticKind[]).filter((k) => o.kinds[k] > 0);
  const weightTotal = kindList.reduce((sum, k) => sum + o.kinds[k], 0);
  const pickKind = (): SyntheticKind => {
    let x = g.rng.float() * weightTotal;
    for (const k of kindList) {
      x -= o.kinds[k];
      if (x < 0) return k;
    }
    return kindList[kindList.length - 1];
  };
  const restartAt = new Set<number>();
  for (let i = 1; i <= o.restarts; i++) restartAt.add(Math.floor((total * i) / (o.restarts + 1)));

  const byKind: Record<string, number> = {};
  const active: Live[] = [];
  let started = 0;
  let restarts = 0;

  g.processStart();
  g.migration();
  syncClock();

  const startSession = (): void => {
    const kind = pickKind();
    const id = ++started;
    byKind[kind] = (byKind[kind] ?? 0) + 1;
    const s: Live = {
      id,
      kind,
      route: ROUTES[kind],
      last: null,
      attempts: 1,
      lastCheckpoint: null,
      idempotencyKey: kind !== 'balance' && g.rng.chance(0.7) ? `idem-${o.seed}-${id}` : null,
      steps: undefined as unknown as Generator<void, void, void>,
      records: 0,
    };
    s.steps = FLOWS[kind](g, s);
    active.push(s);
    s.steps.next(); // the session-start record
  };

  const restart = (): void => {
    restarts++;
    g.processStart();
    for (let i = active.length - 1; i >= 0; i--) {
      const s = active[i];
      if (g.rng.chance(0.5)) {
        g.end(s, 'aborted', { name: 'ProcessRestarted', message: 'the process restarted before the session answered' });
        active.splice(i, 1);
      } else {
        s.attempts++;
        g.emit(s, {
          kind: 'session-attempt',
          session: s.id,
          prev: s.last,
          at: g.clock,
          attempt: s.attempts,
          reason: 'resume',
          fromCheckpoint: null,
          codeVersion: g.codeVersion,
        });
      }
    }
  };

  for (;;) {
    while (active.length < concurrency && started < total) {
      startSession();
      if (restartAt.has(started)) restart();
    }
    if (active.length === 0) break;
    if (started >= total && active.length <= o.openAtEnd && active.every((s) => s.records >= 2)) break;
    const i = g.rng.int(0, active.length - 1);
    const s = active[i];
    const step = s.steps.next();
    if (step.done) {
      active[i] = active[active.length - 1];
      active.pop();
      if (s.idempotencyKey !== null && g.rng.chance(o.duplicateRate)) {
        g.append({ kind: 'duplicate-request', at: g.clock, originalSession: s.id, idempotencyKey: s.idempotencyKey, route: s.route });
        g.duplicates++;
      }
    }
    syncClock();
    if (g.needsYield()) await new Promise((resolve) => setImmediate(resolve));
  }
  const open = active.map((s) => s.id).sort((a, b) => a - b);
  g.byStatus.open = open.length;
  syncClock();
  await writer.close();
  return {
    journal,
    sessions: started,
    records: g.records,
    transactions: g.lastTx,
    bytes: writer.position,
    batches: writer.stats.batches,
    byKind,
    byStatus: g.byStatus,
    open,
    restarts,
    snapshots: g.snapshots,
    duplicates: g.duplicates,
    firstAt: o.startAt,
    lastAt: g.clock,
    elapsedMs: performance.now() - began,
  };
}

// --- command line ------------------------------------------------------------

function parseArgs(argv: string[]): { dir: string; options: SyntheticOptions; force: boolean } {
  let dir: string | null = null;
  let force = false;
  const options: SyntheticOptions = { sessions: 1000 };
  const numeric: Record<string, keyof SyntheticOptions> = {
    '--sessions': 'sessions',
    '--seed': 'seed',
    '--concurrency': 'concurrency',
    '--segment-bytes': 'segmentBytes',
    '--max-batch-bytes': 'maxBatchBytes',
    '--yield-every': 'yieldEvery',
    '--accounts': 'accounts',
    '--restarts': 'restarts',
    '--open-at-end': 'openAtEnd',
    '--snapshot-every': 'snapshotEvery',
    '--error-rate': 'errorRate',
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [name, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, null];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${name} needs a value`);
      return v;
    };
    if (name === '--force') force = true;
    else if (name === '--durability') options.durability = value() as Durability;
    else if (name === '--start-at') options.startAt = Date.parse(value());
    else if (name in numeric) {
      const v = Number(value());
      if (!Number.isFinite(v)) throw new Error(`${name} needs a number`);
      (options as unknown as Record<string, number>)[numeric[name]] = v;
    } else if (name === '--help' || name === '-h') {
      throw new Error('usage');
    } else if (!name.startsWith('-') && dir === null) dir = name;
    else throw new Error(`unknown argument ${arg}`);
  }
  if (dir === null) throw new Error('usage');
  return { dir, options, force };
}

const USAGE = `usage: tsx scripts/synthetic-journal.ts <dir> --sessions N [--seed S] [--concurrency C]
       [--durability none|batch|always] [--segment-bytes B] [--max-batch-bytes B] [--yield-every N]
       [--accounts N] [--restarts N] [--open-at-end N] [--snapshot-every N] [--error-rate R]
       [--start-at ISO] [--force]`;

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (error) {
    const message = (error as Error).message;
    process.stderr.write(message === 'usage' ? `${USAGE}\n` : `synthetic-journal: ${message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (parsed.force) fs.rmSync(parsed.dir, { recursive: true, force: true });
  const summary = await writeSyntheticJournal(parsed.dir, parsed.options);
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
}
