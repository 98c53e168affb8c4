// `npm run demo`: record a real workload with the real binary, crash it, and
// look at the journal.
//
// 1. Start the bank app's fraud-scoring stub, then `replay record
//    fixtures/apps/bank/app.ts` as a child process on a fresh journal.
// 2. Drive a few hundred concurrent requests over JSON routes, JSON-RPC 2.0
//    and XML-RPC: accounts, deposits, transfers (some failing with business
//    errors), balances and statements, some with Idempotency-Keys.
// 3. SIGKILL the server in the middle of the load and restart it with the
//    same command: the sessions the crash interrupted resume.
// 4. Finish the load, stop the server with SIGTERM, and show `replay info`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startStub, type RunningStub } from '../fixtures/apps/bank/stub.js';
import { JournalReader } from '../src/journal/index.js';
import {
  bankOp,
  killAllChildren,
  LoadClient,
  pool,
  runReplay,
  seededRandom,
  spawnRecorder,
  TRANSPORTS,
  type BankOp,
  type CallOutcome,
  type RecorderOptions,
  type RecorderProcess,
  type Transport,
} from './load.js';

const APP = 'fixtures/apps/bank/app.ts';
const journal = path.resolve(process.env.REPLAY_JOURNAL ?? '.windback');
const LOAD = 360;
const CONCURRENCY = 48;
const CRASH_AFTER = Math.floor(LOAD * 0.45);
const bold = (text: string): string => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);

/** What is running, for the cleanup on exit or error. */
const running: { stub: RunningStub | null; server: RecorderProcess | null } = { stub: null, server: null };
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.once(signal, () => {
    killAllChildren();
    process.exit(code);
  });
}

interface Tally {
  sent: number;
  answered: number;
  ok: number;
  businessErrors: number;
  cut: number;
}
const tally = new Map<Transport, Tally>(TRANSPORTS.map((t) => [t, { sent: 0, answered: 0, ok: 0, businessErrors: 0, cut: 0 }]));
/** Per intent ('transfer', 'insufficient funds', ...): how many were answered ok, and how many refused. */
const outcomes = new Map<string, { ok: number; refused: number }>();

function count(op: BankOp, outcome: CallOutcome): void {
  const t = tally.get(op.transport)!;
  t.answered++;
  if (outcome.ok) t.ok++;
  else t.businessErrors++;
  const o = outcomes.get(op.label) ?? { ok: 0, refused: 0 };
  outcomes.set(op.label, o);
  if (outcome.ok) o.ok++;
  else o.refused++;
}

/**
 * Why the demo must not delete `dir` to record afresh, or null when it may:
 * REPLAY_JOURNAL may name a journal of the user's own (set in the shell to
 * investigate it), which a demo must never wipe. ./.windback, in this
 * repository, is the demo's; so is a directory that holds nothing, or a
 * journal of the demo's bank app.
 */
function refusesToReplace(dir: string): string | null {
  if (!process.env.REPLAY_JOURNAL || !fs.existsSync(dir)) return null;
  if (!fs.statSync(dir).isDirectory()) return 'it is not a directory';
  if (fs.readdirSync(dir).length === 0) return null;
  try {
    for (const { record } of JournalReader.open(dir).records()) {
      if (record.kind === 'process-start') return record.app === 'bank' ? null : `it holds a journal of the app "${record.app}"`;
    }
  } catch {
    // Not a journal, or a damaged one: not the demo's to delete.
  }
  return 'it holds something other than a journal the demo recorded';
}

async function main(): Promise<void> {
  const started = performance.now();
  const refusal = refusesToReplace(journal);
  if (refusal !== null) {
    console.error(`demo: REPLAY_JOURNAL names ${journal}, and ${refusal}; the demo records into a fresh journal and would delete it. Unset REPLAY_JOURNAL (the demo then uses ./.windback) or point it at a new directory.`);
    process.exitCode = 2;
    return;
  }
  fs.rmSync(journal, { recursive: true, force: true });
  fs.mkdirSync(journal, { recursive: true });
  const stub = (running.stub = await startStub(0));
  const options: RecorderOptions = { journal, config: { fraudUrl: stub.url } };
  console.log(`${bold('$ replay record')} ${APP} --port 0 --journal ${path.relative(process.cwd(), journal) || '.'} --config '{"fraudUrl":"${stub.url}"}'`);
  let server = (running.server = await spawnRecorder(APP, options));
  console.log(`  listening on ${server.url} (pid ${server.pid})`);
  const client = new LoadClient(server.url, { maxSockets: CONCURRENCY });

  // Accounts first, over all three transports.
  const random = seededRandom(4812);
  const accounts: string[] = [];
  await pool(
    Array.from({ length: 24 }, (_, i) => i),
    12,
    async (i) => {
      const transport = TRANSPORTS[i % 3];
      const op: BankOp = { transport, kind: 'open', input: { owner: `customer-${i}`, initial: 20_000 + i * 2_500 }, label: 'open' };
      tally.get(transport)!.sent++;
      const outcome = await client.call(transport, 'open', op.input);
      count(op, outcome);
      if (outcome.ok) accounts.push((outcome.value as { id: string }).id);
    },
  );

  // The load, with one crash in the middle of it.
  const ops = Array.from({ length: LOAD }, (_, i) => bankOp(random, accounts, 'demo', i));
  let answered = 0;
  let inFlight = 0;
  let retried = 0;
  let restarting: Promise<void> | null = null;
  let crashedAt = 0;
  let resumedAtStart = 0;
  const crash = async (): Promise<void> => {
    crashedAt = answered;
    console.log(`\n${bold('SIGKILL')} the server after ${answered} of ${LOAD} load requests were answered (${inFlight} in flight)`);
    await server.kill('SIGKILL');
    const lines: string[] = [];
    server = running.server = await spawnRecorder(APP, { ...options, onLine: (line) => lines.push(line) });
    client.url = server.url;
    const resuming = lines.map((l) => /resuming (\d+) session/.exec(l)).find(Boolean);
    resumedAtStart = resuming ? Number(resuming[1]) : 0;
    console.log(`restarted with the same command: listening on ${server.url}; ${lines.filter((l) => !/listening on/.test(l)).join('; ')}`);
  };
  await pool(ops, CONCURRENCY, async (op) => {
    for (let attempt = 0; ; attempt++) {
      if (restarting) await restarting;
      if (attempt === 0) tally.get(op.transport)!.sent++;
      inFlight++;
      try {
        const outcome = await sendOp(client, op);
        inFlight--;
        count(op, outcome);
        if (++answered === CRASH_AFTER && !restarting) restarting = crash();
        return;
      } catch {
        inFlight--;
        // Cut by the crash. The server resumes its session; a request with an
        // Idempotency-Key (or a read) is safe to send again, and gets the
        // resumed session's journaled response. Anything else is not retried.
        if (!restarting) await new Promise((resolve) => setTimeout(resolve, 10));
        const safe = op.idempotencyKey !== undefined || op.kind === 'balance' || op.kind === 'statement';
        if (!safe || attempt >= 3) {
          tally.get(op.transport)!.cut++;
          return;
        }
        retried++;
      }
    }
  });
  await restarting;

  // Idempotency-Keys: a duplicate, and a conflicting reuse.
  const [a, b] = accounts;
  const first = await client.json('/deposit', { account: a, amount: 1_234 }, { idempotencyKey: 'demo-deposit-1' });
  const again = await client.json('/deposit', { account: a, amount: 1_234 }, { idempotencyKey: 'demo-deposit-1' });
  const reuse = await client.json('/deposit', { account: b, amount: 99 }, { idempotencyKey: 'demo-deposit-1' });
  for (const outcome of [first, again, reuse]) {
    tally.get('json')!.sent++;
    count({ transport: 'json', kind: 'deposit', input: {}, label: 'Idempotency-Key demo' }, outcome);
  }
  console.log(
    `\nIdempotency-Key demo-deposit-1: first answer ${first.status} from session ${first.session}; ` +
      `the duplicate got ${again.status} from session ${again.session} (${again.body.equals(first.body) ? 'the same bytes' : 'DIFFERENT bytes'}); ` +
      `reusing the key for another body got ${reuse.status} ${reuse.error?.name ?? ''}`,
  );

  console.log(`\n${bold('SIGTERM')}: the server drains in-flight sessions and closes the journal`);
  const exit = await server.stop();
  running.server = null;
  client.close();
  await stub.close();
  const stats = stub.stats();
  running.stub = null;
  if (exit.code !== 0) throw new Error(`replay record exited with ${exit.code ?? exit.signal} after SIGTERM`);

  // What the journal says about the crash.
  let resumed = 0;
  let sessions = 0;
  const ended = new Map<string, number>();
  const transferTxs: number[] = [];
  const transferSessions = new Set<number>();
  for (const { record } of JournalReader.open(journal).records()) {
    if (record.kind === 'session-start') {
      sessions++;
      if (record.sessionKind === 'transfer') transferSessions.add(record.session);
    }
    if (record.kind === 'session-attempt' && record.reason === 'resume') resumed++;
    if (record.kind === 'session-end') ended.set(record.status, (ended.get(record.status) ?? 0) + 1);
    if (record.kind === 'write-tx' && record.session !== null && transferSessions.has(record.session)) transferTxs.push(record.tx);
  }

  console.log(`\n${bold('Summary')} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  console.log('  transport   sent  answered  ok  business errors  cut by the crash');
  for (const [transport, t] of tally) {
    console.log(
      `  ${transport.padEnd(9)} ${String(t.sent).padStart(6)} ${String(t.answered).padStart(9)} ${String(t.ok).padStart(3)} ${String(t.businessErrors).padStart(16)} ${String(t.cut).padStart(17)}`,
    );
  }
  const shown = [...outcomes].map(([label, o]) => `${label} ${[o.ok ? `${o.ok} ok` : '', o.refused ? `${o.refused} refused` : ''].filter(Boolean).join('/')}`);
  console.log(`  by intent: ${shown.join(', ')}`);
  console.log(
    `  crash after ${crashedAt} answers; ${resumedAtStart} session(s) resumed on restart (${resumed} resume attempt(s) in the journal); ${retried} cut request(s) sent again`,
  );
  console.log(`  sessions: ${sessions} (${[...ended].map(([s, n]) => `${n} ${s}`).join(', ')}); fraud stub: ${stats.requests} requests`);

  console.log(`\n${bold('$ replay info')}`);
  const info = await runReplay(['info', '--journal', journal]);
  process.stdout.write(info.stdout);
  if (info.code !== 0) throw new Error(`replay info exited ${info.code}: ${info.stderr}`);

  const tx = transferTxs[Math.floor(transferTxs.length / 2)] ?? 1;
  const flag = process.env.REPLAY_JOURNAL ? ` --journal ${journal}` : '';
  console.log(`
Next, try:
  npx replay sessions --status error${flag}
  npx replay wind --tx ${tx}${flag}
  npx replay sessions --kind transfer --limit 5${flag}
  npx replay tui --tx ${tx}${flag}
  npx replay verify${flag}
`);
}

function sendOp(client: LoadClient, op: BankOp): Promise<CallOutcome> {
  return client.call(op.transport, op.kind, op.input, { idempotencyKey: op.idempotencyKey });
}

try {
  await main();
} catch (error) {
  process.exitCode = 1;
  console.error(`demo failed: ${(error as Error).stack ?? String(error)}`);
  if (running.server) console.error(`server stderr:\n${running.server.stderr()}`);
} finally {
  killAllChildren();
  await running.stub?.close();
}
