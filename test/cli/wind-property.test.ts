import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JournalReader } from '../../src/journal/index.js';
import { wind, type WindResult } from '../../src/services/wind.js';
import { replayAsync, tempDirs } from '../helpers/cli.js';
import { JournalScript, iso, type ScriptSession } from '../helpers/script-journal.js';

// For random interleavings of sessions, `wind --tx N` equals a brute-force
// answer computed from the records' positions alone: a session is alive at tx
// N when its session-start precedes N's write-tx record and its session-end
// (if any) follows it. The catalog is built half-way and updated at the end,
// so the incremental path is checked too, and against a rebuild.

const tmp = tempDirs();

type Op = [action: number, pick: number, extra: number];

/** Play `ops` into a journal; close and reopen the writer after op `split`. */
async function play(dir: string, ops: Op[], split: number, atSplit: () => void): Promise<void> {
  const j = await JournalScript.create(dir, { segmentBytes: 1500 });
  j.migration();
  const active: ScriptSession[] = [];
  for (let i = 0; i < ops.length; i++) {
    const [action, pick, extra] = ops[i];
    const a = action % 10;
    if (a < 3 || active.length === 0) {
      active.push(j.start(['transfer', 'deposit', 'balance'][pick % 3]));
    } else {
      const s = active[pick % active.length];
      if (a < 5) s.write();
      else if (a < 7) s.checkpoint(extra % 2 ? 'start' : 'before-response');
      else if (a === 7) s.value();
      else {
        s.end((['ok', 'error', 'aborted'] as const)[extra % 3]);
        active.splice(active.indexOf(s), 1);
      }
    }
    if (extra % 4 === 0) await j.commit();
    if (i === split) {
      await j.close();
      atSplit();
      await j.reopen();
    }
  }
  await j.close();
}

/** The expected wind result for every tx, from positions only. */
function bruteForce(dir: string): Map<number, WindResult> {
  const starts = new Map<number, { position: number; kind: string; at: number; startedAfterTx: number }>();
  const ends = new Map<number, { position: number; status: string }>();
  const checkpoints: { session: number; position: number; label: string }[] = [];
  const txs: { tx: number; session: number | null; position: number; at: number }[] = [];
  for (const { position, record } of JournalReader.open(dir).records()) {
    if (record.kind === 'session-start') starts.set(record.session, { position, kind: record.sessionKind, at: record.at, startedAfterTx: record.startedAfterTx });
    else if (record.kind === 'session-end') ends.set(record.session, { position, status: record.status });
    else if (record.kind === 'checkpoint') checkpoints.push({ session: record.session, position, label: record.label });
    else if (record.kind === 'write-tx') txs.push({ tx: record.tx, session: record.session, position, at: record.committedAt });
  }
  const out = new Map<number, WindResult>();
  for (const t of txs) {
    const alive: WindResult['alive'] = [];
    for (const [id, s] of [...starts].sort((a, b) => a[0] - b[0])) {
      const end = ends.get(id);
      if (!(s.position < t.position && (!end || end.position > t.position))) continue;
      const cps = checkpoints.filter((c) => c.session === id && c.position < t.position);
      const last = cps.at(-1);
      alive.push({
        id,
        kind: s.kind,
        status: (end?.status ?? 'open') as WindResult['alive'][number]['status'],
        startedAt: iso(s.at),
        startedAfterTx: s.startedAfterTx,
        lastCheckpoint: last ? { label: last.label, position: last.position } : null,
        txs: txs.filter((x) => x.session === id && x.tx <= t.tx).map((x) => x.tx),
      });
    }
    out.set(t.tx, { tx: t.tx, at: iso(t.at), alive });
  }
  return out;
}

function windAll(dir: string, last: number): WindResult[] {
  const out: WindResult[] = [];
  for (let tx = 1; tx <= last; tx++) out.push(wind({ journal: dir, tx }));
  return out;
}

const op: fc.Arbitrary<Op> = fc.tuple(fc.nat(99), fc.nat(99), fc.nat(99));

describe('wind --tx N, for random interleavings', () => {
  it('equals the brute-force answer from the records, incrementally and rebuilt', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 120 }), fc.nat(), async (ops, splitSeed) => {
        const dir = tmp('prop');
        const split = splitSeed % ops.length;
        let halfway: string | null = null;
        await play(dir, ops, split, () => {
          // Build the catalog half-way (a session may be open at this point).
          halfway = JSON.stringify(wind({ journal: dir, tx: 1 }));
        });
        expect(halfway).not.toBeNull();
        const expected = bruteForce(dir);
        const incremental = windAll(dir, expected.size);
        expect(incremental).toEqual([...expected.values()]);
        fs.rmSync(path.join(dir, 'catalog.sqlite'));
        expect(windAll(dir, expected.size)).toEqual(incremental);
        fs.rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: 60 },
    );
  });

  it('the binary agrees with the brute-force answer', async () => {
    const ops = fc.sample(fc.array(op, { minLength: 150, maxLength: 150 }), { seed: 4812, numRuns: 1 })[0];
    const dir = tmp('prop-bin');
    await play(dir, ops, 75, () => {});
    const expected = bruteForce(dir);
    const picks = [1, Math.ceil(expected.size / 3), Math.ceil((2 * expected.size) / 3), expected.size];
    const runs = await Promise.all(picks.map((tx) => replayAsync(['wind', '--tx', String(tx), '--json', '--journal', dir])));
    runs.forEach((r, i) => {
      expect(r.code, r.stderr).toBe(0);
      expect(r.json).toEqual(expected.get(picks[i]));
    });
    expect(runs.some((r) => r.json.alive.length > 1)).toBe(true);
  });
});
