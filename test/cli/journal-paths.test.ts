import * as fs from 'node:fs';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { replay, tempDirs, type CliResult } from '../helpers/cli.js';
import { SAVE_KINDS, writeApp } from '../helpers/temp-app.js';

// A --journal that cannot be one, and a start that cannot listen, seen
// through the binary: one line naming the path (or port) and the documented
// exit code (docs/cli.md), no stack, nothing created.

const tmp = tempDirs('windback-paths');

/** The whole of stderr is one line, `replay: <message>`. */
function oneLine(r: CliResult): string {
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^replay: /);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return lines[0];
}

describe('replay record, where it cannot start', () => {
  let app: string;
  beforeAll(() => {
    app = writeApp(tmp('app'), 'app.ts', SAVE_KINDS);
  });

  it('a --journal that is a regular file: exit 74, one line naming it', () => {
    const file = path.join(tmp('file'), 'journal');
    fs.writeFileSync(file, 'not a journal\n');
    const r = replay(['record', app, '--port', '0', '--journal', file]);
    expect(r.code, r.stderr).toBe(74);
    expect(oneLine(r)).toBe(`replay: cannot create the journal directory ${file}: it exists and is not a directory`);
    const json = replay(['record', app, '--port', '0', '--journal', file, '--json']);
    expect(json.code).toBe(74);
    expect(json.json).toEqual({ error: { code: 'E_NOT_A_DIRECTORY', message: expect.stringContaining(file), exitCode: 74 } });
    expect(fs.readFileSync(file, 'utf8')).toBe('not a journal\n');
  });

  it('a --journal under a regular file: exit 74, naming the file on its path', () => {
    const file = path.join(tmp('under'), 'plain');
    fs.writeFileSync(file, '');
    const journal = path.join(file, 'a', 'journal');
    const r = replay(['record', app, '--port', '0', '--journal', journal]);
    expect(r.code, r.stderr).toBe(74);
    expect(oneLine(r)).toBe(`replay: cannot create the journal directory ${journal}: ${file}, on its path, exists and is not a directory`);
  });

  it('a --journal where no directory can be made (/proc/nope/x) fails at once instead of spinning', { timeout: 30_000 }, () => {
    const r = replay(['record', app, '--port', '0', '--journal', '/proc/nope/x'], { timeoutMs: 20_000 });
    expect(r.code, `killed after 20 s? ${r.stderr}`).toBe(74);
    expect(oneLine(r)).toMatch(/^replay: cannot create the journal directory \/proc\/nope\/x: .*'\/proc\/nope'/);
  });

  it('a port in use: exit 74, and the journal it would have created is not there', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    try {
      const port = (holder.address() as AddressInfo).port;
      const journal = path.join(tmp('port'), 'fresh', 'journal');
      const r = replay(['record', app, '--port', String(port), '--journal', journal]);
      expect(r.code, r.stderr).toBe(74);
      expect(oneLine(r)).toBe(`replay: port ${port} on 127.0.0.1 is in use`);
      expect(fs.existsSync(path.dirname(journal))).toBe(false);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });
});

describe('replay record, given an app it cannot load', () => {
  it('a missing entry, or one that does not load: exit 2, one line, and the journal it would have created is not there', () => {
    const dir = tmp('no-app');
    const journal = path.join(dir, 'journal');
    const missing = path.join(dir, 'app.tx');
    const r = replay(['record', missing, '--port', '0', '--journal', journal]);
    expect(r.code, r.stderr).toBe(2);
    expect(oneLine(r)).toBe(`replay: app entry not found: ${missing}`);
    expect(fs.existsSync(journal)).toBe(false);

    const broken = path.join(dir, 'broken.ts');
    fs.writeFileSync(broken, "import * as fs from 'node:fs';\nimport { defineApp } from 'windback';\nexport default defineApp({ name: 'x', migrations: [], kinds: { async a() { return fs !== null; } } });\n");
    const b = replay(['record', broken, '--port', '0', '--journal', journal]);
    expect(b.code, b.stderr).toBe(2);
    expect(oneLine(b)).toMatch(/^replay: the app in .*broken\.ts does not load: .*require\('node:fs'\) is not deterministic/);
    expect(fs.existsSync(journal)).toBe(false);
  });
});

describe('the reading commands, given a --journal that is no journal directory', () => {
  it('a regular file: exit 3, one line saying it is not a directory; a missing directory: exit 3, saying so', () => {
    const file = path.join(tmp('file'), 'journal');
    fs.writeFileSync(file, '');
    const missing = path.join(tmp('missing'), 'nothing', 'here');
    for (const args of [['info'], ['sessions'], ['wind', '--tx', '1'], ['show', '1'], ['run', '1'], ['verify'], ['state', '--tx', '1']]) {
      const r = replay([...args, '--journal', file]);
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(3);
      expect(oneLine(r)).toBe(`replay: no journal at ${file}: it is not a directory`);
      const m = replay([...args, '--journal', missing]);
      expect(m.code, `${args[0]}: ${m.stderr}`).toBe(3);
      expect(oneLine(m)).toBe(`replay: no journal at ${missing}: the directory does not exist`);
    }
  });

  it('none named, and no ./.windback: the line says where the default is and how to name one', () => {
    const cwd = tmp('elsewhere');
    const fallback = path.join(fs.realpathSync(cwd), '.windback');
    for (const args of [['info'], ['sessions'], ['wind', '--tx', '1']]) {
      const r = replay(args, { cwd });
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(3);
      expect(oneLine(r)).toBe(`replay: no journal at ${fallback}: the directory does not exist (the default, ./.windback: give --journal <dir> or set REPLAY_JOURNAL)`);
    }
    // Named by REPLAY_JOURNAL: the plain line.
    const named = replay(['info'], { cwd, env: { REPLAY_JOURNAL: path.join(cwd, 'j') } });
    expect(oneLine(named)).toBe(`replay: no journal at ${path.join(cwd, 'j')}: the directory does not exist`);
  });
});
