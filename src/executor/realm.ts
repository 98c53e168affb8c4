import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { fileURLToPath } from 'node:url';
import { SANDBOX_GLOBAL, wrapAppFactory } from '../sandbox/factory.js';
import type { SandboxApi } from '../sandbox/index.js';
import type { AppDefinition } from '../sandbox/app-types.js';
import type { SessionBridge } from '../sandbox/bridge.js';
import type { SessionScope } from '../sandbox/session.js';
import type { AppBundle } from './bundle.js';
import { registerSourceMap } from './source-maps.js';
import { watchRealm } from './stray-rejections.js';

// One vm context per code version: the sandbox is evaluated in it once, the
// app bundle is compiled once as a factory, and each session calls the factory
// with its own scope, so module state is fresh per session at the cost of
// running the module's top level, not of a new context (docs/sandbox.md).

/** The prebuilt sandbox bundle, beside the compiled sandbox (`npm run build` writes it: scripts/build-sandbox.mjs). */
export const SANDBOX_BUNDLE_FILE = 'sandbox.bundle.js';

let sandboxSource: string | null = null;

/**
 * The sandbox bundle (src/sandbox/entry, esbuild, iife, platform neutral).
 * From dist/ it is the file `npm run build` wrote, if it is not older than
 * any compiled sandbox module; otherwise (running from src/ through tsx, or
 * after a bare tsc) it is built here, once per process.
 */
function sandboxBundle(): string {
  if (sandboxSource !== null) return sandboxSource;
  const dir = fileURLToPath(new URL('../sandbox/', import.meta.url));
  sandboxSource = prebuiltSandbox(dir) ?? buildSandboxSource(dir);
  return sandboxSource;
}

function prebuiltSandbox(dir: string): string | null {
  const file = path.join(dir, SANDBOX_BUNDLE_FILE);
  let built: number;
  try {
    built = fs.statSync(file).mtimeMs;
    for (const name of fs.readdirSync(dir)) {
      if (name.endsWith('.js') && name !== SANDBOX_BUNDLE_FILE && fs.statSync(path.join(dir, name)).mtimeMs > built) return null;
    }
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** Bundle the sandbox whose entry (entry.js or entry.ts) is in `dir` (also used by scripts/build-sandbox.mjs). */
export function buildSandboxSource(dir: string): string {
  const candidates = ['entry.js', 'entry.ts'].map((name) => path.join(dir, name));
  const entry = candidates.find((file) => fs.existsSync(file));
  if (!entry) throw new Error(`sandbox entry not found (looked for ${candidates.join(', ')}); run npm run build`);
  // Loaded only when needed: a prebuilt bundle spares a process esbuild altogether.
  const { buildSync } = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
  const result = buildSync({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'neutral',
    target: 'es2022',
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

export interface RealmOptions {
  timeZone: string;
  locale: string;
}

export interface SessionInstance {
  definition: AppDefinition;
  scope: SessionScope;
}

export class CodeRealm {
  private constructor(
    readonly bundle: AppBundle,
    readonly filename: string,
    private readonly api: SandboxApi,
    private readonly factory: Function,
    private readonly context: vm.Context,
  ) {}

  private pauser: ((handler: Function, input: unknown, ctx: unknown) => unknown) | null = null;

  /**
   * Calls a handler through a `debugger` statement compiled in this realm, so
   * an attached debugger pauses right where the session begins (and a step
   * into lands on the handler's first line, in the app's own source).
   */
  callPaused(handler: Function, input: unknown, ctx: unknown): unknown {
    this.pauser ??= new vm.Script(
      '(function sessionStart(handler, input, ctx) {\n  // Windback: the session starts here. Step into the handler (F11) to reach your code.\n  debugger;\n  return handler(input, ctx);\n})',
      { filename: 'windback:session-start.js' },
    ).runInContext(this.context) as (handler: Function, input: unknown, ctx: unknown) => unknown;
    return this.pauser(handler, input, ctx);
  }

  static create(bundle: AppBundle, options: RealmOptions): CodeRealm {
    const globals = sealableGlobals();
    const context = vm.createContext(globals.object, { name: `windback app ${bundle.codeVersion.slice(0, 12)}` });
    new vm.Script(sandboxBundle(), { filename: 'windback:sandbox.js' }).runInContext(context);
    const api = (context as Record<string, unknown>)[SANDBOX_GLOBAL] as SandboxApi;
    api.installRealm({
      intrinsics: { URL, URLSearchParams, TextDecoder, AbortController, AbortSignal, EventTarget, Event, DOMException, Headers, Request, Response },
      timeZone: options.timeZone,
      locale: options.locale,
      sealedGlobals: true,
    });
    // From here on no code may add a global: that would be state one session leaves for the next.
    globals.seal();
    const filename = bundleFilename(bundle);
    registerSourceMap(filename, bundle.map);
    const mapComment = `\n//# sourceMappingURL=data:application/json;charset=utf-8;base64,${Buffer.from(bundle.map).toString('base64')}\n`;
    const factory = new vm.Script(wrapAppFactory(bundle.code) + mapComment, { filename }).runInContext(context) as Function;
    const [promisePrototype, errorPrototype] = new vm.Script('[Promise.prototype, Error.prototype]').runInContext(context) as [object, object];
    watchRealm({ promisePrototype, errorPrototype, filename });
    return new CodeRealm(bundle, filename, api, factory, context);
  }

  /** A session's own module instance and scope. Throws what the app's module top level throws. */
  instantiate(bridge: SessionBridge): SessionInstance {
    const scope = this.api.createSession(bridge);
    const exports = this.api.runFactory(this.factory, scope);
    return { definition: this.api.appDefinitionOf(exports), scope };
  }

  /**
   * Shared state a session changed (the sandbox freezes what it can and
   * reports the rest). Non-empty means isolation broke: the realm is retired.
   */
  changes(): string[] {
    const changes = this.api.realmChanges();
    if (changes.length > 0) this.retired = true;
    return changes;
  }

  /** Set once a session changed shared state; sessions after it need a new realm. */
  retired = false;

  isDeterminismError(error: unknown): boolean {
    return this.api.isDeterminismError(error);
  }

  /** A DeterminismError of the realm's own class, its stack starting at the caller of `hideFrom`. */
  determinismError(construct: string, instead: string, hideFrom?: Function): Error {
    return this.api.determinismError(construct, instead, hideFrom);
  }

  isRetryableError(error: unknown): boolean {
    return this.api.isRetryableError(error);
  }
}

/**
 * The context's global object: a proxy that refuses new properties once
 * sealed. A vm global cannot be made non-extensible from inside the context,
 * so this closes that channel between sessions (docs/sandbox.md, "Isolation").
 */
function sealableGlobals(): { object: object; seal: () => void } {
  let sealed = false;
  const refuse = (key: PropertyKey): never => {
    throw new TypeError(`app code may not add the global '${String(key)}': it would outlive the session (use module state, which is per session)`);
  };
  const object = new Proxy({} as Record<PropertyKey, unknown>, {
    defineProperty: (target, key, descriptor) => (sealed && !(key in target) ? refuse(key) : Reflect.defineProperty(target, key, descriptor)),
    set: (target, key, value, receiver) => (sealed && !(key in target) ? refuse(key) : Reflect.set(target, key, value, receiver)),
  });
  return { object, seal: () => void (sealed = true) };
}

/**
 * The script's file name: beside the app's sources (the map's sourceRoot), so
 * that debuggers resolve the map's relative sources to the user's own files.
 */
function bundleFilename(bundle: AppBundle): string {
  try {
    const map = JSON.parse(bundle.map) as { sourceRoot?: string };
    if (map.sourceRoot) return `${map.sourceRoot.replace(/\/$/, '')}/.windback-${bundle.codeVersion.slice(0, 12)}.js`;
  } catch {
    // fall through
  }
  return `/windback/code/${bundle.codeVersion}.js`;
}
