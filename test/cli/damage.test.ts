import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { JournalReader, segmentIndexOf, HEADER_SIZE } from '../../src/journal/index.js';
import { acquireLock } from '../../src/journal/lock.js';
import { ROOT, replay, replayAsync, tempDirs, type CliResult } from '../helpers/cli.js';
import { loadSchema, validate } from '../helpers/schema.js';
import { JournalScript } from '../helpers/script-journal.js';

// Damage seen through the CLI: corruption in committed data (exit 3 naming
// the position, `info` still exits 0), a torn tail (just the end), and
// `replay repair` reading out what a cut would lose, then cutting.

const tmp = tempDirs();
const infoSchema = loadSchema('info');
const repairSchema = loadSchema('repair');
const errorSchema = loadSchema('error');

/**
 * Batch 1: process start and migration (tx 1). Then sessions 1..8, one batch
 * each: start, checkpoint, write (tx i+1), response, end. Session 9 writes tx
 * 10 and stays open. Small segments, so the journal spans several files.
 */
async function bank(dir: string): Promise<JournalScript> {
  const j = await JournalScript.create(dir, { segmentBytes: 900 });
  j.processStart();
  j.migration();
  await j.commit();
  for (let i = 1; i <= 8; i++) {
    const s = j.start(i % 2 ? 'transfer' : 'deposit');
    s.checkpoint('start');
    s.write();
    s.respond();
    s.end('ok');
    await j.commit();
  }
  const s9 = j.start('transfer');
  s9.write();
  await j.close();
  return j;
}

function copyJournal(from: string, label: string): string {
  const to = tmp(label);
  fs.cpSync(from, to, { recursive: true });
  fs.rmSync(path.join(to, 'catalog.sqlite'), { force: true });
  return to;
}

/** Flip one byte of the record payload at `position` (the segment's size is unchanged). */
function damageAt(dir: string, position: number, offsetInRecord = 12): void {
  const layout = JournalReader.open(dir).layout;
  const seg = layout.segments[segmentIndexOf(layout, position)];
  const fd = fs.openSync(seg.path, 'r+');
  const at = HEADER_SIZE + (position - seg.header.baseOffset) + offsetInRecord;
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, at);
  b[0] ^= 0x5a;
  fs.writeSync(fd, b, 0, 1, at);
  fs.closeSync(fd);
}

function segments(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.endsWith('.wbj')).sort();
}

function fails(result: CliResult, exitCode: number, code: string, mention?: string | RegExp): void {
  expect(result.code, result.stdout + result.stderr).toBe(exitCode);
  expect(validate(result.json, errorSchema)).toEqual([]);
  expect(result.json.error.code).toBe(code);
  if (mention !== undefined) expect(result.json.error.message).toMatch(mention);
}

let clean: string;
let j: JournalScript;

beforeAll(async () => {
  clean = tmp('clean');
  j = await bank(clean);
});

describe('a corrupt journal', () => {
  let dir: string;
  let bad: number; // the damaged record: session 4's checkpoint
  let batchStart: number; // session 4's batch

  beforeAll(() => {
    dir = copyJournal(clean, 'corrupt');
    // Index the intact journal first: the catalog must notice the damage anyway.
    const indexed = replay(['sessions', '--json', '--journal', dir]);
    expect(indexed.code, indexed.stderr).toBe(0);
    bad = j.written.find((w) => w.session === 4 && w.kind === 'checkpoint')!.position;
    batchStart = j.batchEnds[3];
    damageAt(dir, bad);
  });

  it('info exits 0, reports the corruption and its position', () => {
    const r = replay(['info', '--json', '--journal', dir]);
    expect(r.code).toBe(0);
    expect(validate(r.json, infoSchema)).toEqual([]);
    expect(r.json).toMatchObject({ integrity: 'corrupt', firstBadOffset: bad, tornTailBytes: 0 });
    const human = replay(['info', '--journal', dir]);
    expect(human.stdout).toContain(`CORRUPT at position ${bad}`);
  });

  it('sessions and wind past the damage exit 3 naming the position; wind before it works', async () => {
    const [sessions, past, before, plain] = await Promise.all([
      replayAsync(['sessions', '--json', '--journal', dir]),
      replayAsync(['wind', '--tx', '9', '--json', '--journal', dir]),
      replayAsync(['wind', '--tx', '3', '--json', '--journal', dir]),
      replayAsync(['sessions', '--journal', dir]),
    ]);
    fails(sessions, 3, 'E_CORRUPT', new RegExp(`corrupt at position ${bad} \\(.*\\.wbj\\)`));
    fails(past, 3, 'E_CORRUPT', new RegExp(`tx 9.*position ${bad}`));
    expect(past.json.error.message).toContain(`replay repair --truncate-at ${bad}`);
    expect(before.code).toBe(0);
    expect(before.json.alive.map((s: { id: number }) => s.id)).toEqual([2]);
    expect(plain.code).toBe(3);
    expect(plain.stdout).toBe('');
    expect(plain.stderr).toMatch(new RegExp(`^replay: .*position ${bad}.*\\n$`));
  });

  it('repair without --yes says what would be lost and changes nothing', () => {
    const sizes = segments(dir).map((n) => fs.statSync(path.join(dir, n)).size);
    const r = replay(['repair', '--truncate-at', String(bad), '--json', '--journal', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(validate(r.json, repairSchema)).toEqual([]);
    const end = j.batchEnds.at(-1)!;
    expect(r.json).toMatchObject({
      truncateAt: bad,
      newEnd: batchStart, // batches are cut whole
      damage: { kind: 'corruption', position: bad },
      truncated: false,
      removedSegments: [],
    });
    // Readable from the new end on: every record of the damaged batch but the
    // damaged one (a cut loses them with it), then sessions 5 to 8 and 9.
    const readable = j.written.filter((w) => w.position >= batchStart && w.position !== bad);
    expect(r.json.lost).toMatchObject({
      records: readable.length,
      sessions: 6,
      transactions: 6, // tx 5 to 10; tx 5 sits in the damaged batch, after the damage
      firstTx: 5,
      lastTx: 10,
      bytes: end - batchStart,
    });
    expect(r.json.lost.unreadableBytes).toBeGreaterThan(0);
    expect(segments(dir).map((n) => fs.statSync(path.join(dir, n)).size)).toEqual(sizes);
    const human = replay(['repair', '--truncate-at', String(bad), '--journal', dir]);
    expect(human.stdout).toMatch(/would lose\s+\d+ readable records of 6 sessions, 6 write transactions \(tx 5 to 10\)/);
    expect(human.stdout).toContain(`Rerun with --yes to truncate the journal at position ${batchStart}`);
  });

  it('repair refuses positions that are not a record boundary the scan reached', async () => {
    const after = j.written.find((w) => w.session === 6 && w.kind === 'session-start')!.position;
    const [odd, past, word] = await Promise.all([
      replayAsync(['repair', '--truncate-at', String(bad + 3), '--json', '--journal', dir]),
      replayAsync(['repair', '--truncate-at', String(after), '--json', '--journal', dir]),
      replayAsync(['repair', '--truncate-at', 'end', '--json', '--journal', dir]),
    ]);
    fails(odd, 2, 'E_USAGE', new RegExp(`position ${bad + 3} is not a record boundary.*damage at position ${bad}`));
    fails(past, 2, 'E_USAGE', new RegExp(`position ${after} is not a record boundary`));
    // It says where the positions of records are to be found.
    expect(past.json.error.message).toContain("'replay show <session> --json' lists them");
    fails(word, 2, 'E_USAGE', /--truncate-at .*"end"/);
  });

  it('repair --yes is refused while a writer holds the journal, then cuts it', () => {
    const release = acquireLock(dir);
    try {
      const locked = replay(['repair', '--truncate-at', String(bad), '--yes', '--json', '--journal', dir]);
      fails(locked, 74, 'E_LOCKED', path.join(dir, 'LOCK'));
      // A dry run is still fine while a writer runs.
      expect(replay(['repair', '--truncate-at', String(bad), '--json', '--journal', dir]).code).toBe(0);
    } finally {
      release();
    }
    const before = segments(dir);
    const r = replay(['repair', '--truncate-at', String(bad), '--yes', '--json', '--journal', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ truncated: true, newEnd: batchStart });
    const after = segments(dir);
    expect(after.length).toBeLessThan(before.length);
    expect(r.json.removedSegments.map((p: string) => path.basename(p))).toEqual(before.slice(after.length));
    expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false);

    const info = replay(['info', '--json', '--journal', dir]);
    expect(info.json).toMatchObject({ integrity: 'ok', firstBadOffset: null, transactions: { first: 1, last: 4 } });
    expect(info.json.records).toBe(j.written.filter((w) => w.position < batchStart).length);
    // The catalog is rebuilt: sessions 1 to 3 remain, tx 4 is the last.
    const sessions = replay(['sessions', '--json', '--journal', dir]);
    expect(sessions.code).toBe(0);
    expect(sessions.json.map((s: { id: number }) => s.id)).toEqual([1, 2, 3]);
    fails(replay(['wind', '--tx', '5', '--json', '--journal', dir]), 2, 'E_OUT_OF_RANGE', /tx 1 to 4/);
    const human = replay(['repair', '--truncate-at', String(batchStart), '--journal', dir]);
    expect(human.stdout).toContain('Nothing to cut.');
  });

  it('repair at a record inside a batch cuts from the start of that batch', () => {
    const d = copyJournal(clean, 'midbatch');
    const mid = j.written.find((w) => w.session === 2 && w.kind === 'checkpoint')!.position;
    const r = replay(['repair', '--truncate-at', String(mid), '--json', '--journal', d]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ damage: null, newEnd: j.batchEnds[1], truncated: false });
    // Sessions 2 to 9, and their transactions, tx 3 to 10.
    expect(r.json.lost).toMatchObject({ sessions: 8, transactions: 8, firstTx: 3, lastTx: 10, unreadableBytes: 0 });
    // Read out as a table: every label's value starts in one column, before the cut and after it.
    for (const args of [[], ['--yes']]) {
      const human = replay(['repair', '--truncate-at', String(mid), ...args, '--journal', d]);
      expect(human.code, human.stderr).toBe(0);
      const labelled = human.stdout.split('\n').filter((l) => /^(journal|damage|cut at|would lose|lost) /.test(l));
      expect(labelled, human.stdout).toHaveLength(4);
      for (const line of labelled) expect(line.search(/(?<=\S {2,})\S/), line).toBe(12);
    }
  });
});

describe('a torn tail', () => {
  let dir: string;

  beforeAll(() => {
    dir = copyJournal(clean, 'torn');
    const last = segments(dir).at(-1)!;
    fs.appendFileSync(path.join(dir, last), Buffer.from([7, 0, 0, 0, 200, 0, 0, 0, 4, 1, 2, 3]));
  });

  it('is just the end: info says torn-tail, sessions and wind work', async () => {
    const end = j.batchEnds.at(-1)!;
    const [info, sessions, cleanSessions, wind] = await Promise.all([
      replayAsync(['info', '--json', '--journal', dir]),
      replayAsync(['sessions', '--json', '--journal', dir]),
      replayAsync(['sessions', '--json', '--journal', clean]),
      replayAsync(['wind', '--tx', '10', '--json', '--journal', dir]),
    ]);
    expect(info.code).toBe(0);
    expect(info.json).toMatchObject({ integrity: 'torn-tail', firstBadOffset: end, tornTailBytes: 12 });
    expect(sessions.code).toBe(0);
    expect(sessions.json).toEqual(cleanSessions.json);
    expect(sessions.json).toHaveLength(9);
    expect(wind.code).toBe(0);
    expect(wind.json.alive.map((s: { id: number; status: string }) => [s.id, s.status])).toEqual([[9, 'open']]);
  });

  it('repair at the committed end cuts only the tail', () => {
    const end = j.batchEnds.at(-1)!;
    const dry = replay(['repair', '--truncate-at', String(end), '--json', '--journal', dir]);
    expect(dry.json).toMatchObject({
      damage: { kind: 'torn-tail', position: end },
      newEnd: end,
      lost: { records: 0, sessions: 0, transactions: 0, bytes: 12, unreadableBytes: 12 },
      truncated: false,
    });
    const cut = replay(['repair', '--truncate-at', String(end), '--yes', '--json', '--journal', dir]);
    expect(cut.json).toMatchObject({ truncated: true, removedSegments: [] });
    expect(replay(['info', '--json', '--journal', dir]).json).toMatchObject({ integrity: 'ok', tornTailBytes: 0 });
  });
});

describe('a committed record that cannot be decoded', () => {
  it('stops the catalog at its batch: exit 3 naming its position for data past it', async () => {
    const dir = tmp('malformed');
    const j = await JournalScript.create(dir);
    j.migration();
    const s1 = j.start('transfer');
    s1.write(); // tx 2
    s1.end('ok');
    await j.commit();
    const s2 = j.start('deposit');
    await j.commit();
    // A value record whose payload is not MessagePack, with a valid checksum.
    const { writer } = j as unknown as { writer: { appendRaw(type: number, payload: Uint8Array): { position: number } } };
    const bad = writer.appendRaw(4, Uint8Array.from([0xc1, 0xc1])).position;
    s2.write(); // tx 3
    s2.end('ok');
    await j.close();

    const [sessions, before, past] = await Promise.all([
      replayAsync(['sessions', '--json', '--journal', dir]),
      replayAsync(['wind', '--tx', '2', '--json', '--journal', dir]),
      replayAsync(['wind', '--tx', '3', '--json', '--journal', dir]),
    ]);
    fails(sessions, 3, 'E_CORRUPT', new RegExp(`position ${bad}`));
    expect(before.code, before.stderr).toBe(0);
    expect(before.json.alive.map((s: { id: number }) => s.id)).toEqual([1]);
    fails(past, 3, 'E_CORRUPT', new RegExp(`tx 3.*position ${bad}`));
    const repair = replay(['repair', '--truncate-at', String(bad), '--json', '--journal', dir]);
    expect(repair.code, repair.stderr).toBe(0);
    expect(repair.json).toMatchObject({ damage: null, newEnd: j.batchEnds[1], lost: { sessions: 1, transactions: 1, firstTx: 3 } });
  });
});

describe('damage to the segment files of the golden journal', () => {
  const FIXTURE = path.join(ROOT, 'fixtures/journal-v1');
  const golden = JSON.parse(fs.readFileSync(`${FIXTURE}.json`, 'utf8')) as { chainHead: string; segments: { file: string; baseOffset: number }[] };

  function damaged(label: string, damage: (dir: string) => void): string {
    const dir = tmp(label);
    fs.cpSync(FIXTURE, dir, { recursive: true });
    // Index the intact journal first: the catalog must notice the damage anyway.
    expect(replay(['sessions', '--json', '--journal', dir]).code).toBe(0);
    damage(dir);
    return dir;
  }

  it('a missing first segment: info says corrupt at 0 naming it, audit fails, reads exit 3 naming it', async () => {
    const dir = damaged('no-first', (d) => fs.rmSync(path.join(d, '00000001.wbj')));
    const [info, human, audit, sessions, wind] = await Promise.all([
      replayAsync(['info', '--json', '--journal', dir]),
      replayAsync(['info', '--journal', dir]),
      replayAsync(['audit', '--expect-head', golden.chainHead, '--json', '--journal', dir]),
      replayAsync(['sessions', '--journal', dir]),
      replayAsync(['wind', '--tx', '2', '--json', '--journal', dir]),
    ]);
    expect(info.code, info.stderr).toBe(0);
    expect(validate(info.json, infoSchema)).toEqual([]);
    expect(info.json).toMatchObject({ integrity: 'corrupt', firstBadOffset: 0, records: 0, sessions: 0, openSessions: 0, segments: 3 });
    expect(info.json.damage).toMatch(/segment file 00000001\.wbj is missing/);
    expect(human.stdout).toContain('CORRUPT at position 0');
    expect(human.stdout).toMatch(/00000001\.wbj is missing/);
    expect(audit.code).toBe(1);
    expect(audit.json).toMatchObject({ ok: false, firstBadOffset: 0, expectedHeadSeq: null });
    expect(audit.json.problem).toMatch(/00000001\.wbj is missing.*at position 0/);
    expect(sessions.code).toBe(3);
    expect(sessions.stderr).toMatch(/^replay: .*corrupt at position 0 \(.*00000001\.wbj\): segment file 00000001\.wbj is missing.*\n$/);
    fails(wind, 3, 'E_CORRUPT', /position 0/);
  });

  it('a damaged header, first or not: info locates it, repair cuts there, and the journal reads clean', () => {
    const cases: [string, (d: string) => void, number][] = [
      ['first-flipped', (d) => flipByte(path.join(d, '00000001.wbj'), 20), 0],
      ['first-short', (d) => fs.truncateSync(path.join(d, '00000001.wbj'), 50), 0],
      ['second-short', (d) => fs.truncateSync(path.join(d, '00000002.wbj'), 50), golden.segments[1].baseOffset],
      ['third-flipped', (d) => flipByte(path.join(d, '00000003.wbj'), 40), golden.segments[2].baseOffset],
    ];
    for (const [label, damage, base] of cases) {
      const dir = damaged(label, damage);
      const info = replay(['info', '--json', '--journal', dir]);
      expect(info.code, `${label}: ${info.stderr}`).toBe(0);
      expect(info.json).toMatchObject({ integrity: 'corrupt', firstBadOffset: base });
      expect(info.json.damage).toMatch(/\.wbj: segment header/);
      fails(replay(['sessions', '--json', '--journal', dir]), 3, 'E_CORRUPT', new RegExp(`position ${base} .*segment header`));
      const cut = replay(['repair', '--truncate-at', String(base), '--yes', '--json', '--journal', dir]);
      expect(cut.code, `${label}: ${cut.stderr}`).toBe(0);
      expect(validate(cut.json, repairSchema)).toEqual([]);
      expect(cut.json).toMatchObject({ newEnd: base, truncated: true, damage: { kind: 'corruption', position: base } });
      const after = replay(['info', '--json', '--journal', dir]);
      expect(after.json, label).toMatchObject({ integrity: 'ok', bytes: base, firstBadOffset: null });
      expect(replay(['sessions', '--json', '--journal', dir]).code).toBe(0);
    }
  });
});

function flipByte(file: string, offset: number): void {
  const bytes = fs.readFileSync(file);
  bytes[offset] ^= 0x55;
  fs.writeFileSync(file, bytes);
}
