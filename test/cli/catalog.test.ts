import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Catalog, CATALOG_SCHEMA_VERSION } from '../../src/catalog/index.js';
import { BIN, replay, replayAsync, tempDirs } from '../helpers/cli.js';
import { JournalScript } from '../helpers/script-journal.js';

// The catalog (<journal>/catalog.sqlite) through the CLI: built on first use,
// updated incrementally as the journal grows (even while a writer holds it),
// rebuilt when deleted or when the journal no longer matches it, and always
// equal to a catalog built from scratch.

const tmp = tempDirs();

/** Every row of every catalog table, for comparing two catalogs. */
function dump(file: string): Record<string, unknown[]> {
  const db = new Database(file, { readonly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[];
    const out: Record<string, unknown[]> = {};
    for (const { name } of tables) out[name] = db.prepare(`SELECT * FROM "${name}" ORDER BY 1, 2`).all();
    return out;
  } finally {
    db.close();
  }
}

function ids(json: { id: number }[]): number[] {
  return json.map((s) => s.id);
}

describe('the catalog', () => {
  it('follows a journal that grows while a writer holds it, incrementally, and equals a rebuild', async () => {
    const dir = tmp('grow');
    const file = path.join(dir, 'catalog.sqlite');
    const j = await JournalScript.create(dir, { segmentBytes: 700 });
    j.processStart();
    j.migration();
    const s1 = j.start('transfer');
    s1.checkpoint('start');
    s1.write(); // tx 2
    const s2 = j.start('deposit'); // stays open across the first query
    s2.checkpoint('start');
    s1.end('ok');
    await j.commit();
    // Appended but not committed yet: invisible.
    const s3 = j.start('balance');

    const first = replay(['sessions', '--json', '--journal', dir]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.json.map((s: { id: number; status: string }) => [s.id, s.status])).toEqual([
      [1, 'ok'],
      [2, 'open'],
    ]);
    expect(fs.existsSync(file)).toBe(true);
    const inode = fs.statSync(file).ino;

    s3.read();
    s2.write(); // tx 3
    s3.end('ok');
    s2.attempt();
    s2.write(); // tx 4
    s2.checkpoint('before-response');
    s2.end('error');
    for (let i = 0; i < 6; i++) {
      const s = j.start(i % 2 ? 'transfer' : 'deposit');
      s.write();
      s.end('ok');
      await j.commit();
    }
    j.snapshot();
    j.duplicate(2, 'dup');
    const open = j.start('transfer');
    open.write(); // tx 11
    await j.commit();

    const [second, wind] = await Promise.all([
      replayAsync(['sessions', '--json', '--journal', dir]),
      replayAsync(['wind', '--tx', '4', '--json', '--journal', dir]),
    ]);
    expect(second.code, second.stderr).toBe(0);
    expect(ids(second.json)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(second.json[1]).toMatchObject({ id: 2, status: 'error', startedAfterTx: 2, endedAtTx: 4 });
    expect(second.json[9]).toMatchObject({ id: 10, status: 'open', endedAtTx: null });
    expect(wind.json.alive).toMatchObject([{ id: 2, txs: [3, 4], lastCheckpoint: { label: 'start' } }]);
    // Updated in place, not rebuilt.
    expect(fs.statSync(file).ino).toBe(inode);
    await j.close();

    // What the catalog says equals what it says when built from scratch.
    const incremental = dump(file);
    const more = replay(['sessions', '--json', '--journal', dir]); // after close: one more empty batch? nothing new
    expect(more.json).toEqual(second.json);
    const afterClose = dump(file);
    fs.rmSync(file);
    const rebuilt = replay(['sessions', '--json', '--journal', dir]);
    expect(rebuilt.json).toEqual(second.json);
    const fresh = dump(file);
    expect(fresh.sessions).toHaveLength(10);
    expect(fresh.write_txs).toHaveLength(11);
    expect(fresh.checkpoints).toHaveLength(3);
    expect(fresh.snapshots).toHaveLength(1);
    expect(fresh.process_starts).toHaveLength(1);
    expect(fresh.duplicate_requests).toHaveLength(1);
    expect(afterClose).toEqual(fresh);
    expect({ ...incremental, meta: [] }).toEqual({ ...fresh, meta: [] });
    const attempts = (fresh.sessions as { id: number; attempts: number }[]).find((s) => s.id === 2)!.attempts;
    expect(attempts).toBe(2);
  });

  it('is rebuilt when the journal was cut short, or cut and written again past where it was indexed', async () => {
    const dir = tmp('cut');
    const j = await JournalScript.create(dir);
    j.migration();
    for (let i = 0; i < 5; i++) {
      const s = j.start('transfer');
      s.write();
      s.end('ok');
      await j.commit();
    }
    await j.close();
    expect(ids(replay(['sessions', '--json', '--journal', dir]).json)).toEqual([1, 2, 3, 4, 5]);
    const segment = path.join(dir, '00000001.wbj');

    // Restore an older copy: the journal is shorter than what was indexed.
    // (batchEnds[i] ends session i+1's batch; the first holds the migration too.)
    fs.truncateSync(segment, 96 + j.batchEnds[2]);
    expect(ids(replay(['sessions', '--json', '--journal', dir]).json)).toEqual([1, 2, 3]);

    // Index 3 sessions; then cut to 2 and write 3 different ones, so that the
    // journal is longer than before but no longer the one that was indexed.
    fs.truncateSync(segment, 96 + j.batchEnds[1]);
    j.lastTx = 3;
    j.nextSession = 3;
    await j.reopen();
    for (const kind of ['refund', 'refund', 'refund']) {
      const s = j.start(kind, { route: '/refund' });
      s.checkpoint('start');
      s.write();
      s.end('error');
      await j.commit();
    }
    await j.close();
    const after = replay(['sessions', '--json', '--journal', dir]);
    expect(after.json.map((s: { id: number; kind: string }) => `${s.id}:${s.kind}`)).toEqual([
      '1:transfer',
      '2:transfer',
      '3:refund',
      '4:refund',
      '5:refund',
    ]);
    const wind = replay(['wind', '--tx', '6', '--json', '--journal', dir]);
    expect(wind.json.alive).toMatchObject([{ id: 5, kind: 'refund', status: 'error', txs: [6] }]);
  });

  it('is rebuilt when it is not a usable catalog, and works in memory', async () => {
    const dir = tmp('garbage');
    const j = await JournalScript.create(dir);
    j.migration();
    const s = j.start('transfer');
    s.write();
    await j.close();
    const file = path.join(dir, 'catalog.sqlite');
    fs.writeFileSync(file, 'this is not a database');
    // A temporary catalog left by a build whose process died is cleaned up.
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const abandoned = path.join(dir, `catalog.sqlite.${dead}.0badf00d.tmp`);
    fs.writeFileSync(abandoned, '');
    const r = replay(['sessions', '--json', '--journal', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(ids(r.json)).toEqual([1]);
    expect(fs.existsSync(abandoned)).toBe(false);
    // Another schema version: rebuilt too.
    const db = new Database(file);
    db.prepare("UPDATE meta SET value = 999 WHERE key = 'schemaVersion'").run();
    db.close();
    expect(ids(replay(['sessions', '--json', '--journal', dir]).json)).toEqual([1]);
    expect(dump(file).meta).toContainEqual({ key: 'schemaVersion', value: CATALOG_SCHEMA_VERSION });

    const memory = Catalog.open(dir, { storage: 'memory' });
    try {
      expect(memory.status.storage).toBe('memory');
      expect(memory.sessions().map((x) => x.id)).toEqual([1]);
      expect(memory.lastTx).toBe(2);
    } finally {
      memory.close();
    }
  });

  it('falls back to memory in a read-only journal directory', async () => {
    const dir = tmp('readonly');
    const j = await JournalScript.create(dir);
    j.migration();
    j.start('transfer').write();
    await j.close();
    // Root writes anywhere, so as root the binary runs as nobody, which may read the journal but not write beside it.
    const asRoot = process.getuid?.() === 0;
    for (const file of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, file), 0o644);
    fs.chmodSync(path.dirname(dir), 0o755);
    fs.chmodSync(dir, 0o555);
    try {
      const args = [BIN, 'sessions', '--json', '--journal', dir];
      const run = asRoot
        ? spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } })
        : spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
      expect(run.status, run.stderr).toBe(0);
      expect(ids(JSON.parse(run.stdout))).toEqual([1]);
      expect(fs.existsSync(path.join(dir, 'catalog.sqlite'))).toBe(false);
    } finally {
      fs.chmodSync(dir, 0o755);
    }
  });
});
