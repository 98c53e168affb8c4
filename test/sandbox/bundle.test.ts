// The sandbox as the executor will load it: one self-contained bundle, run
// in a bare vm context, installed once, and an app bundle wrapped as a
// per-session factory.

import { buildSync } from 'esbuild';
import { readdirSync } from 'node:fs';
import vm from 'node:vm';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { SANDBOX_GLOBAL, SCOPE_PARAMETERS, wrapAppFactory } from '../../src/sandbox/factory.js';
import { installRealm } from '../../src/sandbox/realm.js';
import type { SandboxApi } from '../../src/sandbox/index.js';
import { FakeBridge, HOST_INTRINSICS, createRealm, runSession, sandboxBundle } from './harness.js';

describe('the sandbox bundle', () => {
  it('is built from src/sandbox and model types only, with nothing left to import', () => {
    const { metafile } = sandboxBundle();
    const inputs = Object.keys(metafile.inputs);
    expect(inputs.every((path) => path.startsWith('src/sandbox/'))).toBe(true);
    for (const input of Object.values(metafile.inputs)) {
      for (const imported of input.imports) {
        expect(imported.external ?? false, imported.path).toBe(false);
        expect(imported.path.startsWith('src/sandbox/') || imported.path.startsWith('src/model/'), imported.path).toBe(true);
      }
    }
    const output = Object.values(metafile.outputs)[0];
    expect(output.imports).toEqual([]);
  });

  it('typechecks without Node’s types (it may use no Node API)', () => {
    const files = readdirSync('src/sandbox')
      .filter((f) => f.endsWith('.ts'))
      .map((f) => `src/sandbox/${f}`);
    const program = ts.createProgram(files, {
      target: ts.ScriptTarget.ES2022,
      lib: ['lib.es2023.d.ts'],
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      verbatimModuleSyntax: true,
      types: [],
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);
  }, 60_000);

  it('runs in a context that has no Node globals at all', () => {
    const context = vm.createContext({});
    expect(vm.runInContext('typeof process + typeof Buffer + typeof require + typeof setTimeout', context)).toBe('undefinedundefinedundefinedundefined');
    new vm.Script(sandboxBundle().code).runInContext(context);
    const api = vm.runInContext(`globalThis.${SANDBOX_GLOBAL}`, context) as SandboxApi;
    expect(api.version).toBe(1);
    expect([...api.SCOPE_PARAMETERS]).toEqual([...SCOPE_PARAMETERS]);
    api.installRealm({ intrinsics: HOST_INTRINSICS });
    expect(vm.runInContext('typeof process + typeof Buffer', context)).toBe('undefinedundefined');
  });

  it('installs once per context', () => {
    const realm = createRealm();
    expect(() => realm.api.installRealm({ intrinsics: HOST_INTRINSICS })).toThrow(/already installed/);
  });

  it('refuses to install in the host realm (it would freeze the host)', () => {
    expect(() => installRealm({ intrinsics: HOST_INTRINSICS })).toThrow(/must run inside a vm context/);
    expect(Object.isFrozen(Array.prototype)).toBe(false);
  });

  it('refuses sessions before the realm is installed', () => {
    const context = vm.createContext({});
    new vm.Script(sandboxBundle().code).runInContext(context);
    const api = vm.runInContext(`globalThis.${SANDBOX_GLOBAL}`, context) as SandboxApi;
    expect(() => api.createSession(new FakeBridge())).toThrow(/installRealm has not run/);
  });

  it('reports what it installed and froze', () => {
    const { info } = createRealm({ timeZone: 'Asia/Tokyo', locale: 'ja-JP' });
    expect(info.installed).toEqual(
      expect.arrayContaining(['URL', 'TextEncoder', 'structuredClone', 'WeakRef', 'performance', 'crypto', 'setTimeout', 'fetch', 'Date', 'Intl']),
    );
    expect(info.frozenObjects).toBeGreaterThan(500);
    expect([info.timeZone, info.locale, info.nativeTime]).toEqual(['Asia/Tokyo', 'ja-JP', false]);
  });
});

describe('the app factory', () => {
  it('takes the scope parameters in order and runs with this === module.exports', () => {
    const realm = createRealm();
    const factory = realm.load(`module.exports = { thisIsExports: this === exports, args: Array.from(arguments).length, strict: (function () { return this === undefined; })() };`);
    const { exports } = runSession(realm, factory, new FakeBridge());
    expect({ ...(exports as object) }).toEqual({ thisIsExports: true, args: SCOPE_PARAMETERS.length, strict: true });
  });

  it('can be left sloppy', () => {
    const realm = createRealm();
    const factory = realm.load(`module.exports = (function () { return this === undefined; })();`, { strict: false });
    expect(runSession(realm, factory, new FakeBridge()).exports).toBe(false);
  });

  it('keeps line numbers and the bundle’s source map comment', () => {
    const app = buildSync({
      stdin: { contents: "import { defineApp } from 'windback';\nexport function boom(): never {\n  throw new Error('boom');\n}\nexport default defineApp({ name: 'a', migrations: [], kinds: { k: async () => boom() } });\n", loader: 'ts', sourcefile: 'app.ts' },
      bundle: true,
      format: 'cjs',
      platform: 'node',
      external: ['windback'],
      sourcemap: 'inline',
      write: false,
    }).outputFiles[0].text;
    const wrapped = wrapAppFactory(app);
    const script = new vm.Script(wrapped, { filename: 'bundle.js' });
    expect(script.sourceMapURL).toMatch(/^data:application\/json;base64,/);
    const boomLine = app.split('\n').findIndex((line) => line.includes("throw new Error(\"boom\")")) + 1;
    expect(boomLine).toBeGreaterThan(0);
    const realm = createRealm();
    const factory = script.runInContext(realm.context) as Function;
    const { exports } = runSession(realm, factory, new FakeBridge());
    let stack = '';
    try {
      (exports as { boom: () => void }).boom();
    } catch (error) {
      stack = (error as Error).stack ?? '';
    }
    expect(stack.split('\n')[1]).toContain(`bundle.js:${boomLine}:`);
  });

  it('turns a shebang line into a comment instead of a syntax error', () => {
    expect(() => new vm.Script(wrapAppFactory('#!/usr/bin/env node\nmodule.exports = 1;'))).not.toThrow();
  });
});
