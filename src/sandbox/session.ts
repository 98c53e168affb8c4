// createSession: the per-session values that shadow the nondeterministic
// globals. The executor passes them to the app's factory as parameters (in
// SCOPE_PARAMETERS order), so every module of the app bundle, evaluated fresh
// for the session, sees these rather than the context's throwing globals.
//
// Cost: a few closures and small objects per session (no class creation, no
// freezing); the shared parts (Date prototypes, Intl, Math functions, the
// Timer and Response classes, require) are built and frozen once per context.

import { beginInstance } from './app.js';
import type { SessionBridge } from './bridge.js';
import { createSessionConsole, type SessionConsole } from './console.js';
import { createSessionCrypto, type SessionCrypto } from './crypto.js';
import { BridgeProtocolError, DeterminismError } from './errors.js';
import { createSessionFetch, type FetchResponse } from './fetch.js';
import { RealmMath, create, defineProperty, getOwnPropertyDescriptor, nameFunction } from './intrinsics.js';
import { createSessionRandom } from './random.js';
import { sandboxRequire } from './require.js';
import { createSessionTimers, type SessionTimers } from './timers.js';
import { createSessionDate, kitFor } from './zone.js';
import { SCOPE_PARAMETERS } from './factory.js';

const { apply } = Reflect;
const { isFinite } = Number;

/** Every Math property but `random`, as the prototype of each session's Math. Frozen by installRealm. */
export const MathBase: object = (() => {
  const base = create(Object.prototype) as object;
  for (const key of Reflect.ownKeys(RealmMath)) {
    if (key === 'random') continue;
    defineProperty(base, key, getOwnPropertyDescriptor(RealmMath, key)!);
  }
  return base;
})();

const timeOriginGetter = nameFunction(
  function (): never {
    throw new DeterminismError(
      'performance.timeOrigin',
      'it is the host clock at process start; measure durations with performance.now() and read the time with Date.now()',
      timeOriginGetter,
    );
  },
  'get timeOrigin',
);

/** The prototype of each session's performance object. Frozen by installRealm. */
export const PerformancePrototype: object = create(Object.prototype, {
  timeOrigin: { get: timeOriginGetter, enumerable: true, configurable: true },
  [Symbol.toStringTag]: { value: 'Performance', configurable: true },
});

/** The values a session's code sees in place of the context's globals. */
export interface SessionScope {
  exports: Record<string, unknown>;
  module: { exports: unknown };
  require: (id: string) => unknown;
  Date: DateConstructor;
  Math: Math;
  performance: { now(): number; readonly timeOrigin: never };
  crypto: SessionCrypto;
  setTimeout: SessionTimers['setTimeout'];
  clearTimeout: SessionTimers['clearTimeout'];
  setInterval: SessionTimers['setInterval'];
  clearInterval: SessionTimers['clearInterval'];
  setImmediate: SessionTimers['setImmediate'];
  clearImmediate: SessionTimers['clearImmediate'];
  fetch: (input: unknown, init?: object) => Promise<FetchResponse>;
  console: SessionConsole;
  Intl: typeof Intl;
  /** How many Math.random draws the session has made so far (for checkpoint, session-end and transaction records). */
  randomDraws(): number;
  /** Math.random as if `count` draws had been made (see SessionRandom.advance): for a served transaction body. */
  advanceRandom(count: number, seed?: unknown): void;
}

function finite(value: unknown, source: string): number {
  if (typeof value !== 'number' || !isFinite(value)) {
    throw new BridgeProtocolError(`bridge.value('${source}') must return a finite number, got ${typeof value === 'number' ? value : typeof value}`);
  }
  return value;
}

/** The scope of one session. `bridge` is the executor's object for this session. */
export function createSession(bridge: SessionBridge): SessionScope {
  const kit = kitFor(bridge.timeZone, bridge.locale);
  const dateNow = function now(): number {
    return finite(bridge.value('date'), 'date');
  };
  const performanceNow = function now(): number {
    return finite(bridge.value('performance'), 'performance');
  };
  const random = createSessionRandom(
    () => bridge.value('random-seed'),
    typeof bridge.inCall === 'function' ? () => bridge.inCall!() === true : undefined,
  );
  const math = create(MathBase) as Math;
  math.random = random.random;
  const performance = create(PerformancePrototype) as SessionScope['performance'];
  performance.now = performanceNow;
  const timers = createSessionTimers(bridge);
  const module = { exports: {} as Record<string, unknown> };
  return {
    exports: module.exports,
    module,
    require: sandboxRequire,
    Date: createSessionDate(kit, dateNow),
    Math: math,
    performance,
    crypto: createSessionCrypto(bridge),
    setTimeout: timers.setTimeout,
    clearTimeout: timers.clearTimeout,
    setInterval: timers.setInterval,
    clearInterval: timers.clearInterval,
    setImmediate: timers.setImmediate,
    clearImmediate: timers.clearImmediate,
    fetch: createSessionFetch(bridge),
    console: createSessionConsole(bridge, performanceNow),
    Intl: kit.Intl,
    randomDraws: random.draws,
    advanceRandom: random.advance,
  };
}

/**
 * Runs the app's factory (see wrapAppFactory) with a session's scope, as Node
 * runs a CommonJS module: `this` is module.exports. Returns module.exports as
 * the app left it.
 */
export function runFactory(factory: Function, scope: SessionScope): unknown {
  beginInstance();
  const args: unknown[] = [];
  for (const name of SCOPE_PARAMETERS) args.push(scope[name]);
  apply(factory, scope.module.exports, args);
  return scope.module.exports;
}
