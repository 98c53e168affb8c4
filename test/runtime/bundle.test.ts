import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleApp } from '../../src/executor/bundle.js';
import { UsageError } from '../../src/model/errors.js';
import { replay, ROOT, tempDirs } from '../helpers/cli.js';
import { startRecording } from '../helpers/recording.js';

// How an app is bundled: module.exports is its default export, handed over by
// a generated entry, with none of esbuild's export getters (which, made afresh
// by every session's module instance, keep finished sessions alive in the
// old generation; docs/sandbox.md, "Garbage collection").

const tmp = tempDirs('windback-bundle');
const BANK_APP = path.join(ROOT, 'fixtures', 'apps', 'bank', 'app.ts');

describe('bundleApp', () => {
  it('hands the default export to module.exports directly: no export getters, the same code version every time', async () => {
    const a = await bundleApp(BANK_APP);
    expect(a.code).toMatch(/\nmodule\.exports = app_default;\n/);
    expect(a.code).not.toContain('__export(');
    expect(a.code).not.toContain('__toCommonJS');
    expect((await bundleApp(BANK_APP)).codeVersion).toBe(a.codeVersion);
    // The source map still leads back to the app's own lines.
    expect(JSON.parse(a.map).sources).toContain('app.ts');
  });

  it('still bundles an app written as CommonJS (module.exports = defineApp(...))', async () => {
    const dir = tmp();
    const file = path.join(dir, 'app.cjs');
    fs.writeFileSync(file, "const { defineApp } = require('windback');\nmodule.exports = defineApp({ name: 'c', migrations: [], kinds: { a: async () => 1 } });\n");
    const bundle = await bundleApp(file);
    expect(bundle.code).toContain('module.exports = ');
  });

  it('refuses an app without a default export with E_BUNDLE, saying what is missing', async () => {
    const dir = tmp();
    const file = path.join(dir, 'app.ts');
    fs.writeFileSync(file, "import { defineApp } from 'windback';\nexport const app = defineApp({ name: 'x', migrations: [], kinds: { a: async () => 1 } });\n");
    const error = await bundleApp(file).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).code).toBe('E_BUNDLE');
    expect((error as Error).message).toBe(`cannot bundle ${file}: it has no default export; an app module ends with \`export default defineApp({ ... })\``);
    // And through the CLI: that one line, exit 2.
    const r = replay(['record', file, '--port', '0', '--journal', path.join(dir, 'journal')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`replay: ${(error as Error).message}`);
  });

  it('refuses an app whose module imports a Node built-in with E_APP, naming the app line of the import', async () => {
    const dir = tmp();
    const file = path.join(dir, 'app.ts');
    fs.writeFileSync(
      file,
      "import { defineApp } from 'windback';\n\nimport * as fs from 'node:fs';\nexport default defineApp({ name: 'x', migrations: [], kinds: { a: async () => typeof fs.readFileSync } });\n",
    );
    const r = replay(['record', file, '--port', '0', '--journal', path.join(dir, 'journal')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(new RegExp(`^replay: the app in ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} does not load: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:\\d+: require\\('node:fs'\\) is not deterministic: the file system is outside the journal`));
  });

  it('names the line of a dependency in node_modules whose top level requires a Node built-in', async () => {
    const { file, pkg, dir } = appWithDependency('idgen', "const crypto = require('crypto');\nexports.id = () => crypto.randomBytes(8).toString('hex');", 'id', 'id()');
    const r = replay(['record', file, '--port', '0', '--journal', path.join(dir, 'journal')], { timeoutMs: 20_000 });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim()).toBe(
      `replay: the app in ${file} does not load: ${path.join(pkg, 'index.js')}:2:16: require('crypto') is not deterministic: use the global crypto.randomUUID() and crypto.getRandomValues() (journaled), ctx.call() for keys and signatures, or a bundled pure JavaScript hash`,
    );
  });

  it("says that the sandbox has no process when a dependency's top level reads process.env", async () => {
    const { file, pkg, dir } = appWithDependency('envy', "const dev = process.env.DEBUG !== undefined;\nexports.fmt = (x) => (dev ? '[dev] ' + x : x);", 'fmt', "fmt('hi')");
    const r = replay(['record', file, '--port', '0', '--journal', path.join(dir, 'journal')], { timeoutMs: 20_000 });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim()).toBe(
      `replay: the app in ${file} does not load: ${path.join(pkg, 'index.js')}:2:13: process is not defined (the sandbox has none of Node's own globals, process, Buffer, __dirname: docs/sandbox.md, "Standard globals"; the app's configuration is ctx.config)`,
    );
  });

  it('reads process.env.NODE_ENV as "production" in the app and its dependencies: packages that pick a build by it load, the same way on replay', async () => {
    const { file, dir } = appWithDependency('modal', "module.exports = process.env.NODE_ENV === 'production' ? require('./prod.js') : require('./dev.js');", 'mode', 'mode');
    const pkg = path.join(dir, 'node_modules', 'modal');
    fs.writeFileSync(path.join(pkg, 'prod.js'), "exports.mode = 'production build';\n");
    fs.writeFileSync(path.join(pkg, 'dev.js'), "exports.mode = process.cwd();\n");
    const bundle = await bundleApp(file);
    expect(bundle.code).not.toContain('dev.js');
    const journal = path.join(dir, 'journal');
    const { server, client } = await startRecording(file, journal);
    try {
      expect((await client.json('/a', {})).value).toBe('production build');
    } finally {
      client.close();
      expect((await server.stop()).code).toBe(0);
    }
    expect(replay(['verify', '-j', journal]).code).toBe(0);
  });

  it('refuses top-level await with E_BUNDLE, naming its line and saying where to await instead', async () => {
    const dir = tmp();
    const file = path.join(dir, 'app.ts');
    fs.writeFileSync(file, "import { defineApp } from 'windback';\nconst limit = await Promise.resolve(3);\nexport default defineApp({ name: 'x', migrations: [], kinds: { a: async () => limit } });\n");
    const r = replay(['record', file, '--port', '0', '--journal', path.join(dir, 'journal')], { timeoutMs: 20_000 });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim()).toBe(
      `replay: cannot bundle ${file}: top-level await at app.ts:2:14 is not supported: the app's module runs synchronously, once for every session, before its handler; await in the handler instead`,
    );
  });

  it('turns import() of a Node built-in into a require the sandbox refuses as that import(), and import("windback") into the app API', async () => {
    const dir = tmp();
    const file = path.join(dir, 'app.ts');
    fs.writeFileSync(file, "import { defineApp } from 'windback';\nexport default defineApp({ name: 'x', migrations: [], kinds: { a: async () => [await import('node:fs'), await import('windback')] } });\n");
    const bundle = await bundleApp(file);
    expect(bundle.code).toContain('require("windback:import:node:fs")');
    expect(bundle.code).toContain('require("windback:import:windback")');
    expect(bundle.code).not.toMatch(/\bimport\(/);
  });
});

/** An app whose one kind returns `call`, from a CommonJS package `name` in its own node_modules whose index.js is 'use strict' and `body` (line 2 on). */
function appWithDependency(name: string, body: string, imported: string, call: string): { dir: string; pkg: string; file: string } {
  const dir = tmp();
  const pkg = path.join(dir, 'node_modules', name);
  fs.mkdirSync(pkg, { recursive: true });
  fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name, version: '1.0.0', main: 'index.js' }));
  fs.writeFileSync(path.join(pkg, 'index.js'), `'use strict';\n${body}\n`);
  const file = path.join(dir, 'app.ts');
  fs.writeFileSync(file, `import { defineApp } from 'windback';\nimport { ${imported} } from '${name}';\nexport default defineApp({ name: 'x', migrations: [], kinds: { a: async () => ${call} } });\n`);
  return { dir, pkg, file };
}
