import type { AppDefinition, RouteDefinition } from '../sandbox/app-types.js';
import type { SessionBridge } from '../sandbox/bridge.js';
import type { Transport } from '../model/records.js';
import { UsageError } from '../model/errors.js';
import { bundleApp, loadStoredBundle, storeBundle, type AppBundle } from '../executor/bundle.js';
import { CodeRealm } from '../executor/realm.js';
import { bundleLocation } from '../executor/source-maps.js';
import { secretsOf, type Secrets } from './secrets.js';

// The app a server runs: bundled, kept in the journal directory under its code
// version, loaded into its realm, and described (kinds, routes, migrations).

export interface AppRoute {
  kind: string;
  method: string;
  transport: Transport;
}

export interface LoadedApp {
  bundle: AppBundle;
  /** Replaced when a session retires it (see CodeRealm.changes). */
  realm: CodeRealm;
  zone: { timeZone: string; locale: string };
  name: string;
  kinds: string[];
  migrations: { name: string; sql: string }[];
  /** Path to its routes by method; every kind is also served at POST /<kind>, unless the app's routes claim that path. */
  routes: Map<string, Map<string, AppRoute>>;
  /** The effective configuration sessions see. */
  config: unknown;
  secretFields: string[];
  /** The values of the secret fields, kept out of the journal; null when none holds a non-empty string. */
  secrets: Secrets | null;
}

export interface LoadOptions {
  journalDir: string;
  timeZone: string;
  locale: string;
  /** Overrides merged over the app's default config. */
  config?: Record<string, unknown>;
}

/**
 * Bundle an app from its entry file, load it, and keep the bundle in the
 * journal directory when one is given. Without one nothing is written: the
 * server loads the app before it opens the journal, so that an entry that is
 * missing or does not load is refused before the journal is created, and
 * keeps the bundle with keepApp() once the journal is open.
 */
export async function loadApp(entry: string, options: Omit<LoadOptions, 'journalDir'> & { journalDir?: string }): Promise<LoadedApp> {
  const bundle = await bundleApp(entry);
  const app = describe(bundle, options);
  if (options.journalDir !== undefined) keepApp(options.journalDir, app);
  return app;
}

/** Keep a loaded app's bundle (and source map) in the journal directory, under its code version. */
export function keepApp(journalDir: string, app: LoadedApp): void {
  storeBundle(journalDir, app.bundle);
}

/** Load a recorded code version from the journal directory. */
export function loadRecordedApp(codeVersion: string, options: LoadOptions): LoadedApp {
  return describe(loadStoredBundle(options.journalDir, codeVersion), options);
}

function describe(bundle: AppBundle, options: Omit<LoadOptions, 'journalDir'>): LoadedApp {
  const realm = CodeRealm.create(bundle, { timeZone: options.timeZone, locale: options.locale });
  let definition: AppDefinition;
  try {
    definition = realm.instantiate(inspectionBridge(options)).definition;
  } catch (error) {
    // Where the module's top level threw (a static import of a Node built-in, say), in the app's sources.
    const at = error !== null && typeof error === 'object' ? bundleLocation(realm.filename, error as { stack?: string }) : null;
    const where = at ? `${at.file}:${at.line}:${at.column}: ` : '';
    const message = String((error as Error)?.message ?? error);
    throw new UsageError(`the app in ${bundle.entry} does not load: ${where}${message}${nodeGlobalHint(error, message)}`, 'E_APP');
  }
  const routes = new Map<string, Map<string, AppRoute>>();
  for (const kind of Object.keys(definition.kinds)) routes.set(`/${kind}`, new Map([['POST', { kind, method: 'POST', transport: 'json' }]]));
  /** The key that declared each method and path. */
  const declared = new Map<string, string>();
  /** The paths the app's routes declare: theirs alone (a default POST /<kind> there goes). */
  const claimed = new Set<string>();
  for (const [key, route] of Object.entries(definition.routes ?? {})) {
    const { path, method } = parseRouteKey(key);
    const appRoute = toRoute(route);
    const refuse = (why: string): never => {
      throw new UsageError(`the app in ${bundle.entry} does not load: routes["${key}"] ${why}`, 'E_APP');
    };
    if (method !== null && typeof route !== 'string' && route.method !== undefined && route.method.toUpperCase() !== method) {
      refuse(`says ${method} in its path and ${route.method.toUpperCase()} in its method; give it once`);
    }
    if (method !== null) appRoute.method = method;
    if (path === '/rpc' || path === '/RPC2' || path.startsWith('/_windback/')) {
      refuse(`claims ${path}, which the server keeps for ${path === '/rpc' ? 'JSON-RPC' : path === '/RPC2' ? 'XML-RPC' : 'itself'}; choose another path`);
    }
    const earlier = declared.get(`${appRoute.method} ${path}`);
    if (earlier !== undefined) refuse(`serves ${appRoute.method} ${path}, as routes["${earlier}"] does; one route per method and path`);
    declared.set(`${appRoute.method} ${path}`, key);
    if (!claimed.has(path)) {
      claimed.add(path);
      routes.set(path, new Map());
    }
    routes.get(path)!.set(appRoute.method, appRoute);
  }
  const config = mergeConfig(definition.config, options.config);
  const secretFields = [...(definition.secretFields ?? [])];
  // Refuses a secret too short to redact (a usage error) before anything is journaled.
  const secrets = secretsOf(config, secretFields);
  return {
    bundle,
    realm,
    zone: { timeZone: options.timeZone, locale: options.locale },
    name: definition.name,
    kinds: Object.keys(definition.kinds),
    migrations: definition.migrations.map((m) => ({ name: m.name, sql: m.sql })),
    routes,
    config,
    secretFields,
    secrets,
  };
}

/** Node's own globals, which the sandbox does not have: code that reads them at its top level does not load. */
const NODE_GLOBALS = ['process', 'Buffer', '__dirname', '__filename'];

function nodeGlobalHint(error: unknown, message: string): string {
  const name = (error as { name?: unknown } | null)?.name;
  const missing = /^(\S+) is not defined$/.exec(message)?.[1];
  if (name !== 'ReferenceError' || missing === undefined || !NODE_GLOBALS.includes(missing)) return '';
  return ` (the sandbox has none of Node's own globals, process, Buffer, __dirname: docs/sandbox.md, "Standard globals"; the app's configuration is ctx.config)`;
}

/** The app's realm, replaced by a fresh one if a session broke isolation in the old one. */
export function realmOf(app: LoadedApp): CodeRealm {
  if (app.realm.retired) app.realm = CodeRealm.create(app.bundle, app.zone);
  return app.realm;
}

function toRoute(route: RouteDefinition): AppRoute {
  if (typeof route === 'string') return { kind: route, method: 'POST', transport: 'json' };
  return { kind: route.kind, method: (route.method ?? 'POST').toUpperCase(), transport: route.transport ?? 'json' };
}

/** A route's key: a path, `'/orders'` or `'orders'`, or a method and a path, `'GET /orders'`. */
function parseRouteKey(key: string): { path: string; method: string | null } {
  const m = /^(GET|POST|PUT|PATCH|DELETE)\s+/i.exec(key);
  const p = m ? key.slice(m[0].length) : key;
  return { path: p.startsWith('/') ? p : `/${p}`, method: m ? m[1].toUpperCase() : null };
}

function mergeConfig(defaults: unknown, overrides: Record<string, unknown> | undefined): unknown {
  if (!overrides || Object.keys(overrides).length === 0) return defaults ?? {};
  if (defaults && typeof defaults === 'object' && !Array.isArray(defaults)) return { ...(defaults as object), ...overrides };
  return overrides;
}

/** Loading the module to read its definition consumes no journaled values. */
function inspectionBridge(options: Omit<LoadOptions, 'journalDir'>): SessionBridge {
  return {
    timeZone: options.timeZone,
    locale: options.locale,
    value: ((source: string) => {
      switch (source) {
        case 'date':
        case 'performance':
          return 0;
        case 'random-seed':
          return [1, 2, 3, 4];
        case 'uuid':
          return '00000000-0000-4000-8000-000000000000';
        default:
          return [];
      }
    }) as SessionBridge['value'],
    setTimer: () => {},
    clearTimer: () => {},
    call: () => new Promise(() => {}),
    log: () => {},
  };
}
