// The realm's own intrinsics, captured when the sandbox bundle is evaluated,
// before installRealm replaces or freezes anything. Sandbox code uses these
// rather than globals, so it keeps working after the globals are swapped for
// throwing versions.

/* eslint-disable @typescript-eslint/no-explicit-any */

// V8's stack API, which every context has. Declared here so that the sandbox
// typechecks without Node's types (it must not use anything else of Node's).
declare global {
  interface ErrorConstructor {
    captureStackTrace(targetObject: object, constructorOpt?: Function): void;
    stackTraceLimit: number;
  }
}

export const RealmObject = Object;
export const RealmFunction = Function;
export const RealmDate = Date;
export const RealmMath = Math;
export const RealmIntl = Intl;
export const RealmPromise = Promise;
export const RealmReflect = Reflect;
export const RealmError = Error;
export const RealmTypeError = TypeError;
export const RealmRangeError = RangeError;
export const RealmUint8Array = Uint8Array;
export const RealmArrayBuffer = ArrayBuffer;
export const RealmJSON = JSON;

export const ObjectPrototype = Object.prototype;
export const FunctionPrototype = Function.prototype;

const { defineProperty, getOwnPropertyDescriptor, getPrototypeOf, freeze, create } = Object;
export { defineProperty, getOwnPropertyDescriptor, getPrototypeOf, freeze, create };

const callBind = Function.prototype.bind.bind(Function.prototype.call) as <A extends unknown[], R>(
  fn: (...args: A) => R,
) => (self: unknown, ...args: A) => R;

/** `uncurryThis(Array.prototype.push)(arr, x)`: a method as a plain function, immune to later patching. */
export function uncurryThis<A extends unknown[], R>(fn: (this: any, ...args: A) => R): (self: unknown, ...args: A) => R {
  return callBind(fn);
}

const tagGetter = getOwnPropertyDescriptor(getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)!.get!;
/** 'Uint8Array', 'Float64Array', ... for a typed array of any realm, otherwise undefined. */
export const typedArrayName = uncurryThis(tagGetter) as (value: unknown) => string | undefined;

export const objectToString = uncurryThis(Object.prototype.toString) as (value: unknown) => string;

/** Give a function the `name` and `length` a built-in of that name would have. */
export function nameFunction<F extends Function>(fn: F, name: string, length?: number): F {
  defineProperty(fn, 'name', { value: name, configurable: true });
  if (length !== undefined) defineProperty(fn, 'length', { value: length, configurable: true });
  return fn;
}

export function isObject(value: unknown): value is object {
  return (typeof value === 'object' && value !== null) || typeof value === 'function';
}
