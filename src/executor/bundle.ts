import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isBuiltin } from 'node:module';
import { build, type Plugin } from 'esbuild';
import { DYNAMIC_IMPORT_PREFIX } from '../sandbox/factory.js';
import { CorruptJournalError, UsageError } from '../model/errors.js';

// An app's code, bundled once with esbuild into one CommonJS script plus its
// source map; module.exports is the app's default export. The hash of the two is the code version; the journal directory
// keeps both, content-addressed, so a replay can run exactly what was recorded.

export interface AppBundle {
  /** SHA-256 of the code, 64 hex digits. */
  codeVersion: string;
  /** CommonJS source, `require('windback')` left for the sandbox to provide. */
  code: string;
  /** The source map, as JSON text, with sources relative to `sourceRoot`. */
  map: string;
  /** Where the entry point was read from. */
  entry: string;
}

/** The module name apps import the app API from. */
export const APP_API_MODULE = 'windback';

export async function bundleApp(entry: string): Promise<AppBundle> {
  const absolute = path.resolve(entry);
  if (!fs.existsSync(absolute)) throw new UsageError(`app entry not found: ${absolute}`, 'E_NOT_FOUND');
  let result;
  try {
    result = await build({
      // Through a small entry that hands the app's default export to
      // module.exports: bundling the app module itself as the entry would
      // expose its exports through getters (esbuild's live bindings), fresh
      // closures for every session's module instance that V8 keeps in the old
      // generation, which keeps each finished session alive until a full
      // collection (docs/sandbox.md, "Isolation between sessions").
      stdin: { contents: entryModule(absolute), resolveDir: path.dirname(absolute), sourcefile: ENTRY_NAME, loader: 'js' },
      bundle: true,
      write: false,
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      sourcemap: 'external',
      sourcesContent: true,
      outfile: path.join(path.dirname(absolute), '__windback_bundle.js'),
      external: [APP_API_MODULE],
      // import() becomes a require() in a promise: a vm script cannot answer
      // import() without --experimental-vm-modules (Node's TypeError "A dynamic
      // import callback was not specified"), the sandbox's require can.
      supported: { 'dynamic-import': false },
      plugins: [dynamicImports],
      // Packages test it to pick a build; a constant keeps the bundle deterministic
      // (the sandbox has no process: docs/sandbox.md, "Standard globals").
      define: { 'process.env.NODE_ENV': '"production"' },
      logLevel: 'silent',
      // Deterministic output: the code version must not depend on the machine.
      absWorkingDir: path.dirname(absolute),
      charset: 'utf8',
      legalComments: 'none',
    });
  } catch (error) {
    const first = (error as { errors?: { text: string; location?: { file: string; line: number; column: number } }[] }).errors?.[0];
    if (first?.location?.file === ENTRY_NAME && /for import "default"/.test(first.text)) {
      throw new UsageError(`cannot bundle ${absolute}: it has no default export; an app module ends with \`export default defineApp({ ... })\``, 'E_BUNDLE');
    }
    const where = first?.location ? ` at ${first.location.file}:${first.location.line}:${first.location.column}` : '';
    if (first && /^Top-level await is currently not supported/.test(first.text)) {
      throw new UsageError(
        `cannot bundle ${absolute}: top-level await${where} is not supported: the app's module runs synchronously, once for every session, before its handler; await in the handler instead`,
        'E_BUNDLE',
      );
    }
    throw new UsageError(`cannot bundle ${absolute}: ${first?.text ?? (error as Error).message}${where}`, 'E_BUNDLE');
  }
  const code = stripSourceMapComment(result.outputFiles.find((f) => f.path.endsWith('.js'))!.text);
  // Sources stay relative (so the code version does not depend on the
  // machine); sourceRoot tells debuggers where they were.
  const rawMap = JSON.parse(result.outputFiles.find((f) => f.path.endsWith('.map'))!.text) as Record<string, unknown>;
  const map = JSON.stringify({ ...rawMap, sourceRoot: path.dirname(absolute) });
  return { codeVersion: versionOf(code), code, map, entry: absolute };
}

/**
 * A dynamic import() of a module left external (a Node built-in, or the app
 * API): `require('windback:import:<id>')`, so that the sandbox's refusal
 * names the import() (docs/sandbox.md). `import('windback')` gets the app API.
 */
const dynamicImports: Plugin = {
  name: 'windback-dynamic-imports',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.kind !== 'dynamic-import' || (args.path !== APP_API_MODULE && !isBuiltin(args.path))) return undefined;
      return { path: DYNAMIC_IMPORT_PREFIX + args.path, external: true };
    });
  },
};

/** The name esbuild gives the generated entry (in the source map's sources). */
const ENTRY_NAME = '<windback entry>';

function entryModule(app: string): string {
  return `import app from ${JSON.stringify(app)};\nmodule.exports = app;\n`;
}

/** The code version: SHA-256 of the bundled code (not of its map, which names local paths). */
function versionOf(code: string): string {
  return createHash('sha256').update(code).digest('hex');
}

function stripSourceMapComment(code: string): string {
  return code.replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n');
}

/** Keep a bundle in `<journal>/code/<version>.js` and `.js.map` (idempotent). */
export function storeBundle(journalDir: string, bundle: AppBundle): string {
  const dir = path.join(journalDir, 'code');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `${bundle.codeVersion}.js`);
  if (!fs.existsSync(file)) {
    writeAtomically(`${file}.map`, bundle.map);
    writeAtomically(file, bundle.code);
  }
  return file;
}

export function loadStoredBundle(journalDir: string, codeVersion: string): AppBundle {
  const file = path.join(journalDir, 'code', `${codeVersion}.js`);
  if (!fs.existsSync(file)) {
    throw new UsageError(`code version ${codeVersion} is not in ${path.dirname(file)}; pass --code <path> to run other code`, 'E_NOT_FOUND');
  }
  const code = fs.readFileSync(file, 'utf8');
  const map = fs.readFileSync(`${file}.map`, 'utf8');
  if (versionOf(code) !== codeVersion) {
    throw new CorruptJournalError(`${file} does not match its code version (it was altered)`, null, file);
  }
  return { codeVersion, code, map, entry: file };
}

function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.renameSync(tmp, file);
}
