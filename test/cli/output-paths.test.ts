import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, replay, replayAsync, tempDirs, type CliResult } from '../helpers/cli.js';
import { loadSchema, validate } from '../helpers/schema.js';
import { JournalScript } from '../helpers/script-journal.js';
import { SAVE_KINDS, writeApp } from '../helpers/temp-app.js';
import { startServer } from '../../src/runtime/server.js';

// Files the CLI writes where it is told (`restore --out`, `export --out`,
// `verify --junit`): never into the journal directory, whatever path leads
// there (.., a symbolic link to the directory or to a file in it, a hard
// link); never over a directory, and for restore (which renames a new file
// over its target) never over anything but a regular file. A path that
// cannot be used is one line naming it, exit 2, found before any work; a
// failed restore leaves no `<out>.partial` behind.

const tmp = tempDirs('windback-out');
const errorSchema = loadSchema('error');

let journal: string;
let fingerprint: string;

/** Every file of the journal directory with its SHA-256, to show nothing was touched. */
function digest(dir: string): string {
  const lines: string[] = [];
  const walk = (d: string): void => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const file = path.join(d, entry.name);
      if (entry.isDirectory()) walk(file);
      else lines.push(`${path.relative(dir, file)} ${createHash('sha256').update(fs.readFileSync(file)).digest('hex')}`);
    }
  };
  walk(dir);
  return lines.join('\n');
}

function refused(result: CliResult, mention: RegExp): void {
  expect(result.code, result.stdout + result.stderr).toBe(2);
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(/^replay: [^\n]+\n$/);
  expect(result.stderr).toMatch(mention);
  expect(result.stderr).not.toMatch(/internal error|\n\s+at /);
}

beforeAll(async () => {
  journal = tmp('journal');
  const j = await JournalScript.create(journal, { segmentBytes: 900 });
  j.processStart();
  j.migration();
  await j.commit();
  for (let i = 1; i <= 6; i++) {
    const s = j.start('transfer');
    s.write();
    s.end('ok');
    await j.commit();
  }
  await j.close();
  // The files a recording server keeps beside the segments.
  fs.mkdirSync(path.join(journal, 'snapshots'));
  fs.writeFileSync(path.join(journal, 'snapshots', 'tx-3.sqlite'), 'snapshot bytes');
  fs.writeFileSync(path.join(journal, 'live.sqlite'), 'live database bytes');
  // Build the catalog first: the fingerprint then covers it too.
  expect(replay(['sessions', '-j', journal]).code).toBe(0);
  fingerprint = digest(journal);
});

describe('an output path inside the journal directory', () => {
  it('is refused by restore, even with --force, and by export: the journal is untouched', async () => {
    const outside = tmp('outside');
    fs.symlinkSync(journal, path.join(outside, 'link-to-journal'));
    fs.symlinkSync(path.join(journal, '00000002.wbj'), path.join(outside, 'link-to-segment'));
    fs.symlinkSync(path.join(journal, 'new-file'), path.join(outside, 'dangling-into-journal'));
    fs.linkSync(path.join(journal, '00000001.wbj'), path.join(outside, 'hard-link-to-segment'));
    const targets = [
      path.join(journal, '00000001.wbj'),
      path.join(journal, 'catalog.sqlite'),
      path.join(journal, 'live.sqlite'),
      path.join(journal, 'snapshots', 'tx-3.sqlite'),
      path.join(journal, 'restored.sqlite'), // not there yet: still inside
      path.join(outside, '..', path.basename(outside), 'link-to-journal', '00000003.wbj'),
      path.join(outside, 'link-to-segment'),
      path.join(outside, 'dangling-into-journal'),
    ];
    const runs = await Promise.all(
      targets.flatMap((out) => [
        replayAsync(['restore', '--tx', '3', '--out', out, '--force', '-j', journal]),
        replayAsync(['export', '--out', out, '-j', journal]),
      ]),
    );
    for (const result of runs) refused(result, /inside the journal directory/);
    expect(runs[0].stderr).toContain(path.join(journal, '00000001.wbj'));
    // A hard link is the same file: refused too.
    refused(replay(['export', '--out', path.join(outside, 'hard-link-to-segment'), '-j', journal]), /hard link to a file of the journal directory/);
    refused(replay(['restore', '--tx', '3', '--out', path.join(outside, 'hard-link-to-segment'), '--force', '-j', journal]), /hard link/);
    expect(digest(journal)).toBe(fingerprint);
    expect(replay(['info', '--json', '-j', journal]).json.integrity).toBe('ok');
  });

  it('is refused by verify --junit, before replaying anything', () => {
    const result = replay(['verify', '--junit', path.join(journal, '00000001.wbj'), '-j', journal]);
    refused(result, /--junit .*00000001\.wbj is inside the journal directory/);
    expect(digest(journal)).toBe(fingerprint);
  });

  it('is reported under --json as E_BAD_PATH, exit 2', () => {
    const result = replay(['restore', '--tx', '3', '--out', path.join(journal, '00000001.wbj'), '--force', '--json', '-j', journal]);
    expect(result.code).toBe(2);
    expect(validate(result.json, errorSchema)).toEqual([]);
    expect(result.json.error).toMatchObject({ code: 'E_BAD_PATH', exitCode: 2 });
    expect(result.json.error.message).toContain(path.join(journal, '00000001.wbj'));
  });
});

describe('an output path that is not a regular file', () => {
  it('restore --force refuses a FIFO (a rename would replace it) and a directory; export writes to a pipe in place', () => {
    const dir = tmp('special');
    const fifo = path.join(dir, 'fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    refused(replay(['restore', '--tx', '3', '--out', fifo, '--force', '-j', journal]), new RegExp(`--out ${fifo} is a FIFO, not a regular file`));
    expect(fs.lstatSync(fifo).isFIFO()).toBe(true);

    const target = path.join(dir, 'a-directory');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'keep'), 'x');
    refused(replay(['restore', '--tx', '3', '--out', target, '--force', '-j', journal]), new RegExp(`--out ${target} is a directory`));
    refused(replay(['export', '--out', target, '-j', journal]), new RegExp(`--out ${target} is a directory`));
    expect(fs.readdirSync(dir).sort()).toEqual(['a-directory', 'fifo']);
    expect(fs.readdirSync(target)).toEqual(['keep']);

    // export writes in place, not by a rename: a pipe (/dev/stdout) is fine.
    // The pipe holds the trace alone (`| jq` reads it), and nothing is said on stderr.
    const piped = spawnSync('bash', ['-o', 'pipefail', '-c', `"${process.execPath}" "${BIN}" export --out /dev/stdout -j "${journal}" | cat`], { encoding: 'utf8' });
    expect(piped.status, piped.stderr).toBe(0);
    expect(piped.stdout).toMatch(/^\{"traceEvents":/);
    expect(JSON.parse(piped.stdout).traceEvents.length).toBeGreaterThan(0);
    expect(piped.stderr).toBe('');
  });
});

describe('an output path that is standard output', () => {
  it('verify --junit /dev/stdout: the pipe holds the JUnit report alone, the summary goes to stderr', async () => {
    const dir = tmp('junit-stdout');
    const recorded = path.join(dir, 'journal');
    const server = await startServer(writeApp(dir, 'app.ts', SAVE_KINDS), { journal: recorded, durability: 'none', timeZone: 'UTC', locale: 'en-US', log: () => {} });
    try {
      const r = await fetch(`${server.url}/save`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ v: 'x' }) });
      expect(r.status).toBe(200);
    } finally {
      await server.close();
    }
    const piped = spawnSync('bash', ['-o', 'pipefail', '-c', `"${process.execPath}" "${BIN}" verify --junit /dev/stdout -j "${recorded}" | cat`], { encoding: 'utf8' });
    expect(piped.status, piped.stderr).toBe(0);
    expect(piped.stdout).toMatch(/^<\?xml [^\n]*\n<testsuites [\s\S]*<\/testsuites>\n?$/);
    expect(piped.stdout).toContain('name="session 1"');
    expect(piped.stderr).toContain('1 sessions replayed: 1 equal, 0 diverged');
    // To a file, the summary stays on stdout as before.
    const toFile = replay(['verify', '--junit', path.join(dir, 'report.xml'), '-j', recorded]);
    expect(toFile.code, toFile.stderr).toBe(0);
    expect(toFile.stdout).toBe('1 sessions replayed: 1 equal, 0 diverged\n');
  });
});

describe('an output path that cannot be written', () => {
  it('a missing directory is one line naming it, exit 2, for restore, export and verify --junit', () => {
    const missing = path.join(tmp('missing'), 'no', 'such');
    refused(replay(['restore', '--tx', '3', '--out', path.join(missing, 'x.sqlite'), '-j', journal]), new RegExp(`--out ${missing}/x\\.sqlite: its directory ${missing} does not exist`));
    refused(replay(['export', '--out', path.join(missing, 't.json'), '-j', journal]), new RegExp(`--out ${missing}/t\\.json: its directory ${missing} does not exist`));
    // verify finds it before replaying (this journal's code is not even there: that error would come first otherwise).
    refused(replay(['verify', '--junit', path.join(missing, 'x.xml'), '-j', journal]), new RegExp(`--junit ${missing}/x\\.xml: its directory ${missing} does not exist`));
    refused(replay(['restore', '--tx', '3', '--out', path.join(journal, '00000001.wbj', 'x'), '-j', journal]), /00000001\.wbj is not a directory/);
  });

  it('a restore that fails after writing leaves no .partial file; one that succeeds leaves the file alone', () => {
    const dir = tmp('partial');
    const out = path.join(dir, 'restored.sqlite');
    // A directory where the old file's WAL would be: found once the new file is written.
    fs.mkdirSync(`${out}-wal`);
    refused(replay(['restore', '--tx', '3', '--out', out, '-j', journal]), new RegExp(`${out}-wal is a directory`));
    expect(fs.readdirSync(dir)).toEqual(['restored.sqlite-wal']);

    fs.rmdirSync(`${out}-wal`);
    expect(replay(['restore', '--tx', '3', '--out', out, '-j', journal]).code).toBe(0);
    refused(replay(['restore', '--tx', '3', '--out', out, '-j', journal]), /exists; pass --force/);
    const again = replay(['restore', '--tx', '4', '--out', out, '--force', '--json', '-j', journal]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.json).toMatchObject({ tx: 4, out });
    expect(fs.readdirSync(dir)).toEqual(['restored.sqlite']);
  });
});

describe('an output path where a file exists', () => {
  it('export refuses it, one line naming it, exit 2 (E_EXISTS), and leaves it alone; --force replaces it', () => {
    const dir = tmp('exists');
    const out = path.join(dir, 'trace.json');
    fs.writeFileSync(out, 'precious');
    const message = `replay: --out ${out} exists; pass --force to replace it\n`;
    const result = replay(['export', '--out', out, '-j', journal]);
    refused(result, /exists/);
    expect(result.stderr).toBe(message);
    // However it is named: a relative path, a symbolic link to it.
    const relative = spawnSync(process.execPath, [BIN, 'export', '--out', 'trace.json', '-j', journal], { cwd: dir, encoding: 'utf8' });
    expect([relative.status, relative.stderr]).toEqual([2, message]);
    fs.symlinkSync(out, path.join(dir, 'link'));
    expect(replay(['export', '--out', path.join(dir, 'link'), '-j', journal]).stderr).toBe(`replay: --out ${path.join(dir, 'link')} exists; pass --force to replace it\n`);
    const json = replay(['export', '--out', out, '--json', '-j', journal]);
    expect(json.code).toBe(2);
    expect(validate(json.json, errorSchema)).toEqual([]);
    expect(json.json.error).toEqual({ code: 'E_EXISTS', message: message.slice('replay: '.length, -1), exitCode: 2 });
    expect(fs.readFileSync(out, 'utf8')).toBe('precious');

    const forced = replay(['export', '--out', out, '--force', '-j', journal]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(out, 'utf8'))).toHaveProperty('traceEvents');
    expect(fs.readdirSync(dir).sort()).toEqual(['link', 'trace.json']);
  });

  it('export writes a new file, and a descriptor the shell opened (--out /dev/stdout > file) or a device, without --force', () => {
    const dir = tmp('fresh');
    const out = path.join(dir, 'new.json');
    expect(replay(['export', '--out', out, '-j', journal]).code).toBe(0);
    expect(JSON.parse(fs.readFileSync(out, 'utf8'))).toHaveProperty('traceEvents');
    // The shell created (or truncated) the file: the user asked for it with `>`.
    const redirected = path.join(dir, 'redirected.json');
    fs.writeFileSync(redirected, 'old');
    const run = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" export --out /dev/stdout -j "${journal}" > "${redirected}"`], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    // The whole file is the trace: no line saying so was written over its first bytes.
    expect(JSON.parse(fs.readFileSync(redirected, 'utf8'))).toHaveProperty('traceEvents');
    expect(run.stderr).toBe('');
    expect(replay(['export', '--out', '/dev/null', '-j', journal]).code).toBe(0);
  });

  it('restore refuses it the same way (E_EXISTS)', () => {
    const dir = tmp('exists-restore');
    const out = path.join(dir, 'db.sqlite');
    fs.writeFileSync(out, 'precious');
    const result = replay(['restore', '--tx', '3', '--out', out, '--json', '-j', journal]);
    expect(result.code).toBe(2);
    expect(result.json.error).toEqual({ code: 'E_EXISTS', message: `--out ${out} exists; pass --force to replace it`, exitCode: 2 });
    expect(fs.readFileSync(out, 'utf8')).toBe('precious');
  });
});

describe('a catalog path that is not a file', () => {
  it('is one line naming it, exit 74, and is left alone', () => {
    const copy = tmp('catalog-dir');
    fs.cpSync(journal, copy, { recursive: true });
    fs.rmSync(path.join(copy, 'catalog.sqlite'));
    fs.mkdirSync(path.join(copy, 'catalog.sqlite'));
    const result = replay(['sessions', '-j', copy]);
    expect(result.code, result.stderr).toBe(74);
    expect(result.stderr).toBe(`replay: ${path.join(fs.realpathSync(copy), 'catalog.sqlite')} is a directory, not the catalog; remove it (the catalog is rebuilt on next use)\n`);
    const json = replay(['sessions', '--json', '-j', copy]);
    expect(json.json.error).toMatchObject({ code: 'E_NOT_A_CATALOG', exitCode: 74 });
    expect(fs.statSync(path.join(copy, 'catalog.sqlite')).isDirectory()).toBe(true);
  });
});
