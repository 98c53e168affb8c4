import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { startStub, type RunningStub } from '../../fixtures/apps/bank/stub.js';
import { HEADER_SIZE, JournalReader, maskedCrc, type PositionedRecord } from '../../src/journal/index.js';
import type { WriteTxRecord } from '../../src/model/records.js';
import { SqliteStore } from '../../src/store/index.js';
import { startServer, type RunningServer } from '../../src/runtime/server.js';
import { fileURLToPath } from 'node:url';

// A journal for the replay tests, recorded by the real runtime: the bank app
// (fixtures/apps/bank) against its fraud-scoring stub, over JSON, JSON-RPC and
// XML-RPC, with concurrent requests, business errors, Idempotency-Key
// duplicates and one crash:
//
//   phase 1  startServer() in this process; accounts, then a concurrent mix;
//            closed cleanly. Every 7th fraud check fails with 503, so some
//            transfers retry from their checkpoint (more attempts).
//   phase 2  `node bin/replay.js record` in a child; a few requests, then
//            four transfers whose stub calls are held open (two before their
//            transaction, at the fraud check; two after it, at the notify
//            call), and the child is SIGKILLed with them in flight.
//   phase 3  startServer() again: it resumes the four sessions (their held
//            calls are in doubt and run again with the same keys), the cut
//            keyed requests are sent again, another concurrent mix; closed.
//
// Snapshots every 5 transactions exactly (--snapshot-growth 0), so states are
// rebuilt from snapshots too.

// Not from ../helpers/cli.js, which needs the vitest runner: this file also runs on its own (see the end).
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin', 'replay.js');
export const BANK_APP = path.join(ROOT, 'fixtures', 'apps', 'bank', 'app.ts');
export const BANK_CHANGED_APP = path.join(ROOT, 'fixtures', 'apps', 'bank-changed', 'app.ts');
export const BANK_REFACTOR_APP = path.join(ROOT, 'fixtures', 'apps', 'bank-refactor', 'app.ts');
export const SNAPSHOT_EVERY = 5;

export type Transport = 'json' | 'json-rpc' | 'xml-rpc';

export interface Reply {
  kind: string;
  transport: Transport;
  status: number;
  body: Buffer;
  /** The Windback-Session header. */
  session: number | null;
}

export interface RecordedBank {
  dir: string;
  accounts: string[];
  /** Every answer a client received (the requests the crash cut excluded). */
  replies: Reply[];
  /** Requests in flight when the child was killed. */
  cut: number;
}

// ---- a deterministic workload ------------------------------------------------------------

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Op {
  kind: string;
  transport: Transport;
  input: Record<string, unknown>;
  key?: string;
}

const TRANSPORTS: Transport[] = ['json', 'json-rpc', 'xml-rpc'];

/** A concurrent round: deposits, transfers (some refused), balances and statements, with errors mixed in. */
function round(random: () => number, accounts: string[], size: number, tag: string): Op[] {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
  const ops: Op[] = [];
  for (let i = 0; i < size; i++) {
    const transport = TRANSPORTS[i % 3];
    const r = random();
    const a = pick(accounts);
    let b = pick(accounts);
    if (b === a) b = accounts[(accounts.indexOf(a) + 1) % accounts.length];
    if (r < 0.25) ops.push({ kind: 'deposit', transport, input: { account: a, amount: 100 + Math.floor(random() * 5_000) } });
    else if (r < 0.55) ops.push({ kind: 'transfer', transport, input: { from: a, to: b, amount: 50 + Math.floor(random() * 8_000) } });
    else if (r < 0.65) ops.push({ kind: 'balance', transport, input: { account: a } });
    else if (r < 0.72) ops.push({ kind: 'statement', transport, input: { account: a, limit: 1 + Math.floor(random() * 5) } });
    else if (r < 0.76) ops.push({ kind: 'transfer', transport, input: { from: a, to: a, amount: 10 } }); // 400 same account
    else if (r < 0.8) ops.push({ kind: 'transfer', transport, input: { from: a, to: b, amount: 2_000_000 } }); // 422 needs approval
    else if (r < 0.84) ops.push({ kind: 'transfer', transport, input: { from: a, to: 'acc_nobody', amount: 500 } }); // 404 before any tx
    else if (r < 0.88) ops.push({ kind: 'transfer', transport, input: { from: a, to: b, amount: 150_000 } }); // 409 inside the tx (risk .79)
    else if (r < 0.91) ops.push({ kind: 'transfer', transport, input: { from: a, to: b, amount: 190_000 } }); // 403 risk .99
    else if (r < 0.94) ops.push({ kind: 'deposit', transport, input: { account: 'acc_nobody', amount: 10 } }); // 404 inside the tx
    else if (r < 0.97) ops.push({ kind: 'deposit', transport, input: { account: a, amount: -5 } }); // 400 before any tx
    else ops.push({ kind: 'open', transport, input: { owner: `late-${tag}-${i}`, initial: 1_000 } });
  }
  return ops;
}

// ---- a client for the three transports -------------------------------------------------

function xmlValue(value: unknown): string {
  if (value === null || value === undefined) return '<value><nil/></value>';
  if (typeof value === 'number') return Number.isInteger(value) ? `<value><int>${value}</int></value>` : `<value><double>${value}</double></value>`;
  if (typeof value === 'string') return `<value><string>${value.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</string></value>`;
  if (typeof value === 'boolean') return `<value><boolean>${value ? 1 : 0}</boolean></value>`;
  const members = Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `<member><name>${k}</name>${xmlValue(v)}</member>`)
    .join('');
  return `<value><struct>${members}</struct></value>`;
}

function post(url: string, pathname: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: Buffer; session: number | null }> {
  return new Promise((resolve, reject) => {
    const payload = Buffer.from(body);
    const req = http.request(new URL(pathname, url), { method: 'POST', agent: false, headers: { 'content-length': String(payload.length), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        if (!res.complete) return reject(new Error('the response was cut off'));
        const session = res.headers['windback-session'];
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), session: typeof session === 'string' ? Number(session) : null });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

export async function call(url: string, op: Op): Promise<Reply> {
  const headers: Record<string, string> = op.key ? { 'idempotency-key': op.key } : {};
  let r: { status: number; body: Buffer; session: number | null };
  switch (op.transport) {
    case 'json':
      r = await post(url, `/${op.kind}`, JSON.stringify(op.input), { 'content-type': 'application/json', ...headers });
      break;
    case 'json-rpc':
      r = await post(url, '/rpc', JSON.stringify({ jsonrpc: '2.0', method: op.kind, params: op.input, id: `${op.kind}-${Math.floor(Math.random() * 1e6)}` }), {
        'content-type': 'application/json',
        ...headers,
      });
      break;
    case 'xml-rpc':
      r = await post(url, '/RPC2', `<?xml version="1.0"?><methodCall><methodName>${op.kind}</methodName><params><param>${xmlValue(op.input)}</param></params></methodCall>`, {
        'content-type': 'text/xml',
        ...headers,
      });
      break;
  }
  return { kind: op.kind, transport: op.transport, ...r };
}

function accountOf(reply: Reply): string {
  const text = reply.body.toString('utf8');
  const match = /acc_[0-9a-f]{8}/.exec(text);
  if (reply.status !== 200 || !match) throw new Error(`open failed: ${reply.status} ${text}`);
  return match[0];
}

// ---- the recorder child ----------------------------------------------------------------------

interface Recorder {
  url: string;
  child: ChildProcess;
  exited: Promise<void>;
}

function spawnRecorder(journal: string, fraudUrl: string): Promise<Recorder> {
  const args = [BIN, 'record', BANK_APP, '--port', '0', '--journal', journal, '--snapshot-every', String(SNAPSHOT_EVERY), '--snapshot-growth', '0', '--config', JSON.stringify({ fraudUrl })];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`replay record did not start listening; stderr:\n${stderr}`));
    }, 30_000);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`replay record exited before listening; stderr:\n${stderr}`));
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve({ url: match[1], child, exited });
      }
    });
  });
}

// ---- recording ---------------------------------------------------------------------------------

/** Record the bank journal into `dir` (an empty directory); `crashedCopy` gets a copy of it right after the crash. */
export async function recordBank(dir: string, options: { seed?: number; crashedCopy?: string } = {}): Promise<RecordedBank> {
  const seed = options.seed ?? 20261124;
  const random = seeded(seed);
  const replies: Reply[] = [];
  const send = async (url: string, op: Op): Promise<Reply> => {
    const reply = await call(url, op);
    replies.push(reply);
    return reply;
  };
  const mix = (url: string, ops: Op[]): Promise<Reply[]> => Promise.all(ops.map((op) => send(url, op)));

  // The stub can hold calls open: held[path] counts how many more to hold.
  const held: Record<string, number> = { '/score': 0, '/notify': 0 };
  const waiting: (() => void)[] = [];
  let heldNow = 0;
  let onHeld: (() => void) | null = null;
  // Outside the crash, every 7th fraud check answers 503 (a RetryableError: the
  // session winds back to its "validated" checkpoint and tries again).
  let failing = true;
  const stub: RunningStub = await startStub(0, {
    fail: (route, index) => failing && route === '/score' && index % 7 === 3,
    hold: (route) => {
      if (!(held[route] > 0)) return;
      held[route]--;
      heldNow++;
      onHeld?.();
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
  });
  const config = { fraudUrl: stub.url };
  let server: RunningServer | null = null;
  let recorder: Recorder | null = null;
  try {
    // Phase 1: in process.
    server = await startServer(BANK_APP, { journal: dir, snapshotEvery: SNAPSHOT_EVERY, snapshotGrowth: 0, config, durability: 'batch', log: () => {} });
    const accounts: string[] = [];
    for (let i = 0; i < 6; i++) {
      accounts.push(accountOf(await send(server.url, { kind: 'open', transport: TRANSPORTS[i % 3], input: { owner: `owner-${i}`, initial: 100_000 + i * 1_000 } })));
    }
    await send(server.url, { kind: 'open', transport: 'json', input: { initial: 5 } }); // 400: no owner
    // Idempotency-Key duplicates: two at once, and one sent again after its answer.
    const dupDeposit: Op = { kind: 'deposit', transport: 'json', input: { account: accounts[0], amount: 777 }, key: 'dup-deposit' };
    const dupTransfer: Op = { kind: 'transfer', transport: 'json-rpc', input: { from: accounts[1], to: accounts[2], amount: 1_234 }, key: 'dup-transfer' };
    await mix(server.url, [dupDeposit, dupDeposit, ...round(random, accounts, 24, 'a')]);
    await send(server.url, dupTransfer);
    await mix(server.url, [dupTransfer, ...round(random, accounts, 12, 'b')]);
    await server.close();
    server = null;

    // Phase 2: a child process, killed with requests in flight.
    recorder = await spawnRecorder(dir, stub.url);
    await mix(recorder.url, round(random, accounts, 8, 'c'));
    failing = false;
    held['/score'] = 2;
    held['/notify'] = 2;
    const allHeld = new Promise<void>((resolve) => {
      onHeld = () => heldNow >= 4 && resolve();
    });
    const inFlight: Op[] = [
      { kind: 'transfer', transport: 'json', input: { from: accounts[3], to: accounts[4], amount: 2_001 }, key: 'cut-1' },
      { kind: 'transfer', transport: 'xml-rpc', input: { from: accounts[4], to: accounts[5], amount: 2_002 } },
      { kind: 'transfer', transport: 'json-rpc', input: { from: accounts[5], to: accounts[0], amount: 2_003 }, key: 'cut-3' },
      { kind: 'transfer', transport: 'json', input: { from: accounts[0], to: accounts[1], amount: 2_004 } },
    ];
    const cutRequests = inFlight.map((op) => call(recorder!.url, op).then(
      () => {
        throw new Error('a held request was answered before the crash');
      },
      () => undefined,
    ));
    const died = recorder.exited.then(() => {
      throw new Error('replay record exited before the four transfers were held open');
    });
    await Promise.race([allHeld, died]);
    died.catch(() => {});
    recorder.child.kill('SIGKILL');
    await recorder.exited;
    recorder = null;
    // The journal as the crash left it, sessions still open, for tests that want it.
    if (options.crashedCopy) copyJournal(dir, options.crashedCopy);
    await Promise.all(cutRequests);
    held['/score'] = 0;
    held['/notify'] = 0;
    for (const release of waiting.splice(0)) release();
    failing = true;

    // Phase 3: in process again; the interrupted sessions resume.
    server = await startServer(BANK_APP, { journal: dir, snapshotEvery: SNAPSHOT_EVERY, snapshotGrowth: 0, config, durability: 'batch', log: () => {} });
    if (server.startup.resumed !== inFlight.length) throw new Error(`expected ${inFlight.length} sessions to resume, got ${server.startup.resumed}`);
    await server.resumed;
    await mix(server.url, [...inFlight.filter((op) => op.key), ...round(random, accounts, 20, 'd')]);
    await server.close();
    server = null;
    return { dir, accounts, replies, cut: inFlight.length };
  } finally {
    for (const release of waiting.splice(0)) release();
    if (recorder) {
      recorder.child.kill('SIGKILL');
      await recorder.exited;
    }
    await server?.close();
    await stub.close();
  }
}

// ---- the journal on disk -------------------------------------------------------------------

/** A copy of a journal directory (the catalog left out unless asked for), for a test that changes it. */
export function copyJournal(from: string, to: string, options: { catalog?: boolean } = {}): string {
  fs.cpSync(from, to, { recursive: true });
  if (!options.catalog) fs.rmSync(path.join(to, 'catalog.sqlite'), { force: true });
  fs.rmSync(path.join(to, 'LOCK'), { force: true });
  return to;
}

export interface Frame {
  /** Logical position (docs/journal-format.md, section 2). */
  position: number;
  segment: string;
  /** Offset of the frame in its segment file. */
  fileOffset: number;
  type: number;
  length: number;
}

/** Every record frame of the journal, read straight from the segment files (batch commits included). */
export function frames(dir: string): Frame[] {
  const out: Frame[] = [];
  for (const name of fs.readdirSync(dir).filter((n) => /^\d{8}\.wbj$/.test(n)).sort()) {
    const file = path.join(dir, name);
    const bytes = fs.readFileSync(file);
    const base = Number(bytes.readBigUInt64LE(16));
    let offset = HEADER_SIZE;
    while (offset + 9 <= bytes.length) {
      const length = bytes.readUInt32LE(offset + 4);
      const type = bytes[offset + 8];
      if (type === 0 || offset + 9 + length > bytes.length) break;
      out.push({ position: base + offset - HEADER_SIZE, segment: file, fileOffset: offset, type, length });
      offset += 9 + length;
    }
  }
  return out;
}

export const BATCH_COMMIT = 15;

/** The position where the batch holding `position` starts: right after the batch commit before it. */
export function batchStart(all: Frame[], position: number): number {
  let start = 0;
  for (const f of all) {
    if (f.position >= position) break;
    if (f.type === BATCH_COMMIT) start = f.position + 9 + f.length;
  }
  return start;
}

/**
 * Change bytes inside the payload of the record at `position` and fix its
 * CRC (masked CRC-32 over length, type and payload), so that only the hash
 * chain can tell.
 */
export function tamper(dir: string, position: number, edit: (payload: Buffer) => void): void {
  const frame = frames(dir).find((f) => f.position === position);
  if (!frame) throw new Error(`no record at position ${position}`);
  const fd = fs.openSync(frame.segment, 'r+');
  try {
    const bytes = Buffer.alloc(9 + frame.length);
    fs.readSync(fd, bytes, 0, bytes.length, frame.fileOffset);
    const payload = bytes.subarray(9);
    const before = Buffer.from(payload);
    edit(payload);
    if (before.equals(payload)) throw new Error('the edit changed nothing');
    bytes.writeUInt32LE(maskedCrc(bytes.subarray(4)), 0);
    fs.writeSync(fd, bytes, 0, bytes.length, frame.fileOffset);
  } finally {
    fs.closeSync(fd);
  }
}

/** Every committed record, through the journal's own reader. */
export function records(dir: string): PositionedRecord[] {
  return [...JournalReader.open(dir).records()];
}

/** The write transactions of the journal, by id. */
export function writeTxs(dir: string): WriteTxRecord[] {
  return records(dir)
    .map((r) => r.record)
    .filter((r): r is WriteTxRecord => r.kind === 'write-tx')
    .sort((a, b) => a.tx - b.tx);
}

/**
 * A database built independently of replay: a fresh store with every write
 * transaction's row changes (and migrations' SQL) applied in order, up to
 * `tx`. advance() goes further on the same file.
 */
export class IndependentState {
  readonly store: SqliteStore;
  constructor(
    file: string,
    private readonly txs: WriteTxRecord[],
  ) {
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true });
    this.store = SqliteStore.open(file, { synchronous: 'OFF' });
  }

  advance(to: number): void {
    for (const record of this.txs) {
      if (record.tx <= this.store.lastAppliedTx || record.tx > to) continue;
      if (record.tx !== this.store.lastAppliedTx + 1) throw new Error(`the journal skips from tx ${this.store.lastAppliedTx} to ${record.tx}`);
      if (record.migration !== null) this.store.applyMigration(record.tx, record.migration, String(record.result), { expectedChanges: record.changes });
      else this.store.applyChanges(record.tx, record.changes);
    }
  }

  close(): void {
    this.store.close();
  }
}

/** A seeded pick of `count` distinct whole numbers from lo..hi, sorted. */
export function samples(lo: number, hi: number, count: number, seed: number): number[] {
  const random = seeded(seed);
  const out = new Set<number>();
  while (out.size < Math.min(count, hi - lo + 1)) out.add(lo + Math.floor(random() * (hi - lo + 1)));
  return [...out].sort((a, b) => a - b);
}

// `npx tsx test/replay/record-fixture.ts <dir>`: record one by hand (an empty or new directory), to try replay on.
if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = path.resolve(process.argv[2] ?? '.windback');
  fs.mkdirSync(dir, { recursive: true });
  recordBank(dir).then(
    (recorded) => process.stdout.write(`recorded ${recorded.replies.length} answers into ${recorded.dir}\n`),
    (error: unknown) => {
      process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
