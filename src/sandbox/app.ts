// The app API: what `import { defineApp, RetryableError } from 'windback'`
// resolves to inside the sandbox (the bundler leaves 'windback' external and
// the session's require returns this module). One frozen object shared by all
// sessions.

import type { AppDefinition, RouteDefinition } from './app-types.js';

/** A route whose kind is one of `K`. */
type RouteTo<K extends string> = K | (Exclude<RouteDefinition, string> & { kind: K });
import { DeterminismError, RetryableError } from './errors.js';
import { RealmTypeError, isObject } from './intrinsics.js';

const { isArray } = Array;
const { keys, hasOwn } = Object;

const FIELDS = ['name', 'config', 'secretFields', 'migrations', 'kinds', 'routes'];

/**
 * Definitions that went through defineApp while the module instance being
 * made ran, so that the host can tell an app from anything else exported.
 * runFactory clears it before running the module, and the host reads it
 * right after, synchronously. Not a WeakSet: a weak entry for every
 * session's definition costs about 0.5 µs of garbage collection each.
 */
const definedByInstance: object[] = [];
/** More calls than this while one module instance is made are not remembered (no app calls defineApp more than once or twice). */
const MAX_DEFINED = 16;

/** A module instance is about to be made (see runFactory). */
export function beginInstance(): void {
  definedByInstance.length = 0;
}

function invalid(message: string): never {
  throw new RealmTypeError(`defineApp: ${message}`);
}

/**
 * Checks an app definition and returns it unchanged. Throws a TypeError that
 * names the offending field.
 *
 * `Config` is inferred from the `config` defaults, or given
 * (`defineApp<Config>({ ... })`), and is the type of every handler's
 * `ctx.config`; a route naming a kind that is not in `kinds` is a type error
 * (and a TypeError at load).
 */
export function defineApp<Config = unknown, const D extends AppDefinition<Config> = AppDefinition<Config>>(
  definition: D & { config?: Config; routes?: Record<string, RouteTo<keyof D['kinds'] & string>> },
): D {
  if (!isObject(definition) || isArray(definition)) invalid('expected an object: defineApp({ name, migrations, kinds })');
  const d = definition as unknown as Record<string, unknown>;
  for (const key of keys(d)) {
    if (!FIELDS.includes(key)) invalid(`unknown field "${key}"; the fields are ${FIELDS.join(', ')}`);
  }
  if (typeof d.name !== 'string' || d.name.trim() === '') invalid('"name" must be a non-empty string');

  if (!isArray(d.migrations)) invalid('"migrations" must be an array of { name, sql } (it may be empty)');
  // Runs once per session (the module is instantiated per session): plain
  // loops rather than closures, skipping holes as forEach did.
  const migrations = d.migrations as unknown[];
  // Past a few migrations a Set, so that long lists do not cost quadratic time.
  const seen: { includes(name: string): boolean; push(name: string): void } = migrations.length <= 16 ? [] : setOfNames();
  for (let i = 0, n = migrations.length; i < n; i++) {
    if (!(i in migrations)) continue;
    const migration = migrations[i] as { name?: unknown; sql?: unknown } | null;
    if (!isObject(migration)) invalid(`migrations[${i}] must be an object { name, sql }`);
    const name = migration.name;
    if (typeof name !== 'string' || name === '') invalid(`migrations[${i}].name must be a non-empty string`);
    if (typeof migration.sql !== 'string' || migration.sql.trim() === '') invalid(`migrations[${i}] ("${name}") needs its sql as a non-empty string`);
    if (seen.includes(name)) invalid(`migrations[${i}]: the name "${name}" is used twice`);
    seen.push(name);
  }

  if (!isObject(d.kinds) || isArray(d.kinds)) invalid('"kinds" must be an object of handlers: { kind: async (input, ctx) => response }');
  const kinds = d.kinds as Record<string, unknown>;
  const kindNames = keys(kinds);
  if (kindNames.length === 0) invalid('"kinds" must name at least one kind');
  for (const kind of kindNames) {
    if (typeof kinds[kind] !== 'function') invalid(`kinds.${kind} must be a function (input, ctx) => Promise<response>`);
  }

  if (d.secretFields !== undefined) {
    if (!isArray(d.secretFields)) invalid('"secretFields" must be an array of config field paths');
    const fields = d.secretFields as unknown[];
    for (let i = 0, n = fields.length; i < n; i++) {
      if (!(i in fields)) continue;
      const f = fields[i];
      if (typeof f !== 'string' || f === '') invalid(`secretFields[${i}] must be a non-empty string`);
    }
  }

  if (d.routes !== undefined) {
    if (!isObject(d.routes) || isArray(d.routes)) invalid('"routes" must be an object { path: kind }');
    const routes = d.routes as Record<string, unknown>;
    for (const path of keys(routes)) {
      const route = routes[path];
      const kind = typeof route === 'string' ? route : isObject(route) ? (route as { kind?: unknown }).kind : undefined;
      if (typeof kind !== 'string') invalid(`routes["${path}"] must be a kind name or { kind, method?, transport? }`);
      if (!hasOwn(kinds, kind)) invalid(`routes["${path}"] names the kind "${kind}", which is not in "kinds"`);
    }
  }

  if (definedByInstance.length < MAX_DEFINED) definedByInstance.push(definition);
  return definition;
}

function setOfNames(): { includes(name: string): boolean; push(name: string): void } {
  const set = new Set<string>();
  return { includes: (name) => set.has(name), push: (name) => void set.add(name) };
}

/**
 * The app definition a bundle exported: `export default defineApp(...)` or
 * `module.exports = defineApp(...)`. For the host, right after runFactory.
 */
export function appDefinitionOf(moduleExports: unknown): AppDefinition {
  if (isObject(moduleExports)) {
    if (definedByInstance.includes(moduleExports)) return moduleExports as AppDefinition;
    const fallback = (moduleExports as { default?: unknown }).default;
    if (isObject(fallback) && definedByInstance.includes(fallback)) return fallback as AppDefinition;
  }
  throw new RealmTypeError('the app bundle must export the result of defineApp(...): `export default defineApp({ ... })`');
}

/** The 'windback' module as app code sees it. */
export const appApi = { __proto__: null, defineApp, RetryableError, DeterminismError } as unknown as {
  defineApp: typeof defineApp;
  RetryableError: typeof RetryableError;
  DeterminismError: typeof DeterminismError;
};
