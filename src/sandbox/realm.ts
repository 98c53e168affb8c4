// installRealm: run once per vm context, after the sandbox bundle and before
// any app code. It
//  1. installs the standard globals a bare context lacks (from host classes,
//     wrapped, or implemented here),
//  2. replaces every context-global source of nondeterminism with a version
//     that throws a DeterminismError (the session's own versions reach app
//     code as factory parameters, see session.ts),
//  3. pins the realm's time zone and locale (zone.ts),
//  4. freezes the realm's intrinsics and the global object's properties
//     (harden.ts), so sessions cannot leave state for each other.

import { setDOMException } from './dom-exception.js';
import { TextEncoder, atob, btoa, makeTextDecoder, type HostTextDecoderClass } from './encoding.js';
import { DeterminismError } from './errors.js';
import { structuredClone } from './clone.js';
import { CryptoPrototype, subtleGetter } from './crypto.js';
import { setFetchURL, FetchHeaders, FetchResponse } from './fetch.js';
import { harden, hiddenIntrinsics, markOurs, pristineChanges, snapshotPristine, tameCommonOverrides } from './harden.js';
import {
  FunctionPrototype,
  RealmError,
  RealmMath,
  RealmPromise,
  RealmTypeError,
  create,
  defineProperty,
  getOwnPropertyDescriptor,
  nameFunction,
  uncurryThis,
} from './intrinsics.js';
import { Timer } from './timers.js';
import { MathBase, PerformancePrototype } from './session.js';
import { appApi } from './app.js';
import { sandboxRequire } from './require.js';
import { installRealmZone, pinRealmLocaleMethods, type ZoneKit } from './zone.js';

/** A class of the host realm (its instances and prototypes are host objects). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type HostClass = abstract new (...args: any[]) => object;

/**
 * Host-realm implementations of standard classes, lent to the context. Pass
 * the host's own globals (`{ URL, URLSearchParams, ... }` from the executor's
 * module). They stay host-realm objects: the context gets a subclass of each
 * (frozen, with `instanceof` that also accepts the host's own instances), and
 * objects these classes create internally (url.searchParams, a controller's
 * signal, the DOMException of an abort) are host objects. The sandbox never
 * freezes host objects; their prototypes are reachable by
 * Object.getPrototypeOf from app code and are not protected.
 */
export interface RealmIntrinsics {
  URL: HostClass;
  URLSearchParams: HostClass;
  TextDecoder: HostTextDecoderClass;
  AbortController: HostClass;
  AbortSignal: HostClass;
  EventTarget: HostClass;
  Event: HostClass;
  DOMException?: HostClass;
  Headers?: HostClass;
  Request?: HostClass;
  Response?: HostClass;
}

export interface RealmHost {
  intrinsics: RealmIntrinsics;
  /**
   * IANA time zone for local time reached outside a session's scope (dates
   * made by `structuredClone`, `globalThis.Date`). Defaults to the process's.
   * Pass the recorded one; sessions whose bridge names the same zone share the
   * realm's Date prototype and cost nothing extra.
   */
  timeZone?: string;
  /** BCP 47 locale for `localeCompare`, `toLocaleString` and `Intl` outside a session's own Intl. Defaults to the process's. */
  locale?: string;
  /**
   * Set when the executor has made the context's global object refuse new
   * properties once installRealm returns (a vm global cannot be made
   * non-extensible from inside, but a Proxy passed to vm.createContext as the
   * context object can refuse additions: see docs/sandbox.md). realmChanges()
   * then skips its scan of the global object, which costs ~15 µs.
   */
  sealedGlobals?: boolean;
}

export interface RealmInfo {
  /** Global names the sandbox installed or replaced. */
  installed: string[];
  /** How many objects were frozen. */
  frozenObjects: number;
  timeZone: string;
  locale: string;
  /** True when the time zone is the process's own (V8's local time is used as is). */
  nativeTime: boolean;
}

let installedKit: ZoneKit | null = null;
/** Global names after installation; null when the executor seals the global object itself. */
let baselineGlobals: Set<PropertyKey> | null = null;

export function realmInstalled(): boolean {
  return installedKit !== null;
}

const ordinaryHasInstance = uncurryThis((FunctionPrototype as unknown as Record<symbol, (v: unknown) => boolean>)[Symbol.hasInstance]);

/**
 * A context class extending a host class. Its prototype is a context object
 * (frozen later), and `instanceof` also recognizes objects the host class made
 * itself (url.searchParams instanceof URLSearchParams).
 */
function wrapHostClass(Host: HostClass, name: string): HostClass {
  const Wrapped = class extends (Host as new (...args: unknown[]) => object) {
    constructor(...args: unknown[]) {
      try {
        super(...args);
      } catch (error) {
        throw toRealmError(error);
      }
    }
  };
  defineProperty(Wrapped, 'name', { value: name, configurable: true });
  defineProperty(Wrapped, Symbol.hasInstance, {
    value: nameFunction(
      function (this: unknown, value: unknown) {
        return this === Wrapped ? value instanceof (Host as Function) : ordinaryHasInstance(this, value);
      },
      '[Symbol.hasInstance]',
      1,
    ),
    configurable: true,
  });
  markOurs(Wrapped, Wrapped.prototype);
  return Wrapped;
}

const REALM_ERRORS: Record<string, new (message?: string) => Error> = { Error, TypeError, RangeError, SyntaxError, ReferenceError, URIError, EvalError };

/**
 * A host-realm Error (what a host class throws, e.g. `new URL('nope')`) as an
 * error of this realm with the same name, message and own data properties
 * (`code`, `input`...), so that app code's `e instanceof TypeError` holds.
 * Anything else (DOMException, non-errors, this realm's errors) is unchanged.
 */
export function toRealmError(error: unknown): unknown {
  if (error === null || typeof error !== 'object' || error instanceof RealmError) return error;
  const name = (error as { name?: unknown }).name;
  if (typeof name !== 'string' || !Object.hasOwn(REALM_ERRORS, name)) return error;
  const converted = new REALM_ERRORS[name](String((error as { message?: unknown }).message ?? ''));
  for (const key of Object.keys(error)) {
    defineProperty(converted, key, { value: (error as Record<string, unknown>)[key], writable: true, enumerable: true, configurable: true });
  }
  return converted;
}

/** A function that throws DeterminismError(construct) when called or constructed. */
function refusing(construct: string, instead: string, name: string, length = 0): Function {
  const refuse = nameFunction(
    function () {
      throw new DeterminismError(construct, instead, refuse);
    },
    name,
    length,
  );
  return refuse;
}

const OUTSIDE = (what: string): string =>
  `the global ${what} has no session to take its value from; use the ${what} your module sees (the session's), not one reached through globalThis`;

const REGEXP_LEGACY = ['input', '$_', 'lastMatch', '$&', 'lastParen', '$+', 'leftContext', '$`', 'rightContext', "$'", '$1', '$2', '$3', '$4', '$5', '$6', '$7', '$8', '$9'];

/** Installs, replaces, pins and freezes. Call exactly once per context, before app code. */
export function installRealm(host: RealmHost): RealmInfo {
  if (installedKit !== null) throw new RealmTypeError('installRealm: this context is already installed');
  if ('process' in globalThis) {
    // A guard for tests and mistakes: this freezes the realm it runs in.
    throw new RealmTypeError('installRealm must run inside a vm context, never in the host realm: it freezes the realm it runs in');
  }
  if (host === null || typeof host !== 'object' || host.intrinsics === null || typeof host.intrinsics !== 'object') {
    throw new RealmTypeError('installRealm(realmHost): realmHost.intrinsics is required');
  }
  const g = globalThis as unknown as Record<string, unknown>;
  const installed: string[] = [];
  const set = (name: string, value: unknown): void => {
    defineProperty(g, name, { value, writable: true, enumerable: false, configurable: true });
    installed.push(name);
  };

  // 1. Standard globals.
  const { intrinsics } = host;
  for (const name of ['URL', 'URLSearchParams', 'AbortController', 'AbortSignal', 'EventTarget', 'Event', 'DOMException', 'Headers', 'Request', 'Response'] as const) {
    const Host = intrinsics[name];
    if (Host === undefined) continue;
    if (typeof Host !== 'function') throw new RealmTypeError(`installRealm: intrinsics.${name} must be a class`);
    set(name, wrapHostClass(Host, name));
  }
  if (typeof intrinsics.TextDecoder !== 'function') throw new RealmTypeError('installRealm: intrinsics.TextDecoder must be a class');
  set('TextDecoder', makeTextDecoder(intrinsics.TextDecoder, toRealmError));
  const URLCtor = g.URL as Record<string, unknown> | undefined;
  if (URLCtor !== undefined) {
    const noBlobs = 'blob: URLs name host memory with a random id; pass the data itself';
    defineProperty(URLCtor, 'createObjectURL', { value: refusing('URL.createObjectURL', noBlobs, 'createObjectURL', 1), writable: true, configurable: true });
    defineProperty(URLCtor, 'revokeObjectURL', { value: refusing('URL.revokeObjectURL', noBlobs, 'revokeObjectURL', 1), writable: true, configurable: true });
    setFetchURL(g.URL as never);
  }
  const AbortSignalCtor = g.AbortSignal as Record<string, unknown> | undefined;
  if (AbortSignalCtor !== undefined) {
    defineProperty(AbortSignalCtor, 'timeout', {
      value: refusing('AbortSignal.timeout', 'it runs on the host clock; abort from a setTimeout callback inside the session instead', 'timeout', 1),
      writable: true,
      configurable: true,
    });
  }
  if (g.DOMException !== undefined) setDOMException(g.DOMException as never);
  set('TextEncoder', TextEncoder);
  set('structuredClone', structuredClone);
  set('atob', atob);
  set('btoa', btoa);
  set(
    'queueMicrotask',
    nameFunction(
      function queueMicrotask(callback: unknown) {
        if (typeof callback !== 'function') throw new RealmTypeError('The "callback" argument must be of type function.');
        // A job on the context's own microtask queue; an exception becomes an
        // unhandled rejection of a context promise.
        void RealmPromise.resolve().then(() => callback());
      },
      'queueMicrotask',
      1,
    ),
  );
  set('global', globalThis);

  // 2. Sources of nondeterminism reached through the global object.
  set('WeakRef', refusing('WeakRef', 'garbage collection timing differs between runs; hold a strong reference or use a WeakMap', 'WeakRef', 1));
  set(
    'FinalizationRegistry',
    refusing('FinalizationRegistry', 'garbage collection timing differs between runs; release resources explicitly', 'FinalizationRegistry', 1),
  );
  set('SharedArrayBuffer', refusing('SharedArrayBuffer', 'memory shared between threads is not replayable; use an ArrayBuffer', 'SharedArrayBuffer', 1));
  const atomics = create(Object.prototype) as Record<string | symbol, unknown>;
  for (const key of Reflect.ownKeys(Atomics)) {
    const value = (Atomics as unknown as Record<string | symbol, unknown>)[key];
    if (typeof value === 'function' && typeof key === 'string') {
      atomics[key] = refusing(`Atomics.${key}`, 'shared-memory synchronization is not replayable; there are no threads in a session', key, value.length);
    }
  }
  defineProperty(atomics, Symbol.toStringTag, { value: 'Atomics', configurable: true });
  set('Atomics', atomics);

  defineProperty(RealmMath, 'random', {
    value: refusing('Math.random outside a session', OUTSIDE('Math.random'), 'random'),
    writable: true,
    configurable: true,
  });

  const performance = create(Object.prototype);
  defineProperty(performance, 'now', { value: refusing('performance.now outside a session', OUTSIDE('performance'), 'now'), enumerable: true, writable: true, configurable: true });
  defineProperty(performance, Symbol.toStringTag, { value: 'Performance', configurable: true });
  set('performance', performance);

  const crypto = create(Object.prototype);
  defineProperty(crypto, 'randomUUID', { value: refusing('crypto.randomUUID outside a session', OUTSIDE('crypto'), 'randomUUID'), enumerable: true, writable: true, configurable: true });
  defineProperty(crypto, 'getRandomValues', {
    value: refusing('crypto.getRandomValues outside a session', OUTSIDE('crypto'), 'getRandomValues', 1),
    enumerable: true,
    writable: true,
    configurable: true,
  });
  defineProperty(crypto, 'subtle', { get: subtleGetter, enumerable: true, configurable: true });
  defineProperty(crypto, Symbol.toStringTag, { value: 'Crypto', configurable: true });
  set('crypto', crypto);

  for (const name of ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate']) {
    set(name, refusing(`${name} outside a session`, OUTSIDE(name), name, 1));
  }
  set('fetch', refusing('fetch outside a session', OUTSIDE('fetch'), 'fetch', 1));

  // RegExp.$1 and friends: the last match of whichever session ran last.
  for (const key of REGEXP_LEGACY) {
    const refuse = refusing(`RegExp.${key}`, 'it holds the last match made by any code in the context; use the match result', key);
    if (getOwnPropertyDescriptor(RegExp, key) !== undefined) {
      defineProperty(RegExp, key, { get: refuse as () => never, set: refuse as (v: unknown) => void, enumerable: false, configurable: true });
    }
  }

  // 3. Time zone and locale.
  const kit = installRealmZone(host.timeZone, host.locale);
  set('Date', kit.DateCtor);
  set('Intl', kit.Intl);
  pinRealmLocaleMethods(kit);

  // 4. Freeze. The sandbox's own shared objects first, then everything the
  // global object reaches, then the global object's own properties.
  tameCommonOverrides();
  let frozenObjects = harden(
    appApi,
    sandboxRequire,
    CryptoPrototype,
    MathBase,
    PerformancePrototype,
    Timer,
    FetchResponse,
    FetchHeaders,
    ...hiddenIntrinsics(),
  );
  delete g.__windback_sandbox;
  for (const key of Reflect.ownKeys(g)) {
    const desc = getOwnPropertyDescriptor(g, key)!;
    // Full descriptors only: a vm context's global object forwards definitions
    // to the host's context object, and a partial one there loses the value.
    if ('value' in desc) {
      if (desc.value !== globalThis) frozenObjects += harden(desc.value);
      defineProperty(g, key, { value: desc.value, writable: false, enumerable: desc.enumerable, configurable: false });
    } else {
      frozenObjects += harden(desc.get, desc.set);
      defineProperty(g, key, { get: desc.get, set: desc.set, enumerable: desc.enumerable, configurable: false });
    }
  }
  baselineGlobals = host.sealedGlobals === true ? null : new Set(Reflect.ownKeys(g));
  snapshotPristine();
  installedKit = kit;
  return { installed, frozenObjects, timeZone: kit.timeZone, locale: kit.locale, nativeTime: kit.nativeTime };
}

/**
 * Changes to the shared realm that freezing cannot prevent, described one per
 * line; empty while the realm is intact. Two channels stay open:
 * - RegExp.prototype, left unfrozen so that V8 keeps its RegExp fast path
 *   (checking it costs about a microsecond);
 * - global properties added by hand (`globalThis.x = 1`), because a vm
 *   context's global object cannot be made non-extensible from inside. This
 *   scan costs ~15 µs; it is skipped when the executor seals the global
 *   object itself (RealmHost.sealedGlobals).
 * The executor calls this after each session: anything listed means that
 * session changed shared state (fail it with the list, and retire the
 * context, since sessions that ran alongside it may have seen the change).
 */
export function realmChanges(): string[] {
  const changes = pristineChanges();
  if (baselineGlobals !== null) {
    for (const key of Reflect.ownKeys(globalThis)) {
      if (!baselineGlobals.has(key)) changes.push(`globalThis.${String(key)} was added`);
    }
  }
  return changes;
}
