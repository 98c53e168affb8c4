import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDirs } from '../helpers/cli.js';

// What an app author's own project gets from `import ... from 'windback'`:
// the package resolved through node_modules (package.json "main" and
// "types", dist/), as in a service that depends on Windback.

const tmp = tempDirs('windback-app-package');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** A project directory with windback in its node_modules and a strict tsconfig. */
function project(files: Record<string, string>): string {
  const dir = tmp();
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'windback'), 'dir');
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'svc', private: true, type: 'module' }));
  const compilerOptions = { target: 'ES2022', lib: ['ES2023', 'DOM'], module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true };
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['*.ts'] }));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

/** tsc's diagnostics, one per line, as `file(line,col): error TSnnnn`. */
function typecheck(dir: string): string[] {
  const run = spawnSync(process.execPath, [TSC, '-p', dir], { encoding: 'utf8', cwd: dir });
  return run.stdout.split('\n').filter((l) => /error TS\d+/.test(l)).map((l) => l.replace(/: error (TS\d+):.*/, ': $1'));
}

const APP = `import { defineApp, RetryableError, DeterminismError, type WriteDb, type SessionContext } from 'windback';

interface Config { url: string; limit: number }

function insert(db: WriteDb, v: string): number {
  return Number(db.run('INSERT INTO t (v) VALUES (?)', v).lastInsertRowid);
}

export default defineApp({
  name: 'typed',
  config: { url: 'http://127.0.0.1:1', limit: 3 } as Config,
  migrations: [{ name: '001', sql: 'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)' }],
  routes: { '/save': 'save', '/get': { kind: 'get', method: 'POST' } },
  kinds: {
    async save(input: { v: string }, ctx) {
      const url: string = ctx.config.url;
      const id: number = await ctx.tx((db) => insert(db, input.v));
      const ok: boolean = await ctx.call('notify', async (key) => key.length > 0, { id });
      if (!ok) throw new RetryableError('not delivered');
      return { id, url };
    },
    async get(input: { id: number }, ctx: SessionContext<Config>) {
      const row = await ctx.read((db) => db.get<{ v: string }>('SELECT v FROM t WHERE id = ?', input.id));
      if (row === undefined) throw new DeterminismError('x', 'y');
      const v: string = row.v;
      return { v, limit: ctx.config.limit };
    },
  },
});
`;

describe("the app API a service imports from 'windback'", () => {
  it('exports defineApp, RetryableError and DeterminismError at run time, the same checks as inside the sandbox', async () => {
    const windback = (await import(path.join(ROOT, 'dist', 'index.js'))) as typeof import('../../src/index.js');
    const app = windback.defineApp({ name: 'a', migrations: [], kinds: { k: async () => 1 } });
    expect(Object.keys(app.kinds)).toEqual(['k']);
    expect(() => windback.defineApp({ name: 'a', migrations: [], kinds: { k: async () => 1 }, routes: { '/b': 'b' } } as never)).toThrow(
      'defineApp: routes["/b"] names the kind "b", which is not in "kinds"',
    );
    const retry = new windback.RetryableError('later');
    expect([retry.name, retry.retryable, retry instanceof Error]).toEqual(['RetryableError', true, true]);
    expect(new windback.DeterminismError('WeakRef', 'use a Map').message).toBe('WeakRef is not deterministic: use a Map');
  });

  it('type-checks an app: ctx.config has the type of the config defaults, ctx.tx/read/call return what their functions return', { timeout: 120_000 }, () => {
    expect(typecheck(project({ 'app.ts': APP }))).toEqual([]);
  });

  it('reports the mistakes at compile time: a route to a kind that does not exist, a config field that does not, a result used as the wrong type', { timeout: 120_000 }, () => {
    const wrong = APP.replace("'/save': 'save'", "'/save': 'sav'")
      .replace('const url: string = ctx.config.url;', 'const url: string = ctx.config.uri;')
      .replace('const v: string = row.v;', 'const v: number = row.v;');
    const errors = typecheck(project({ 'app.ts': wrong }));
    expect(errors).toEqual([
      'app.ts(13,3): TS2322', // routes: '"sav"' is not assignable to '"save" | "get" | ...'
      'app.ts(16,38): TS2339', // ctx.config.uri: no such property on Readonly<Config>
      'app.ts(25,13): TS2322', // a string assigned to a number
    ]);
  });
});
