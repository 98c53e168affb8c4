import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JournalReader } from '../../src/journal/index.js';
import type { SnapshotRecord } from '../../src/model/records.js';
import { startServer, type RunningServer } from '../../src/runtime/server.js';
import { openSnapshotCopy, sha256OfFile } from '../../src/store/index.js';
import { replay, ROOT, tempDirs } from '../helpers/cli.js';

// When the runtime snapshots its database: after every N write transactions
// (--snapshot-every), and, with --snapshot-growth R, not before the journal has
// grown by R times the database's size since the last snapshot began.

const BANK_APP = path.join(ROOT, 'fixtures', 'apps', 'bank', 'app.ts');
const DEPOSITS = 150;
const tmp = tempDirs('windback-snapshot-cadence');
let server: RunningServer | null = null;

afterEach(async () => {
  await server?.close();
  server = null;
});

async function post(url: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

interface Recorded {
  dir: string;
  snapshots: SnapshotRecord[];
  /** Journal position of each transaction's write-tx record. */
  txPosition: Map<number, number>;
  /** /_windback/metrics after the last deposit. */
  metrics: string;
}

/** Deposits one after the other, snapshots considered at every transaction; the snapshot records of the journal. */
async function record(snapshotGrowth: number): Promise<Recorded> {
  const dir = tmp();
  server = await startServer(BANK_APP, { journal: dir, port: 0, durability: 'none', snapshotEvery: 1, snapshotGrowth, log: () => {} });
  // A database of some size first (about 80 KB), so that half of it is many sessions' worth of journal.
  for (let i = 0; i < 10; i++) {
    await Promise.all(Array.from({ length: 20 }, (_, j) => post(`${server!.url}/open`, { owner: `owner-${i}-${j}`, initial: 100 })));
  }
  const { id } = await post(`${server.url}/open`, { owner: 'ann', initial: 100 });
  for (let i = 0; i < DEPOSITS; i++) await post(`${server.url}/deposit`, { account: id, amount: 1 + i });
  const metrics = await (await fetch(`${server.url}/_windback/metrics`)).text();
  await server.close();
  server = null;
  const reader = JournalReader.open(dir);
  const snapshots: SnapshotRecord[] = [];
  const txPosition = new Map<number, number>();
  for (const { position, record } of reader.records()) {
    if (record.kind === 'snapshot') snapshots.push(record);
    if (record.kind === 'write-tx') txPosition.set(record.tx, position);
  }
  return { dir, snapshots, txPosition, metrics };
}

describe('snapshot cadence', () => {
  it('with --snapshot-growth 0.5, waits for the journal to grow by half the database between snapshots', { timeout: 60_000 }, async () => {
    const { dir, snapshots, txPosition, metrics } = await record(0.5);
    // The metrics count them (the last one may still have been in flight when they were read).
    const metric = (name: string): number => Number(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(metrics)?.[1]);
    expect(metric('windback_snapshots_total{result="failed"}')).toBe(0);
    expect([snapshots.length - 1, snapshots.length]).toContain(metric('windback_snapshots_total{result="ok"}'));
    expect(metric('windback_snapshot_seconds_count')).toBe(metric('windback_snapshots_total{result="ok"}'));
    expect(snapshots.map((s) => s.tx)).toContain(metric('windback_snapshot_last_tx'));
    expect(snapshots.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < snapshots.length; i++) {
      const [a, b] = [snapshots[i - 1], snapshots[i]];
      const grown = txPosition.get(b.tx)! - txPosition.get(a.tx)!;
      // The growth is counted from when `a` began, in sealed batches: allow one session's records of slack.
      expect(grown, `journal bytes between the snapshots at tx ${a.tx} and tx ${b.tx}`).toBeGreaterThanOrEqual(0.5 * a.bytes - 4096);
    }
    // And each snapshot is a sound copy of the state at its transaction.
    const last = snapshots.at(-1)!;
    const file = path.join(dir, last.file);
    expect(await sha256OfFile(file)).toBe(last.sha256);
    expect(fs.statSync(file).size).toBe(last.bytes);
    const copy = openSnapshotCopy(file, path.join(tmp(), 'copy.sqlite'), { sha256: last.sha256 });
    try {
      expect(copy.lastAppliedTx).toBe(last.tx);
    } finally {
      copy.close();
    }
  });

  it('with --snapshot-growth 0, snapshots every N transactions, however little the journal grew', { timeout: 60_000 }, async () => {
    const { snapshots, txPosition } = await record(0);
    // One at a time: a transaction that commits while a snapshot is being taken does not start another.
    expect(snapshots.length).toBeGreaterThan(DEPOSITS / 30);
    const grown = snapshots.slice(1).map((b, i) => txPosition.get(b.tx)! - txPosition.get(snapshots[i].tx)! - 0.5 * snapshots[i].bytes);
    expect(Math.min(...grown)).toBeLessThan(-4096);
  });
});

describe('snapshot files a crash left behind', () => {
  it('are removed at start: a snapshot being written when the process died, not the finished ones', { timeout: 60_000 }, async () => {
    const dir = tmp();
    const snapshots = path.join(dir, 'snapshots');
    fs.mkdirSync(snapshots, { recursive: true });
    const unfinished = ['pending-4242.sqlite', 'pending-4242.sqlite.partial', 'pending-17.sqlite.partial-journal'];
    for (const name of [...unfinished, 'tx-0000000007.sqlite', 'notes.txt']) fs.writeFileSync(path.join(snapshots, name), 'x'.repeat(100));
    server = await startServer(BANK_APP, { journal: dir, port: 0, durability: 'none', snapshotEvery: 0, log: () => {} });
    expect(fs.readdirSync(snapshots).sort()).toEqual(['notes.txt', 'tx-0000000007.sqlite']);
  });
});

describe('a snapshot that fails', () => {
  it('is logged and counted, and the server goes on answering', { timeout: 60_000 }, async () => {
    const dir = tmp();
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'snapshots'), 'not a directory'); // every snapshot fails
    const lines: string[] = [];
    server = await startServer(BANK_APP, { journal: dir, port: 0, durability: 'none', snapshotEvery: 1, snapshotGrowth: 0, log: (line) => lines.push(line) });
    const { id } = await post(`${server.url}/open`, { owner: 'ann', initial: 100 });
    for (let i = 0; i < 5; i++) await post(`${server.url}/deposit`, { account: id, amount: 1 });
    const metrics = await (await fetch(`${server.url}/_windback/metrics`)).text();
    const failed = Number(/^windback_snapshots_total\{result="failed"\} (\d+)$/m.exec(metrics)?.[1]);
    expect(failed).toBeGreaterThanOrEqual(1);
    expect(metrics).toMatch(/^windback_snapshots_total\{result="ok"\} 0$/m);
    const warnings = lines.filter((l) => l.startsWith('warning: snapshot failed: '));
    expect(warnings.length).toBeGreaterThanOrEqual(failed - 1); // the last may still be in flight
    expect(warnings[0]).toMatch(/snapshots.*; rebuilds start from an earlier snapshot until one succeeds$/);
    await server.close();
    server = null;
  });
});

describe('replay record --snapshot-growth', () => {
  it.each(['lots', '', 'NaN'])('refuses %j with a one-line usage error and exit 2, before touching the journal', (value) => {
    const dir = path.join(tmp(), 'journal');
    const r = replay(['record', BANK_APP, '--port', '0', '--journal', dir, '--snapshot-growth', value]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`--snapshot-growth must be a number from 0, not "${value}"`);
    expect(fs.existsSync(dir)).toBe(false);
  });
});
