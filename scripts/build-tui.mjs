// Part of `npm run build`, after tsc: bundles the compiled TUI
// (dist/tui/run.js) with ink, react and their dependencies into one ESM file,
// dist/tui/run.bundle.js, which `replay tui` loads (src/commands/tui.ts).
// Importing ink and react as hundreds of separate modules took ~270 ms of the
// TUI's start; one file takes a fraction. The project's own modules outside
// dist/tui stay separate imports: they resolve paths from import.meta.url and
// share classes with the CLI, so they must not be copied into the bundle.
// Next to it, run.bundle.inputs.json records the files of dist/tui it was
// built from and their hash (src/commands/tui.ts), so that a stale bundle is
// never loaded.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const dist = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist'));
const tuiDir = path.join(dist, 'tui');
const { BUNDLE_FILE, BUNDLE_INPUTS_FILE, inputsHash } = await import(pathToFileURL(path.join(dist, 'commands', 'tui-bundle.js')).href);
const file = path.join(tuiDir, BUNDLE_FILE);

const projectExternal = {
  name: 'project-external',
  setup(b) {
    // ink's devtools.js imports react-devtools-core statically, and ink imports
    // it only when DEV=true. Bundled, that static import would be hoisted and
    // fail at load (the optional peer is not installed): import it lazily instead.
    b.onResolve({ filter: /^\.\/devtools\.js$/ }, (args) =>
      args.importer.includes(`${path.sep}ink${path.sep}`) ? { path: 'ink-devtools', namespace: 'windback' } : undefined,
    );
    b.onLoad({ filter: /^ink-devtools$/, namespace: 'windback' }, () => ({
      contents: "const { default: devtools } = await import('react-devtools-core');\ndevtools.initialize();\ndevtools.connectToDevTools();\n",
      loader: 'js',
    }));
    // yoga-layout's wasm is inlined as a data: URL, which its loader reads
    // with fetch() when fetch exists: the first fetch() loads node's undici
    // (20-130 ms of the TUI's start, with the load). Without fetch it decodes the same
    // base64 itself.
    b.onLoad({ filter: /[\\/]yoga-layout[\\/]dist[\\/]binaries[\\/]yoga-wasm-base64-esm\.js$/ }, async (args) => {
      const source = await fs.promises.readFile(args.path, 'utf8');
      const check = '"function"!=typeof fetch';
      if (source.split(check).length !== 3) throw new Error(`build-tui: ${args.path} no longer checks for fetch as expected; update scripts/build-tui.mjs`);
      return { contents: source.replaceAll(check, 'true'), loader: 'js' };
    });
    // With DEV=true ink reads its package.json next to its own module; bundled, that is not where it is.
    b.onLoad({ filter: /[\\/]ink[\\/]build[\\/]reconciler\.js$/ }, async (args) => {
      const source = await fs.promises.readFile(args.path, 'utf8');
      const own = "fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')";
      if (!source.includes(own)) throw new Error(`build-tui: ${args.path} no longer reads its package.json as expected; update scripts/build-tui.mjs`);
      const pkg = JSON.parse(await fs.promises.readFile(path.join(path.dirname(args.path), '..', 'package.json'), 'utf8'));
      return { contents: source.replace(own, JSON.stringify(JSON.stringify({ name: pkg.name, version: pkg.version }))), loader: 'js' };
    });
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      const target = path.resolve(args.resolveDir, args.path);
      if (args.resolveDir.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      if (target.startsWith(tuiDir + path.sep)) return undefined;
      // Relative to dist/tui, where the bundle lives, the same path stays valid.
      return { path: `./${path.relative(tuiDir, target).split(path.sep).join('/')}`, external: true };
    });
  },
};

const result = await build({
  entryPoints: [path.join(tuiDir, 'run.js')],
  outfile: file,
  // Written below by a rename, so a `replay tui` starting meanwhile never reads half a file.
  write: false,
  metafile: true,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // react and react-reconciler pick their production builds from this; it also drops their dev-only checks.
  define: { 'process.env.NODE_ENV': '"production"' },
  // ink imports react-devtools-core only when DEV=true; it is not installed (an optional peer).
  // chalk stays the CLI's own instance, as unbundled: it decides its colour
  // level when first imported, which the CLI does before src/commands/tui.ts
  // sets CI=0 for ink (a fresh copy would then see CI and draw no colour).
  external: ['react-devtools-core', 'chalk'],
  // Some dependencies are CommonJS and call require() for node built-ins.
  banner: { js: "import { createRequire as __windbackCreateRequire } from 'node:module'; const require = __windbackCreateRequire(import.meta.url);" },
  plugins: [projectExternal],
  // The licences of what is bundled, at the end of the file.
  legalComments: 'eof',
  sourcemap: false,
  logLevel: 'warning',
});
function writeAtomically(target, contents) {
  const tmp = `${target}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, contents);
  fs.renameSync(tmp, target);
}

const files = Object.keys(result.metafile.inputs)
  .map((input) => path.resolve(input))
  .filter((input) => input.startsWith(tuiDir + path.sep))
  .map((input) => path.relative(tuiDir, input).split(path.sep).join('/'))
  .sort();
if (!files.includes('run.js')) throw new Error('build-tui: dist/tui/run.js is not among the bundled files');
writeAtomically(file, result.outputFiles[0].contents);
const dirUrl = pathToFileURL(tuiDir + path.sep);
writeAtomically(path.join(tuiDir, BUNDLE_INPUTS_FILE), `${JSON.stringify({ files, sha256: inputsHash(dirUrl, files) }, null, 2)}\n`);
