// Freezing the realm's shared objects, so that no session can leave state in
// them for another session to find.
//
// `harden(root)` freezes the root and everything reachable from it through own
// properties (values, getters, setters) and prototypes, provided the object
// belongs to this context's realm. Host-realm objects (the classes the host
// lends through RealmHost.intrinsics, and their prototypes) are never frozen:
// freezing them would change the host process. The walk stops at them.
//
// Speed: V8 guards its fast paths with "protectors" and initial-shape checks.
// Measured on Node 20 (scripts/sandbox-cost.ts, each variant in its own
// process, since protectors are isolate-wide):
// - Object.freeze keeps for-of, spread, species (map/filter/slice) and
//   promise fast paths. Its one cost: on Array.prototype and Object.prototype
//   it changes how their empty element storage is represented, and reading a
//   holey array (new Array(n), deleted items) in the context becomes ~15x
//   slower. The host is not affected.
// - Redefining properties of Array.prototype one by one (to freeze it "in
//   place") is far worse: for-of ~12x and map/filter ~20x slower, some of it
//   in the host too. So Array.prototype gets one Object.freeze and nothing
//   else (it is not in the override taming list either).
// - Any change at all to RegExp.prototype (even preventExtensions) makes
//   every regular expression operation ~10x slower, so it is left untouched
//   (PRISTINE) and watched instead.
//
// Two exceptions keep ordinary code working on frozen intrinsics:
// - The "override mistake": assigning `obj.toString = f`, `err.name = 'X'` or
//   `err.message = m` where the property is inherited from a frozen prototype
//   throws in strict mode. For the properties that code commonly overrides
//   like this (see tameCommonOverrides), the prototype's data property is
//   replaced by a getter that returns the original and a setter that defines
//   an own property on the receiver (assigning to the prototype itself still
//   throws).
// - `Error.stackTraceLimit` and `Error.prepareStackTrace` stay writable (V8
//   and Node read them, and libraries set them temporarily); everything else
//   on the Error constructor is frozen.

import {
  ObjectPrototype,
  RealmError,
  RealmTypeError,
  defineProperty,
  getOwnPropertyDescriptor,
  getPrototypeOf,
  isObject,
  nameFunction,
  uncurryThis,
} from './intrinsics.js';

const { freeze, isFrozen, isExtensible, preventExtensions } = Object;
const { ownKeys } = Reflect;
const { hasOwn } = Object;

const hardened = new WeakSet<object>();

/**
 * Left exactly as V8 made it: V8 takes its RegExp fast path only while
 * RegExp.prototype has its initial shape, and any change to it (freezing,
 * preventExtensions, one read-only property) makes every regular expression
 * operation about ten times slower. Its methods are frozen; changes to the
 * object itself are detected by realmChanges() instead.
 */
const PRISTINE = new Set<object>([RegExp.prototype]);

/** What realmChanges() compares RegExp.prototype against. */
let pristineSnapshot: Array<[PropertyKey, PropertyDescriptor]> | null = null;
let pristineKeys: PropertyKey[] = [];
/** Per key: the value of a data property, or the getter of an accessor. */
let pristineFingerprint: unknown[] = [];
const lookupGetter = uncurryThis((ObjectPrototype as { __lookupGetter__: (key: PropertyKey) => unknown }).__lookupGetter__);

/** Records the unfrozen intrinsics as they are now (called by installRealm after hardening). */
export function snapshotPristine(): void {
  const proto = RegExp.prototype;
  pristineSnapshot = ownKeys(proto).map((key) => [key, getOwnPropertyDescriptor(proto, key)!]);
  pristineKeys = pristineSnapshot.map(([key]) => key);
  pristineFingerprint = pristineSnapshot.map(([, desc]) => ('value' in desc ? desc.value : desc.get));
}

/**
 * Changes made to RegExp.prototype since installRealm, described for an error
 * message. The common case (nothing changed) reads each property once and
 * allocates nothing but the key list; attribute-only changes (a property made
 * read-only) are not looked for.
 */
export function pristineChanges(): string[] {
  if (pristineSnapshot === null) return [];
  const proto = RegExp.prototype as unknown as Record<PropertyKey, unknown>;
  const keys = ownKeys(proto);
  let intact = keys.length === pristineKeys.length && isExtensible(proto) && getPrototypeOf(proto) === ObjectPrototype;
  for (let i = 0; intact && i < keys.length; i++) {
    const key = keys[i];
    const snapshot = pristineSnapshot[i][1];
    intact = key === pristineKeys[i] && ('value' in snapshot ? proto[key] : lookupGetter(proto, key)) === pristineFingerprint[i];
  }
  if (intact) return [];
  return describePristineChanges(keys);
}

function describePristineChanges(keys: PropertyKey[]): string[] {
  const proto = RegExp.prototype;
  const changes: string[] = [];
  if (getPrototypeOf(proto) !== ObjectPrototype) changes.push('the prototype of RegExp.prototype was replaced');
  if (!isExtensible(proto)) changes.push('RegExp.prototype was made non-extensible');
  const known = new Set<PropertyKey>();
  for (const [key, before] of pristineSnapshot!) {
    known.add(key);
    const now = getOwnPropertyDescriptor(proto, key);
    const name = `RegExp.prototype.${String(key)}`;
    if (now === undefined) changes.push(`${name} was deleted`);
    else if (now.value !== before.value || now.get !== before.get || now.set !== before.set || now.writable !== before.writable || now.configurable !== before.configurable || now.enumerable !== before.enumerable) {
      changes.push(`${name} was redefined`);
    }
  }
  for (const key of keys) if (!known.has(key)) changes.push(`RegExp.prototype.${String(key)} was added`);
  return changes;
}

/** Objects created by the sandbox whose prototype chain runs through host objects (wrapper classes). */
const ours = new WeakSet<object>();

/** Mark a sandbox-made object as this realm's even though it inherits from a host object. */
export function markOurs(...objects: object[]): void {
  for (const object of objects) ours.add(object);
}

function belongsToRealm(object: object): boolean {
  if (ours.has(object)) return true;
  let last: object = object;
  for (let p = getPrototypeOf(object); p !== null; p = getPrototypeOf(p)) last = p;
  return last === ObjectPrototype || last === object;
}

/** Freezes `roots` and what they reach in this realm. Returns how many objects it froze. */
export function harden(...roots: unknown[]): number {
  const stack: unknown[] = [...roots];
  let frozen = 0;
  while (stack.length > 0) {
    const value = stack.pop();
    if (!isObject(value) || hardened.has(value)) continue;
    hardened.add(value);
    if (!belongsToRealm(value)) continue;
    if (value === RealmError) sealErrorConstructor();
    else if (!PRISTINE.has(value)) {
      if (!isFrozen(value)) frozen++;
      freeze(value);
    }
    stack.push(getPrototypeOf(value));
    for (const key of ownKeys(value)) {
      const desc = getOwnPropertyDescriptor(value, key)!;
      if ('value' in desc) stack.push(desc.value);
      else {
        stack.push(desc.get);
        stack.push(desc.set);
      }
    }
  }
  return frozen;
}

function sealErrorConstructor(): void {
  if (!hasOwn(RealmError, 'prepareStackTrace')) {
    defineProperty(RealmError, 'prepareStackTrace', { value: undefined, writable: true, enumerable: false, configurable: false });
  }
  for (const key of ownKeys(RealmError)) {
    const desc = getOwnPropertyDescriptor(RealmError, key)!;
    const keepWritable = key === 'stackTraceLimit' || key === 'prepareStackTrace';
    if ('value' in desc) defineProperty(RealmError, key, { writable: keepWritable, configurable: false });
    else defineProperty(RealmError, key, { configurable: false });
  }
  preventExtensions(RealmError);
}

/**
 * Turns `proto[key]` (a data property) into an accessor pair so that
 * assigning the property on an object that inherits it creates an own
 * property instead of failing against the frozen prototype.
 */
export function tameOverride(proto: object, key: PropertyKey): void {
  const desc = getOwnPropertyDescriptor(proto, key);
  if (desc === undefined || !('value' in desc) || !desc.configurable) return;
  const original: unknown = desc.value;
  const label = typeof key === 'symbol' ? `[${key.description ?? ''}]` : key;
  const get = nameFunction(
    function () {
      return original;
    },
    `get ${label}`,
  );
  const set = nameFunction(
    function (this: unknown, value: unknown) {
      if (this === proto) throw new RealmTypeError(`Cannot assign to read only property '${label}' of a frozen intrinsic`);
      if (!isObject(this)) throw new RealmTypeError(`Cannot create property '${label}' on ${typeof this}`);
      defineProperty(this, key, { value, writable: true, enumerable: true, configurable: true });
    },
    `set ${label}`,
  );
  defineProperty(proto, key, { get, set, enumerable: desc.enumerable, configurable: false });
}

/**
 * The properties that code commonly sets on objects inheriting them from an
 * intrinsic prototype. `constructor` is deliberately left a frozen data
 * property: Node's util.inspect only recognizes an object's class through a
 * data `constructor`, and would print every context object and error as `{}`.
 * The cost: `Sub.prototype = Object.create(Error.prototype);
 * Sub.prototype.constructor = Sub` throws in strict code (class syntax, or
 * Object.defineProperty, works).
 */
export function tameCommonOverrides(): void {
  const overrides: Array<[object, PropertyKey[]]> = [
    [Object.prototype, ['hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString', 'toString', 'valueOf']],
    [Function.prototype, ['toString']],
    [Error.prototype, ['message', 'name', 'toString']],
  ];
  for (const E of [EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError, AggregateError]) {
    overrides.push([E.prototype, ['message', 'name']]);
  }
  for (const [proto, keys] of overrides) for (const key of keys) tameOverride(proto, key);
}

/** Intrinsics that no global property leads to (iterator and generator prototypes, ...). */
export function hiddenIntrinsics(): object[] {
  const found: object[] = [
    getPrototypeOf(function* () {}),
    getPrototypeOf(async function () {}),
    getPrototypeOf(async function* () {}),
    getPrototypeOf((function* () {})()),
    getPrototypeOf((async function* () {})()),
    getPrototypeOf([][Symbol.iterator]()),
    getPrototypeOf(new Map().entries()),
    getPrototypeOf(new Set().values()),
    getPrototypeOf(''[Symbol.iterator]()),
    getPrototypeOf(/./[Symbol.matchAll]('')),
    getOwnPropertyDescriptor(Function.prototype, 'caller')?.get ?? {},
  ];
  const Segmenter = (Intl as unknown as { Segmenter?: new () => { segment(s: string): object } }).Segmenter;
  if (Segmenter !== undefined) {
    const segments = new Segmenter().segment('');
    found.push(getPrototypeOf(segments));
    found.push(getPrototypeOf((segments as Iterable<unknown>)[Symbol.iterator]()));
  }
  return found;
}
