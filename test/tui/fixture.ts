import * as path from 'node:path';
import { startStub } from '../../fixtures/apps/bank/stub.js';
import { BANK_APP, LoadClient, bankOp, seededRandom } from '../../scripts/load.js';
import { startServer } from '../../src/runtime/server.js';

// A small bank journal for the TUI tests, recorded by the real recording
// server (in process) against the real fraud-scoring stub. Its shape is fixed:
//
//   tx 1-2   the two migrations
//   tx 3-5   open alice, bob, carol                      (sessions 1-3)
//   tx 6     deposit to alice                            (session 4)
//   session 5: transfer alice -> bob; its fraud check is held open while
//   tx 7     deposit to bob                              (session 6)
//            and a balance read                          (session 7) run,
//   tx 8     then the transfer commits and notifies
//            a transfer refused for insufficient funds   (session 8)
//            a statement                                 (session 9)
//
// so at tx 7 sessions 5 and 6 are alive, session 5 past its "validated"
// checkpoint. `extra` appends that many seeded random bank requests after.
// Replayed with fixtures/apps/bank-changed/app.ts, session 5 diverges at tx 8.
// `retried` appends, last, a transfer whose first fraud check answers 503:
// the app throws RetryableError and the runtime runs it again from its
// `validated` checkpoint (two attempts, the second inheriting the first's
// read and checkpoint).

export const BANK_CHANGED_APP = path.resolve(path.dirname(BANK_APP), '..', 'bank-changed', 'app.ts');

export interface BankJournal {
  dir: string;
  alice: string;
  bob: string;
  carol: string;
  /** The held transfer (session 5) and the tx it committed. */
  transfer: { session: number; tx: number };
  /** With `retried`: the transfer that took two attempts. */
  retried: number | null;
}

export async function recordBankJournal(dir: string, options: { extra?: number; retried?: boolean } = {}): Promise<BankJournal> {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let held!: () => void;
  const arrived = new Promise<void>((resolve) => (held = resolve));
  let holding = true;
  let failScore = false;
  const stub = await startStub(0, {
    fail: (route) => {
      if (!failScore || route !== '/score') return false;
      failScore = false;
      return true;
    },
    hold: (route) => {
      if (!holding || route !== '/score') return;
      holding = false;
      held();
      return gate;
    },
  });
  const server = await startServer(BANK_APP, { journal: dir, config: { fraudUrl: stub.url }, durability: 'none', timeZone: 'UTC', locale: 'en-US' });
  const client = new LoadClient(server.url);
  try {
    const id = async (owner: string, initial: number): Promise<string> => {
      const r = await client.json('/open', { owner, initial });
      if (!r.ok) throw new Error(`open ${owner} failed: ${r.body.toString()}`);
      return (r.value as { id: string }).id;
    };
    const alice = await id('alice', 100_000);
    const bob = await id('bob', 5_000);
    const carol = await id('carol', 20_000);
    await client.json('/deposit', { account: alice, amount: 2_500 });
    const transfer = client.json('/transfer', { from: alice, to: bob, amount: 1_200 });
    await arrived;
    await client.json('/deposit', { account: bob, amount: 300 });
    await client.json('/balance', { account: carol });
    release();
    const done = await transfer;
    if (!done.ok || done.session === null) throw new Error(`the held transfer failed: ${done.body.toString()}`);
    await client.json('/transfer', { from: bob, to: carol, amount: 100_000 });
    await client.json('/statement', { account: alice, limit: 3 });
    const random = seededRandom(90);
    const accounts = [alice, bob, carol];
    for (let i = 0; i < (options.extra ?? 0); i++) {
      const op = bankOp(random, accounts, 'fixture', i);
      const r = await client.call(op.transport, op.kind, op.input, { idempotencyKey: op.idempotencyKey });
      if (op.kind === 'open' && r.ok) accounts.push((r.value as { id: string }).id);
    }
    let retried: number | null = null;
    if (options.retried) {
      failScore = true;
      const r = await client.json('/transfer', { from: carol, to: alice, amount: 700 });
      if (!r.ok || r.session === null || failScore) throw new Error(`the retried transfer failed: ${r.body.toString()}`);
      retried = r.session;
    }
    return { dir, alice, bob, carol, transfer: { session: done.session, tx: 8 }, retried };
  } finally {
    release();
    client.close();
    await server.close();
    await stub.close();
  }
}

// `npx tsx test/tui/fixture.ts <dir> [extra]`: record one by hand, to try the TUI on.
if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = path.resolve(process.argv[2] ?? '.windback');
  void recordBankJournal(dir, { extra: Number(process.argv[3] ?? 0) }).then(
    (j) => process.stdout.write(`recorded ${j.dir}\n`),
    (error) => {
      process.stderr.write(`${(error as Error).stack}\n`);
      process.exitCode = 1;
    },
  );
}
