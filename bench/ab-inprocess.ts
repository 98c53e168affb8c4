import * as path from 'node:path';
import { openBaselineBank, render } from './baseline/bank-server.js';
import { collectGarbage, log, makeTempDir, median, removeDir } from './lib/common.js';
import { startInProcessRuntime, type InProcessRuntime } from './lib/inprocess-runner.js';
import { BANK_APP } from '../scripts/load.js';

// A/B comparison of two builds of the sources, in-process: CPU time per
// session (process.cpuUsage) of SessionRunner.run() for the bank app's
// `deposit` and `balance`, durability none, snapshots off, each build in its
// own runtime in this one process, rounds interleaved (the order of the
// builds alternates every round), plus the baseline handler (better-sqlite3,
// synchronous=OFF) for the added cost. Reports the median of the per-round
// B/A ratios, which cancels much of a shared machine's noise.
//
//   npm run build && cp -r dist scratch/ab/dist-base   # A: before the change
//   (change, npm run build)                            # B: dist/
//   node --expose-gc --import tsx bench/ab-inprocess.ts --a=scratch/ab/dist-base --b=dist [--rounds=11] [--sessions=3000] [--workloads=deposit,balance] [--snapshot-every=1000]
//
// Not a module of `npm run bench` (it takes two builds); a tool for changes.

const args = new Map(
  process.argv.slice(2).map((a) => {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown argument ${a}`);
    return [m[1], m[2] ?? 'true'] as const;
  }),
);
const dirA = path.resolve(args.get('a') ?? 'dist');
const dirB = path.resolve(args.get('b') ?? 'dist');
const ROUNDS = Number(args.get('rounds') ?? 11);
const SESSIONS = Number(args.get('sessions') ?? 3000);
const WORKLOADS = (args.get('workloads') ?? 'deposit,balance').split(',') as ('deposit' | 'balance')[];
const ACCOUNTS = 100;
/** --snapshot-every=N: take a snapshot every N write transactions, as `replay record` does by default (1000); default 0 (off). */
const SNAPSHOT_EVERY = Number(args.get('snapshot-every') ?? 0);

const meta0 = { host: '127.0.0.1:8080', 'content-type': 'application/json', 'content-length': '48' };

function input(w: string, accounts: string[], i: number): Record<string, unknown> {
  const account = accounts[(i * 37) % accounts.length];
  return w === 'deposit' ? { account, amount: 1 + (i % 97) } : { account };
}

interface Side {
  name: string;
  runtime: InProcessRuntime;
  accounts: string[];
  next: number;
}

async function open(name: string, dir: string, tmp: string): Promise<Side> {
  const runtime = await startInProcessRuntime(BANK_APP, path.join(tmp, name), { durability: 'none', snapshotEvery: SNAPSHOT_EVERY, distDir: dir });
  const accounts: string[] = [];
  for (let i = 0; i < ACCOUNTS; i++) {
    const r = await runtime.run({ kind: 'open', route: '/open', transport: 'json', input: { owner: `owner-${i}`, initial: 1_000_000 }, idempotencyKey: null, meta: meta0 });
    accounts.push((JSON.parse(Buffer.from(r.response.body).toString('utf8')) as { id: string }).id);
  }
  return { name, runtime, accounts, next: 0 };
}

async function time(side: Side, w: string, n: number): Promise<number> {
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const k = side.next++;
    const r = await side.runtime.run({ kind: w, route: `/${w}`, transport: 'json', input: input(w, side.accounts, k), idempotencyKey: null, meta: meta0 });
    if (r.status !== 'ok') throw new Error(`${side.name} ${w} failed: ${Buffer.from(r.response.body).toString('utf8')}`);
  }
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / n;
}

async function main(): Promise<void> {
  const tmp = makeTempDir('ab-inprocess');
  try {
    const a = await open('A', dirA, tmp);
    const b = await open('B', dirB, tmp);
    const bank = openBaselineBank(path.join(tmp, 'baseline.sqlite'), 'OFF');
    const baseAccounts: string[] = [];
    for (let i = 0; i < ACCOUNTS; i++) baseAccounts.push((bank.handlers.open({ owner: `owner-${i}`, initial: 1_000_000 }) as { id: string }).id);
    const baseline = (w: string, n: number): number => {
      const handler = bank.handlers[w as 'deposit'];
      const cpu0 = process.cpuUsage();
      for (let i = 0; i < n; i++) {
        const out = render(() => handler(input(w, baseAccounts, i)));
        if (out.status !== 200) throw new Error(`baseline ${w} failed`);
      }
      const cpu = process.cpuUsage(cpu0);
      return (cpu.user + cpu.system) / n;
    };
    for (const w of WORKLOADS) {
      await time(a, w, 1000);
      await time(b, w, 1000);
      baseline(w, 1000);
    }
    const res = new Map(WORKLOADS.map((w) => [w, { a: [] as number[], b: [] as number[], base: [] as number[] }]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const w of WORKLOADS) {
        const m = res.get(w)!;
        const order = r % 2 === 0 ? [a, b] : [b, a];
        for (const side of order) {
          collectGarbage();
          const us = await time(side, w, SESSIONS);
          (side === a ? m.a : m.b).push(us);
        }
        collectGarbage();
        m.base.push(baseline(w, SESSIONS));
        log(`round ${r + 1}/${ROUNDS} ${w}: A ${m.a[r].toFixed(1)} µs  B ${m.b[r].toFixed(1)} µs  B/A ${(m.b[r] / m.a[r]).toFixed(3)}  baseline ${m.base[r].toFixed(1)} µs`);
      }
    }
    for (const w of WORKLOADS) {
      const m = res.get(w)!;
      const ratios = m.a.map((v, i) => m.b[i] / v);
      const addedA = m.a.map((v, i) => v - m.base[i]);
      const addedB = m.b.map((v, i) => v - m.base[i]);
      console.log(
        `${w}: CPU µs/session A ${median(m.a).toFixed(1)}  B ${median(m.b).toFixed(1)}  B/A median ${median(ratios).toFixed(3)} (${Math.min(...ratios).toFixed(3)}..${Math.max(...ratios).toFixed(3)})  ` +
          `baseline ${median(m.base).toFixed(1)}  added A ${median(addedA).toFixed(1)}  added B ${median(addedB).toFixed(1)}`,
      );
    }
    await a.runtime.close();
    await b.runtime.close();
    bank.close();
  } finally {
    removeDir(tmp);
  }
}

await main();
