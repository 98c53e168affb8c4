// How the executor turns an app bundle into a per-session factory. Plain
// strings, no side effects: the executor may import this file directly.

/** The name under which the evaluated sandbox bundle leaves its API on the context's global object (until installRealm removes it). */
/**
 * The prefix the app bundler (src/executor/bundle.ts) gives the specifier of
 * a dynamic `import('<id>')` of a module it leaves external: the bundle asks
 * for `require('windback:import:<id>')`, and the sandbox's require refuses it
 * naming the import().
 */
export const DYNAMIC_IMPORT_PREFIX = 'windback:import:';

export const SANDBOX_GLOBAL = '__windback_sandbox';

/**
 * The factory's parameters, in order: the CommonJS trio, then every global
 * the session shadows. `runFactory` passes a SessionScope in this order.
 */
export const SCOPE_PARAMETERS = [
  'exports',
  'module',
  'require',
  'Date',
  'Math',
  'performance',
  'crypto',
  'setTimeout',
  'clearTimeout',
  'setInterval',
  'clearInterval',
  'setImmediate',
  'clearImmediate',
  'fetch',
  'console',
  'Intl',
] as const;

export type ScopeParameter = (typeof SCOPE_PARAMETERS)[number];

export interface WrapOptions {
  /**
   * Prefix the body with 'use strict' (default true), so that writing to a
   * frozen intrinsic throws instead of being silently ignored. Either way the
   * write has no effect on other sessions.
   */
  strict?: boolean;
}

/**
 * Wraps a CommonJS bundle (esbuild `format: 'cjs'`) as a function expression
 * `(function (exports, module, require, Date, ...) { <bundle> })`. Evaluate it
 * once per context with `new vm.Script(source, { filename })`, then call it
 * once per session through `runFactory`.
 *
 * The prefix sits on the bundle's first line, so line numbers are unchanged
 * and only columns on line 1 shift; the bundle's `//# sourceMappingURL`
 * comment still applies (V8 reads it anywhere in the script).
 */
export function wrapAppFactory(bundle: string, options: WrapOptions = {}): string {
  const strict = options.strict ?? true;
  const body = bundle.startsWith('#!') ? '//' + bundle.slice(2) : bundle;
  return `(function (${SCOPE_PARAMETERS.join(', ')}) {${strict ? "'use strict';" : ''}${body}\n})`;
}
