// The `require` app code sees. The bundle has every module of the app inlined,
// so the only ids left for runtime are 'windback' (the app API) and whatever
// the bundler kept external: Node built-ins, or a package that was not
// bundled. None of those can be replayed, so they throw a DeterminismError
// that says what to use instead.

import { appApi } from './app.js';
import { DeterminismError } from './errors.js';
import { DYNAMIC_IMPORT_PREFIX } from './factory.js';
import { nameFunction } from './intrinsics.js';

const { hasOwn } = Object;

const NETWORK = 'network I/O is only replayable as a journaled call: use fetch() or ctx.call()';
const FILES = 'the file system is outside the journal: keep data in the database (ctx.tx / ctx.read) or pass it in config';
const PROCESSES = 'processes and threads are outside the journal: do that work behind ctx.call()';
const PURE = 'Node built-in modules are not available inside the sandbox: bundle a pure JavaScript implementation instead';

const INSTEAD: Record<string, string> = {
  fs: FILES,
  'fs/promises': FILES,
  path: PURE,
  net: NETWORK,
  http: NETWORK,
  https: NETWORK,
  http2: NETWORK,
  tls: NETWORK,
  dgram: NETWORK,
  dns: NETWORK,
  'dns/promises': NETWORK,
  child_process: PROCESSES,
  cluster: PROCESSES,
  worker_threads: PROCESSES,
  os: 'facts about the host differ between recording and replay: put what the app needs in its config',
  process: 'the process environment differs between recording and replay: use ctx.config',
  crypto:
    'use the global crypto.randomUUID() and crypto.getRandomValues() (journaled), ctx.call() for keys and signatures, or a bundled pure JavaScript hash',
  timers: 'use the global setTimeout/setInterval/setImmediate, which the journal orders',
  'timers/promises': 'use the global setTimeout wrapped in a Promise; the journal orders it',
  perf_hooks: 'use the global performance.now(), which is journaled',
  v8: PROCESSES,
  vm: PROCESSES,
  inspector: PROCESSES,
  async_hooks: 'async context tracking depends on host scheduling: pass context explicitly',
  readline: FILES,
  repl: PROCESSES,
};

/** The `require` of every session (it holds no session state, so it is shared and frozen). */
export const sandboxRequire = nameFunction(function require(id: unknown): unknown {
  let name = String(id);
  let construct = `require('${name}')`;
  if (name.startsWith(DYNAMIC_IMPORT_PREFIX)) {
    name = name.slice(DYNAMIC_IMPORT_PREFIX.length);
    construct = `import('${name}')`;
  }
  if (name === 'windback') return appApi;
  const bare = name.startsWith('node:') ? name.slice(5) : name;
  const instead = hasOwn(INSTEAD, bare)
    ? INSTEAD[bare]
    : (BUILTIN_PREFIXES.some((p) => bare === p || bare.startsWith(p + '/'))
      ? PURE
      : `modules are bundled when the app is built, and '${name}' was left external: bundle it (or, if it is a Node built-in, use what the sandbox provides)`);
  throw new DeterminismError(construct, instead, sandboxRequire);
}, 'require', 1);

const BUILTIN_PREFIXES = [
  'assert',
  'buffer',
  'console',
  'constants',
  'diagnostics_channel',
  'domain',
  'events',
  'module',
  'punycode',
  'querystring',
  'stream',
  'string_decoder',
  'sys',
  'test',
  'trace_events',
  'tty',
  'url',
  'util',
  'wasi',
  'zlib',
];
