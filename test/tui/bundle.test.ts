import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BUNDLE_FILE, BUNDLE_INPUTS_FILE, currentBundle, inputsHash } from '../../src/commands/tui-bundle.js';
import { ROOT, tempDirs } from '../helpers/cli.js';

// dist/tui/run.bundle.js (scripts/build-tui.mjs, part of `npm run build`):
// what `replay tui` loads. e2e.test.ts checks that it does and that it draws;
// this checks what it is made of.

const BUNDLE = path.join(ROOT, 'dist', 'tui', 'run.bundle.js');

describe('the TUI bundle', () => {
  const source = (): string => {
    if (!fs.existsSync(BUNDLE)) throw new Error('dist/tui/run.bundle.js is missing: run `npm run build` first');
    return fs.readFileSync(BUNDLE, 'utf8');
  };

  it('imports only node built-ins, the CLI\'s chalk, and project modules that exist next to dist/tui', () => {
    const text = source();
    const specifiers = [...text.matchAll(/^(?:import|export)\b[^;'"]*?from\s*["']([^"']+)["']/gm)].map((m) => m[1]);
    expect(specifiers.length).toBeGreaterThan(0);
    const outside = specifiers.filter((s) => !s.startsWith('node:') && s !== 'chalk');
    // The project's own modules are imported, not copied (they resolve paths from import.meta.url).
    expect(outside).toContain('./../services/tui-data.js');
    for (const s of outside) {
      expect(s, `a bare import left in the bundle: ${s}`).toMatch(/^\.\.?\//);
      expect(fs.existsSync(path.resolve(path.dirname(BUNDLE), s)), `${s} does not exist next to the bundle`).toBe(true);
    }
    // Nothing of ink or react left to import separately.
    expect(text).not.toMatch(/from\s*["'](ink|react|react-reconciler|yoga-layout|scheduler)["']/);
    // ink's devtools only when DEV=true, at run time.
    expect(text).not.toMatch(/^import[^;]*["']react-devtools-core["']/m);
  });

  it('holds react\'s production build (NODE_ENV=production at build time)', () => {
    const text = source();
    expect(text).toMatch(/react-reconciler\.production\.js/);
    expect(text).not.toMatch(/\.development\.js/);
  });
});

const tmp = tempDirs('windback-tui-bundle');

describe('which TUI replay tui loads', () => {
  it('the bundle, after npm run build: it records the compiled TUI it was made from', () => {
    expect(currentBundle(pathToFileURL(`${path.dirname(BUNDLE)}/`))?.href).toBe(pathToFileURL(BUNDLE).href);
  });

  it('the separate modules when the compiled TUI changed since the bundle, or there is no bundle', () => {
    const dir = tmp();
    const url = pathToFileURL(`${dir}/`);
    fs.mkdirSync(path.join(dir, 'components'));
    fs.writeFileSync(path.join(dir, 'run.js'), 'export const a = 1;\n');
    fs.writeFileSync(path.join(dir, 'components', 'Pane.js'), 'export const b = 2;\n');
    fs.writeFileSync(path.join(dir, BUNDLE_FILE), 'export const ab = 3;\n');
    const files = ['components/Pane.js', 'run.js'];
    expect(currentBundle(url)).toBeNull(); // no record of what it was built from
    fs.writeFileSync(path.join(dir, BUNDLE_INPUTS_FILE), JSON.stringify({ files, sha256: inputsHash(url, files) }));
    expect(currentBundle(url)?.href).toBe(pathToFileURL(path.join(dir, BUNDLE_FILE)).href);
    // Rewritten with the same contents (a tsc that changed nothing): still current.
    fs.writeFileSync(path.join(dir, 'run.js'), 'export const a = 1;\n');
    expect(currentBundle(url)).not.toBeNull();
    fs.writeFileSync(path.join(dir, 'components', 'Pane.js'), 'export const b = 4;\n');
    expect(currentBundle(url)).toBeNull();
    fs.writeFileSync(path.join(dir, 'components', 'Pane.js'), 'export const b = 2;\n');
    expect(currentBundle(url)).not.toBeNull();
    fs.rmSync(path.join(dir, 'components', 'Pane.js'));
    expect(currentBundle(url)).toBeNull();
    fs.writeFileSync(path.join(dir, 'components', 'Pane.js'), 'export const b = 2;\n');
    fs.rmSync(path.join(dir, BUNDLE_FILE));
    expect(currentBundle(url)).toBeNull();
  });
});
