// The bank's transfer session (fixtures/apps/bank/app.ts, kind `transfer`) as
// a Temporal workflow, step for step: the read of both accounts, the fraud
// score (the external call), the write transaction, the owner notification
// (the second external call the bank makes, through ctx.call) and the
// response. Database work is an activity in Temporal, as any I/O must be.
// Windback's checkpoint and its journaled values (crypto.randomUUID, Date)
// have no history events here: uuid4() and Date are deterministic inside a
// Temporal workflow.
//
// `transferBriefed` is the shorter shape the issue describes (a read, one
// activity for the external call, a write, the response), without the
// notification; the benchmark replays both.
import { ApplicationFailure, proxyActivities, uuid4 } from '@temporalio/workflow';

export interface TransferInput {
  from: string;
  to: string;
  amount: number;
}

export interface TransferResult {
  id: string;
  from: string;
  to: string;
  amount: number;
  risk: number;
  balance: number;
}

interface Activities {
  readAccounts(from: string, to: string): Promise<{ id: string; balance: number }[]>;
  scoreTransfer(input: TransferInput): Promise<{ risk: number }>;
  writeTransfer(input: TransferInput & { id: string; risk: number }): Promise<{ balance: number }>;
  notifyOwner(input: { account: string; transfer: string }): Promise<{ delivered: boolean }>;
}

const { readAccounts, scoreTransfer, writeTransfer, notifyOwner } = proxyActivities<Activities>({ startToCloseTimeout: '10s' });

async function transferSteps(input: TransferInput, notify: boolean): Promise<TransferResult> {
  const { from, to, amount } = input;
  if (!Number.isInteger(amount) || amount <= 0) throw ApplicationFailure.nonRetryable('amount must be a positive integer number of cents');
  if (from === to) throw ApplicationFailure.nonRetryable('cannot transfer to the same account');
  const accounts = await readAccounts(from, to);
  if (accounts.length !== 2) throw ApplicationFailure.nonRetryable(`unknown account ${accounts.some((a) => a.id === from) ? to : from}`);
  const { risk } = await scoreTransfer({ from, to, amount });
  if (risk > 0.95) throw ApplicationFailure.nonRetryable(`transfer refused: risk ${risk.toFixed(2)}`);
  const id = `tr_${uuid4().slice(0, 8)}`;
  const { balance } = await writeTransfer({ from, to, amount, id, risk });
  if (notify) await notifyOwner({ account: from, transfer: id });
  return { id, from, to, amount, risk, balance };
}

export async function transfer(input: TransferInput): Promise<TransferResult> {
  return transferSteps(input, true);
}

export async function transferBriefed(input: TransferInput): Promise<TransferResult> {
  return transferSteps(input, false);
}
