// Test harness: bundles src/sandbox the way the executor will (esbuild, iife,
// platform neutral), evaluates it in a real vm context, installs the realm
// with the host's classes, and runs app snippets as per-session factories
// against a FakeBridge that records every call.

import { buildSync, type Metafile } from 'esbuild';
import vm from 'node:vm';
import { SANDBOX_GLOBAL, wrapAppFactory, type WrapOptions } from '../../src/sandbox/factory.js';
import type {
  FetchRequest,
  FetchResult,
  LogLevel,
  RealmHost,
  RealmInfo,
  RealmIntrinsics,
  SandboxApi,
  SessionBridge,
  SessionScope,
  TimerRequest,
} from '../../src/sandbox/index.js';

let built: { code: string; metafile: Metafile } | null = null;

/** The sandbox bundle, built once per test file. */
export function sandboxBundle(): { code: string; metafile: Metafile } {
  if (built === null) {
    const result = buildSync({
      entryPoints: ['src/sandbox/entry.ts'],
      bundle: true,
      format: 'iife',
      platform: 'neutral',
      target: 'es2022',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    built = { code: result.outputFiles[0].text, metafile: result.metafile };
  }
  return built;
}

export const HOST_INTRINSICS: RealmIntrinsics = {
  URL,
  URLSearchParams,
  TextDecoder,
  AbortController,
  AbortSignal,
  EventTarget,
  Event,
  DOMException,
  Headers,
  Request,
  Response,
};

export interface Realm {
  context: vm.Context;
  api: SandboxApi;
  info: RealmInfo;
  /** Evaluates code in the context (outside any session). */
  run<T = unknown>(code: string): T;
  /** Wraps app code as the executor will and evaluates it once: a factory to run per session. */
  load(appCode: string, options?: WrapOptions & { filename?: string }): Function;
}

/**
 * A context object that refuses new properties once `seal()` is called: what
 * an executor can pass to vm.createContext to close the stray-globals channel.
 */
export function sealableContextObject(): { object: object; seal: () => void } {
  let sealed = false;
  const refuse = (key: PropertyKey): never => {
    throw new TypeError(`Windback: app code may not add the global '${String(key)}'`);
  };
  const object = new Proxy({} as Record<PropertyKey, unknown>, {
    defineProperty: (target, key, desc) => (sealed && !(key in target) ? refuse(key) : Reflect.defineProperty(target, key, desc)),
    set: (target, key, value, receiver) => (sealed && !(key in target) ? refuse(key) : Reflect.set(target, key, value, receiver)),
  });
  return { object, seal: () => (sealed = true) };
}

export function createRealm(host: Partial<RealmHost> = {}, contextObject: object = {}): Realm {
  const context = vm.createContext(contextObject);
  new vm.Script(sandboxBundle().code, { filename: 'windback-sandbox.js' }).runInContext(context);
  const api = vm.runInContext(`globalThis.${SANDBOX_GLOBAL}`, context) as SandboxApi;
  const info = api.installRealm({ intrinsics: HOST_INTRINSICS, ...host });
  return {
    context,
    api,
    info,
    run: <T>(code: string) => vm.runInContext(code, context, { filename: 'outside.js' }) as T,
    load: (appCode, options = {}) =>
      new vm.Script(wrapAppFactory(appCode, options), { filename: options.filename ?? 'app.js' }).runInContext(context) as Function,
  };
}

export type BridgeEvent =
  | { op: 'value'; source: string; args: unknown[] }
  | { op: 'setTimer'; id: number; kind: string; delayMs: number }
  | { op: 'clearTimer'; id: number }
  | { op: 'call'; name: string; request: unknown }
  | { op: 'log'; level: LogLevel; args: unknown[] };

/** A SessionBridge that serves queued values and records every call, in order. */
export class FakeBridge implements SessionBridge {
  timeZone = 'UTC';
  locale = 'en-US';
  readonly events: BridgeEvent[] = [];
  readonly values: Record<string, unknown[]> = {};
  readonly timers = new Map<number, TimerRequest>();
  readonly requests: FetchRequest[] = [];
  fetchResults: Array<FetchResult | Error> = [];
  /** Set to make call() never settle (for abort tests). */
  hangCalls = false;

  constructor(init: Partial<Pick<FakeBridge, 'timeZone' | 'locale'>> & { values?: Record<string, unknown[]> } = {}) {
    if (init.timeZone !== undefined) this.timeZone = init.timeZone;
    if (init.locale !== undefined) this.locale = init.locale;
    for (const [source, list] of Object.entries(init.values ?? {})) this.values[source] = [...list];
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  value(source: string, ...args: unknown[]): any {
    this.events.push({ op: 'value', source, args });
    const queue = this.values[source];
    if (queue === undefined || queue.length === 0) throw new Error(`FakeBridge: no '${source}' value queued`);
    const next = queue.shift();
    return typeof next === 'function' ? (next as (...a: unknown[]) => unknown)(...args) : next;
  }
  setTimer(timer: TimerRequest): void {
    this.events.push({ op: 'setTimer', id: timer.id, kind: timer.kind, delayMs: timer.delayMs });
    this.timers.set(timer.id, timer);
  }
  clearTimer(id: number): void {
    this.events.push({ op: 'clearTimer', id });
    this.timers.delete(id);
  }
  /** Fires a timer as the host would. */
  fire(id: number): void {
    const timer = this.timers.get(id);
    if (timer === undefined) throw new Error(`FakeBridge: no timer ${id}`);
    if (timer.kind !== 'interval') this.timers.delete(id);
    timer.fire();
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  call(name: string, request: any): Promise<any> {
    this.events.push({ op: 'call', name, request });
    this.requests.push(request);
    if (this.hangCalls) return new Promise(() => {});
    const next = this.fetchResults.shift();
    if (next === undefined) return Promise.reject(new Error('FakeBridge: no fetch result queued'));
    return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
  }
  log(level: LogLevel, args: readonly unknown[]): void {
    this.events.push({ op: 'log', level, args: [...args] });
  }

  get logs(): Array<{ level: LogLevel; args: unknown[] }> {
    return this.events.filter((e): e is Extract<BridgeEvent, { op: 'log' }> => e.op === 'log');
  }
  get valueSources(): string[] {
    return this.events.filter((e) => e.op === 'value').map((e) => (e as { source: string }).source);
  }
}

export interface Session {
  scope: SessionScope;
  exports: Record<string, unknown>;
}

/** Creates a session and runs the factory in it, as the executor will. */
export function runSession(realm: Realm, factory: Function, bridge: SessionBridge): Session {
  const scope = realm.api.createSession(bridge);
  const exports = realm.api.runFactory(factory, scope) as Record<string, unknown>;
  return { scope, exports };
}

/** Loads `appCode` and runs it in one fresh session; returns what it exported. */
export function runApp(realm: Realm, appCode: string, bridge: SessionBridge = new FakeBridge()): Session {
  return runSession(realm, realm.load(appCode), bridge);
}

/** Plain host data from context data (drops realm identity), for deep equality. */
export function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Runs `fn` and returns what it threw (fails the test if nothing). */
export function thrown(fn: () => unknown): { name: string; message: string; construct?: string; stack?: string } {
  try {
    fn();
  } catch (error) {
    return error as { name: string; message: string; construct?: string; stack?: string };
  }
  throw new Error('expected the call to throw');
}

/** A realm and a module factory whose export draws Math.random() n times: `(n) => number[]`. */
export function drawingRealm(): { realm: Realm; factory: Function } {
  const realm = createRealm();
  return { realm, factory: realm.load(`module.exports = (n) => Array.from({ length: n }, () => Math.random());`) };
}
