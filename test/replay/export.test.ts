import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replay } from '../helpers/cli.js';
import { recordBankJournal, type BankJournal } from '../tui/fixture.js';

// replay export --format chrome-trace: a file Perfetto and chrome://tracing
// open, checked against the trace event format's rules.

interface TraceEvent {
  name: string;
  ph: string;
  ts?: number;
  dur?: number;
  pid: number;
  tid: number;
  cat: string;
  args?: Record<string, unknown>;
}

let journal: BankJournal;
let tmp: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'windback-export-'));
  journal = await recordBankJournal(path.join(tmp, 'journal'), { extra: 30 });
}, 120_000);

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('replay export --format chrome-trace', () => {
  it('puts every session on a lane of its own while it runs, with its calls nested inside and its transactions on a track', () => {
    const out = path.join(tmp, 'trace.json');
    const r = replay(['export', '--format', 'chrome-trace', '--out', out, '--json', '-j', journal.dir]);
    expect(r.code, r.stderr).toBe(0);
    const sessions = replay(['sessions', '--json', '-j', journal.dir]).json as { id: number; kind: string }[];
    expect(r.json).toMatchObject({ format: 'chrome-trace', sessions: sessions.length });

    const trace = JSON.parse(fs.readFileSync(out, 'utf8')) as { traceEvents: TraceEvent[]; displayTimeUnit: string };
    expect(trace.displayTimeUnit).toBe('ms');
    for (const e of trace.traceEvents) {
      expect(['X', 'i', 'M']).toContain(e.ph);
      if (e.ph !== 'M') expect(Number.isInteger(e.ts) && e.ts! >= 0, JSON.stringify(e)).toBe(true);
      if (e.ph === 'X') expect(e.dur).toBeGreaterThan(0);
    }
    const slices = trace.traceEvents.filter((e) => e.ph === 'X' && e.cat.startsWith('session'));
    expect(slices.map((s) => s.args!.session).sort((a, b) => Number(a) - Number(b))).toEqual(sessions.map((s) => s.id));
    // Sessions on one lane never overlap.
    const byLane = new Map<number, TraceEvent[]>();
    for (const s of slices) byLane.set(s.tid, [...(byLane.get(s.tid) ?? []), s]);
    for (const lane of byLane.values()) {
      lane.sort((a, b) => a.ts! - b.ts!);
      for (let i = 1; i < lane.length; i++) expect(lane[i].ts!).toBeGreaterThanOrEqual(lane[i - 1].ts! + lane[i - 1].dur! - 1000);
    }
    // The held transfer's fraud check is a call slice inside its session's slice, on its lane.
    const transfer = slices.find((s) => s.args!.session === journal.transfer.session)!;
    const calls = trace.traceEvents.filter((e) => e.ph === 'X' && e.cat.startsWith('call') && e.tid === transfer.tid && e.ts! >= transfer.ts! && e.ts! <= transfer.ts! + transfer.dur!);
    expect(calls.map((c) => c.name)).toContain('call fetch');
    // Every write transaction of the exported sessions is on the transactions track.
    const txTrack = trace.traceEvents.filter((e) => e.pid === 2 && e.ph === 'i').map((e) => e.name);
    expect(txTrack).toContain(`tx ${journal.transfer.tx}`);
  });

  it('filters like replay sessions, and refuses an unknown format with exit 2', () => {
    const out = path.join(tmp, 'transfers.json');
    const r = replay(['export', '--out', out, '--kind', 'transfer', '--json', '-j', journal.dir]);
    expect(r.code, r.stderr).toBe(0);
    const kinds = new Set(JSON.parse(fs.readFileSync(out, 'utf8')).traceEvents.filter((e: TraceEvent) => e.ph === 'X' && e.cat.startsWith('session')).map((e: TraceEvent) => e.name.split(' ')[0]));
    expect([...kinds]).toEqual(['transfer']);
    const bad = replay(['export', '--format', 'svg', '--out', out, '-j', journal.dir]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n'), bad.stderr).toHaveLength(1);
  });
});
