// The bank's `open`, `deposit` and `balance` on a plain node:http +
// better-sqlite3 server, without Windback: the baseline of
// bench/recording-overhead.ts. Same schema (the app's two migrations), same
// SQL statements, same validation, same JSON bodies and content type as
// fixtures/apps/bank/app.ts served by `replay record` (less the
// Windback-Session header). Statements are prepared once, as a careful
// hand-written server would; the database is in WAL mode like Windback's live
// database, with `synchronous` as asked: FULL (every commit is durable: one
// WAL sync per write transaction) or OFF (not durable).
//
//   node --import tsx bench/baseline/bank-server.ts --db FILE [--synchronous FULL|OFF] [--port 0]
//
// Prints "listening on http://..." on stderr once it serves (the line
// scripts/load.ts spawnServer() waits for); SIGTERM closes it.
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';

/** The app's migrations, verbatim (fixtures/apps/bank/app.ts). */
export const BANK_MIGRATIONS = [
  `CREATE TABLE accounts (id TEXT PRIMARY KEY, owner TEXT NOT NULL, balance INTEGER NOT NULL DEFAULT 0, opened_at TEXT NOT NULL);
            CREATE TABLE ledger (id INTEGER PRIMARY KEY, account TEXT NOT NULL, amount INTEGER NOT NULL, memo TEXT, at TEXT NOT NULL);
            CREATE INDEX ledger_by_account ON ledger(account);`,
  `CREATE TABLE transfers (id TEXT PRIMARY KEY, source TEXT NOT NULL, target TEXT NOT NULL, amount INTEGER NOT NULL, risk REAL NOT NULL, at TEXT NOT NULL);`,
];

export type Synchronous = 'FULL' | 'OFF';

export class BusinessError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'BusinessError';
  }
}

function cents(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new BusinessError(400, `${field} must be a positive integer number of cents`);
  return value;
}

export interface BaselineBank {
  db: Database.Database;
  handlers: Record<'open' | 'deposit' | 'balance', (input: unknown) => unknown>;
  close(): void;
}

/** The bank's handlers over a fresh (or migrated) database file. */
export function openBaselineBank(file: string, synchronous: Synchronous): BaselineBank {
  const db = new Database(file);
  if (file !== ':memory:') db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  const hasAccounts = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'accounts'`).get();
  if (!hasAccounts) for (const sql of BANK_MIGRATIONS) db.exec(sql);

  const insertAccount = db.prepare('INSERT INTO accounts (id, owner, balance, opened_at) VALUES (?, ?, ?, ?)');
  const insertLedger = db.prepare('INSERT INTO ledger (account, amount, memo, at) VALUES (?, ?, ?, ?)');
  const selectBalance = db.prepare('SELECT balance FROM accounts WHERE id = ?');
  const credit = db.prepare('UPDATE accounts SET balance = balance + ? WHERE id = ?');
  const selectBalanceOwner = db.prepare('SELECT balance, owner FROM accounts WHERE id = ?');

  const openTx = db.transaction((id: string, owner: string, initial: number, now: string) => {
    insertAccount.run(id, owner, initial, now);
    if (initial > 0) insertLedger.run(id, initial, 'opening deposit', now);
  });
  const depositTx = db.transaction((account: string, amount: number) => {
    const row = selectBalance.get(account) as { balance: number } | undefined;
    if (!row) throw new BusinessError(404, `no account ${account}`);
    credit.run(amount, account);
    insertLedger.run(account, amount, 'deposit', new Date().toISOString());
    return row.balance + amount;
  });

  const handlers = {
    open(raw: unknown) {
      const input = raw as { owner?: unknown; initial?: unknown } | null;
      if (typeof input?.owner !== 'string' || input.owner === '') throw new BusinessError(400, 'owner is required');
      const id = `acc_${randomUUID().slice(0, 8)}`;
      const now = new Date().toISOString();
      const initial = input.initial === undefined ? 0 : cents(input.initial, 'initial');
      openTx(id, input.owner, initial, now);
      return { id, owner: input.owner, balance: initial };
    },
    deposit(raw: unknown) {
      const input = raw as { account?: unknown; amount?: unknown } | null;
      const amount = cents(input?.amount, 'amount');
      const account = String(input?.account ?? '');
      const balance = depositTx(account, amount);
      return { account, balance };
    },
    balance(raw: unknown) {
      const input = raw as { account?: unknown } | null;
      const account = String(input?.account ?? '');
      const row = selectBalanceOwner.get(account) as { balance: number; owner: string } | undefined;
      if (!row) throw new BusinessError(404, `no account ${account}`);
      return { account, owner: row.owner, balance: row.balance };
    },
  };
  return { db, handlers, close: () => db.close() };
}

const JSON_TYPE = 'application/json; charset=utf-8';

export interface Rendered {
  status: number;
  body: Buffer;
}

/** A handler's outcome as Windback renders it for the JSON transport (status, then the same body bytes). */
export function render(run: () => unknown): Rendered {
  try {
    const output = run();
    return { status: 200, body: Buffer.from(JSON.stringify(output === undefined ? null : output)) };
  } catch (error) {
    const status = error instanceof BusinessError ? error.status : 500;
    const body =
      status === 500
        ? { error: { name: 'InternalError', message: 'the session failed; its error is in the journal' } }
        : { error: { name: (error as Error).name, message: (error as Error).message } };
    return { status, body: Buffer.from(JSON.stringify(body)) };
  }
}

export function startBaselineServer(bank: BaselineBank, port = 0, host = '127.0.0.1'): Promise<http.Server> {
  const routes = new Map(Object.entries(bank.handlers).map(([kind, handler]) => [`/${kind}`, handler]));
  const send = (res: http.ServerResponse, status: number, body: Buffer): void => {
    res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': body.byteLength });
    res.end(body);
  };
  const server = http.createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    const handler = routes.get(pathname);
    if (!handler) return send(res, 404, Buffer.from(JSON.stringify({ error: { name: 'NotFound', message: `no route ${pathname}` } })));
    if (req.method !== 'POST') return send(res, 405, Buffer.from(JSON.stringify({ error: { name: 'MethodNotAllowed', message: `${pathname} takes POST` } })));
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let input: unknown = null;
      if (body.length > 0) {
        try {
          input = JSON.parse(body.toString('utf8'));
        } catch (error) {
          return send(res, 400, Buffer.from(JSON.stringify({ error: { name: 'BadRequest', message: `malformed JSON: ${(error as Error).message}` } })));
        }
      }
      const out = render(() => handler(input));
      send(res, out.status, out.body);
    });
  });
  server.keepAliveTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

function parseArgs(argv: string[]): { db: string; synchronous: Synchronous; port: number } {
  let db: string | null = null;
  let synchronous: Synchronous = 'FULL';
  let port = 0;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--db') db = argv[++i];
    else if (arg === '--synchronous') {
      const value = String(argv[++i]).toUpperCase();
      if (value !== 'FULL' && value !== 'OFF') throw new Error('--synchronous takes FULL or OFF');
      synchronous = value;
    } else if (arg === '--port') port = Number(argv[++i]);
    else throw new Error(`unknown argument ${arg}`);
  }
  if (!db) throw new Error('usage: bank-server.ts --db FILE [--synchronous FULL|OFF] [--port N]');
  return { db, synchronous, port };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const args = parseArgs(process.argv.slice(2));
  const bank = openBaselineBank(args.db, args.synchronous);
  const server = await startBaselineServer(bank, args.port);
  const address = server.address() as { address: string; port: number };
  process.stderr.write(`baseline bank (synchronous=${args.synchronous}) listening on http://${address.address}:${address.port}\n`);
  const stop = (): void => {
    server.close(() => {
      bank.close();
      process.exit(0);
    });
    server.closeAllConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
