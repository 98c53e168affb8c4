import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LoadClient, ROOT, spawnRecorder, type RecorderProcess } from '../../scripts/load.js';
import { tempDirs } from '../helpers/cli.js';

// GET /_windback/metrics of the real binary under `batch`: well-formed
// Prometheus text (every sample under a family declared once with HELP and
// TYPE), and figures that agree with what was sent, with /_windback/health
// and with the file system.

const BANK_APP = path.join(ROOT, 'fixtures', 'apps', 'bank', 'app.ts');
const tmp = tempDirs('windback-metrics');
let recorder: RecorderProcess | null = null;
let client: LoadClient | null = null;

afterAll(async () => {
  client?.close();
  await recorder?.kill('SIGKILL');
});

interface Family {
  help: string;
  type: string;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

/** Parse the text exposition format strictly: throws on any line it does not expect. */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const pending = new Map<string, Partial<Family>>();
  const lines = text.split('\n');
  expect(lines.at(-1), 'the text ends with a newline').toBe('');
  for (const line of lines.slice(0, -1)) {
    let m: RegExpExecArray | null;
    if ((m = /^# HELP ([a-z_:][a-z0-9_:]*) (.+)$/.exec(line))) {
      expect(families.has(m[1]) || pending.has(m[1]), `${m[1]} declared once`).toBe(false);
      pending.set(m[1], { help: m[2] });
    } else if ((m = /^# TYPE ([a-z_:][a-z0-9_:]*) (counter|gauge|summary)$/.exec(line))) {
      const declared = pending.get(m[1]);
      expect(declared, `HELP before TYPE for ${m[1]}`).toBeDefined();
      pending.delete(m[1]);
      families.set(m[1], { help: declared!.help!, type: m[2], samples: [] });
    } else if ((m = /^([a-z_:][a-z0-9_:]*)(?:\{((?:[a-z_]+="[^"]*",?)*)\})? (\S+)$/.exec(line))) {
      const [, name, labelText, value] = m;
      const family = families.get(name) ?? families.get(name.replace(/_(sum|count)$/, ''));
      expect(family, `sample ${name} under a declared family`).toBeDefined();
      if (family!.type !== 'summary') expect(name, `a ${family!.type} sample is named as its family`).toBe([...families].find(([, f]) => f === family)![0]);
      const labels = Object.fromEntries([...(labelText ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
      expect(Number.isFinite(Number(value)), `${line}: a number`).toBe(true);
      family!.samples.push({ name, labels, value: Number(value) });
    } else {
      throw new Error(`unexpected line in the metrics: ${JSON.stringify(line)}`);
    }
  }
  expect([...pending.keys()], 'HELP without TYPE').toEqual([]);
  return families;
}

function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name.replace(/_(sum|count)$/, '')) ?? families.get(name);
  const sample = family?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (sample === undefined) throw new Error(`no sample ${name} ${JSON.stringify(labels)}`);
  return sample.value;
}

describe('GET /_windback/metrics', () => {
  it('is well-formed and counts sessions, transactions, journal bytes, fsyncs and the chain head', { timeout: 60_000 }, async () => {
    const journal = tmp();
    recorder = await spawnRecorder(BANK_APP, { journal, args: ['--durability', 'batch'] });
    client = new LoadClient(recorder.url);
    const opened = await client.json('/open', { owner: 'ann', initial: 100 });
    expect(opened.status).toBe(200);
    const account = (opened.value as { id: string }).id;
    for (let i = 1; i <= 10; i++) expect((await client.json('/deposit', { account, amount: i })).status).toBe(200);
    // Business errors: a 404 and a 400, each a session that ends `error`.
    expect((await client.json('/deposit', { account: 'acc_nobody', amount: 5 })).status).toBe(404);
    expect((await client.json('/deposit', { account, amount: -1 })).status).toBe(400);

    const health = JSON.parse((await client.request('GET', '/_windback/health')).body.toString('utf8')) as Record<string, unknown>;
    const r = await client.request('GET', '/_windback/metrics');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parseExposition(r.body.toString('utf8'));

    expect(value(families, 'windback_sessions_total', { status: 'ok' })).toBe(11);
    expect(value(families, 'windback_sessions_total', { status: 'error' })).toBe(2);
    expect(value(families, 'windback_sessions_total', { status: 'aborted' })).toBe(0);
    expect(value(families, 'windback_sessions_resumed_total')).toBe(0);
    // Two migrations, one open and ten deposits.
    expect(value(families, 'windback_transactions_total')).toBe(13);
    expect(value(families, 'windback_transactions_total')).toBe(health.lastTx);
    expect(value(families, 'windback_journal_bytes')).toBe(health.journalBytes);
    // Every response waited for an fdatasync (batch): at least one per request sent one at a time.
    const syncs = value(families, 'windback_fsync_seconds_count');
    expect(syncs).toBeGreaterThanOrEqual(13);
    expect(value(families, 'windback_fsync_seconds_sum')).toBeGreaterThan(0);
    expect(value(families, 'windback_fsync_seconds_max')).toBeLessThanOrEqual(value(families, 'windback_fsync_seconds_sum'));
    expect(value(families, 'windback_fsync_thread_pool_total')).toBeLessThanOrEqual(syncs);
    // The journal's file system, as statfs says (other work on the machine moves it a little).
    const fsStats = fs.statfsSync(journal);
    const free = value(families, 'windback_journal_disk_free_bytes');
    expect(Number.isInteger(free) && free > 0).toBe(true);
    expect(Math.abs(free - fsStats.bavail * fsStats.bsize)).toBeLessThan(0.05 * fsStats.blocks * fsStats.bsize);
    const head = families.get('windback_chain_head')!.samples;
    expect(head).toHaveLength(1);
    expect(head[0].labels.head).toBe(health.chainHead);
    expect(head[0].labels.head).toMatch(/^[0-9a-f]{64}$/);
  });
});
