// structuredClone, implemented in the context's realm so that clones are
// context objects (the host's structuredClone would hand back host-realm
// objects, whose prototypes are not the context's). It follows the HTML
// structured-clone algorithm as V8 implements it for the types below; input may
// come from either realm (types are recognized by brand, not by instanceof).

import { domException } from './dom-exception.js';
import {
  RealmArrayBuffer,
  RealmDate,
  RealmObject,
  RealmTypeError,
  RealmUint8Array,
  defineProperty,
  getOwnPropertyDescriptor,
  getPrototypeOf,
  objectToString,
  typedArrayName,
  uncurryThis,
} from './intrinsics.js';

const getTime = uncurryThis(Date.prototype.getTime);
const regExpSource = uncurryThis(getOwnPropertyDescriptor(RegExp.prototype, 'source')!.get!);
const regExpFlags = uncurryThis(getOwnPropertyDescriptor(RegExp.prototype, 'flags')!.get!);
const bufferByteLength = uncurryThis(getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength')!.get!);
const mapSize = uncurryThis(getOwnPropertyDescriptor(Map.prototype, 'size')!.get!);
const mapEntries = uncurryThis(Map.prototype.entries) as (m: unknown) => IterableIterator<[unknown, unknown]>;
const setSize = uncurryThis(getOwnPropertyDescriptor(Set.prototype, 'size')!.get!);
const setValues = uncurryThis(Set.prototype.values) as (s: unknown) => IterableIterator<unknown>;
const booleanValueOf = uncurryThis(Boolean.prototype.valueOf);
const numberValueOf = uncurryThis(Number.prototype.valueOf);
const stringValueOf = uncurryThis(String.prototype.valueOf);
const bigintValueOf = uncurryThis(BigInt.prototype.valueOf);
const functionToString = uncurryThis(Function.prototype.toString);
const typedArrayProto = getPrototypeOf(Uint8Array.prototype) as object;
const typedArrayBuffer = uncurryThis(getOwnPropertyDescriptor(typedArrayProto, 'buffer')!.get!) as (v: unknown) => ArrayBuffer;
const typedArrayOffset = uncurryThis(getOwnPropertyDescriptor(typedArrayProto, 'byteOffset')!.get!) as (v: unknown) => number;
const typedArrayLength = uncurryThis(getOwnPropertyDescriptor(typedArrayProto, 'length')!.get!) as (v: unknown) => number;
const dataViewBuffer = uncurryThis(getOwnPropertyDescriptor(DataView.prototype, 'buffer')!.get!) as (v: unknown) => ArrayBuffer;
const dataViewOffset = uncurryThis(getOwnPropertyDescriptor(DataView.prototype, 'byteOffset')!.get!) as (v: unknown) => number;
const dataViewLength = uncurryThis(getOwnPropertyDescriptor(DataView.prototype, 'byteLength')!.get!) as (v: unknown) => number;
const { isArray } = Array;
const { keys, hasOwn } = Object;
const RealmMap = Map;
const RealmSet = Set;
const RealmRegExp = RegExp;
const RealmDataView = DataView;

type TypedArrayCtor = new (buffer: ArrayBuffer, byteOffset: number, length: number) => ArrayBufferView;
const TYPED_ARRAYS: Record<string, TypedArrayCtor> = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
} as unknown as Record<string, TypedArrayCtor>;

const ERRORS: Record<string, new (message?: string) => Error> = {
  Error,
  EvalError,
  RangeError,
  ReferenceError,
  SyntaxError,
  TypeError,
  URIError,
};

function brand(check: (v: unknown) => unknown, value: unknown): boolean {
  try {
    check(value);
    return true;
  } catch {
    return false;
  }
}

function uncloneable(what: string): Error {
  return domException(`${what} could not be cloned.`, 'DataCloneError');
}

export function structuredClone(value: unknown, options?: { transfer?: readonly unknown[] }): unknown {
  if (arguments.length === 0) throw new RealmTypeError('The "value" argument must be specified');
  const transfer = options?.transfer;
  if (transfer !== undefined && transfer !== null && (transfer as readonly unknown[]).length > 0) {
    throw domException('Transferring objects is not supported in the Windback sandbox.', 'DataCloneError');
  }
  return clone(value, new RealmMap<object, unknown>());
}

function clone(value: unknown, memory: Map<object, unknown>): unknown {
  switch (typeof value) {
    case 'undefined':
    case 'boolean':
    case 'number':
    case 'string':
    case 'bigint':
      return value;
    case 'symbol':
      throw uncloneable(String(value));
    case 'function':
      throw uncloneable(functionToString(value));
  }
  if (value === null) return null;
  const object = value as object;
  if (memory.has(object)) return memory.get(object);

  if (isArray(object)) {
    const source = object as unknown[];
    const out: unknown[] = new Array(source.length);
    memory.set(object, out);
    copyProperties(source, out, memory);
    return out;
  }

  const tag = objectToString(object);
  switch (tag) {
    case '[object Date]':
      if (brand(getTime, object)) return remember(memory, object, new RealmDate(getTime(object)));
      break;
    case '[object RegExp]':
      if (brand(regExpSource, object)) {
        return remember(memory, object, new RealmRegExp(regExpSource(object), regExpFlags(object)));
      }
      break;
    case '[object Boolean]':
      if (brand(booleanValueOf, object)) return remember(memory, object, RealmObject(booleanValueOf(object)));
      break;
    case '[object Number]':
      if (brand(numberValueOf, object)) return remember(memory, object, RealmObject(numberValueOf(object)));
      break;
    case '[object String]':
      if (brand(stringValueOf, object)) return remember(memory, object, RealmObject(stringValueOf(object)));
      break;
    case '[object BigInt]':
      if (brand(bigintValueOf, object)) return remember(memory, object, RealmObject(bigintValueOf(object)));
      break;
    case '[object ArrayBuffer]':
      if (brand(bufferByteLength, object)) {
        const copy = new RealmArrayBuffer(bufferByteLength(object));
        new RealmUint8Array(copy).set(new RealmUint8Array(object as ArrayBuffer));
        return remember(memory, object, copy);
      }
      break;
    case '[object SharedArrayBuffer]':
      throw uncloneable('#<SharedArrayBuffer>');
    case '[object DataView]':
      if (brand(dataViewBuffer, object)) {
        const buffer = clone(dataViewBuffer(object), memory) as ArrayBuffer;
        return remember(memory, object, new RealmDataView(buffer, dataViewOffset(object), dataViewLength(object)));
      }
      break;
    case '[object Map]':
      if (brand(mapSize, object)) {
        const out = new RealmMap();
        memory.set(object, out);
        // Snapshot the entries first, as the algorithm does.
        const entries = [...mapEntries(object)];
        for (const [k, v] of entries) out.set(clone(k, memory), clone(v, memory));
        return out;
      }
      break;
    case '[object Set]':
      if (brand(setSize, object)) {
        const out = new RealmSet();
        memory.set(object, out);
        const values = [...setValues(object)];
        for (const v of values) out.add(clone(v, memory));
        return out;
      }
      break;
    case '[object Error]':
      return cloneError(object as Error, memory);
    case '[object Promise]':
    case '[object WeakMap]':
    case '[object WeakSet]':
    case '[object WeakRef]':
    case '[object FinalizationRegistry]':
    case '[object Symbol]':
      throw uncloneable(`#<${tag.slice(8, -1)}>`);
  }

  const typedName = typedArrayName(object);
  if (typedName !== undefined) {
    const buffer = clone(typedArrayBuffer(object), memory) as ArrayBuffer;
    const Ctor = TYPED_ARRAYS[typedName];
    return remember(memory, object, new Ctor(buffer, typedArrayOffset(object), typedArrayLength(object)));
  }

  // Everything else is cloned as a plain object of its own enumerable string
  // keys; its prototype (a class, a host class) is not kept.
  const out: Record<string, unknown> = {};
  memory.set(object, out);
  copyProperties(object as Record<string, unknown>, out, memory);
  return out;
}

function remember<T>(memory: Map<object, unknown>, from: object, to: T): T {
  memory.set(from, to);
  return to;
}

function copyProperties(from: Record<string, unknown> | unknown[], to: Record<string, unknown> | unknown[], memory: Map<object, unknown>): void {
  const source = from as Record<string, unknown>;
  const target = to as Record<string, unknown>;
  for (const key of keys(source)) {
    const v = clone(source[key], memory);
    if (key === '__proto__') defineProperty(target, key, { value: v, writable: true, enumerable: true, configurable: true });
    else target[key] = v;
  }
}

function cloneError(error: Error, memory: Map<object, unknown>): Error {
  const name = String(error.name);
  const Ctor = hasOwn(ERRORS, name) ? ERRORS[name] : Error;
  const out = new Ctor();
  memory.set(error, out);
  const message = getOwnPropertyDescriptor(error, 'message');
  if (message !== undefined && 'value' in message) {
    defineProperty(out, 'message', { value: String(message.value), writable: true, configurable: true });
  }
  const stack = (error as { stack?: unknown }).stack;
  if (typeof stack === 'string') defineProperty(out, 'stack', { value: stack, writable: true, configurable: true });
  const cause = getOwnPropertyDescriptor(error, 'cause');
  if (cause !== undefined && 'value' in cause) {
    defineProperty(out, 'cause', { value: clone(cause.value, memory), writable: true, configurable: true });
  }
  return out;
}
