// The session's `crypto`: randomUUID and getRandomValues draw journaled values
// from the bridge; crypto.subtle throws (its results depend on fresh
// randomness and it is asynchronous host work).

import type { SessionBridge } from './bridge.js';
import { domException } from './dom-exception.js';
import { BridgeProtocolError, DeterminismError } from './errors.js';
import { RealmUint8Array, create, getOwnPropertyDescriptor, getPrototypeOf, nameFunction, typedArrayName, uncurryThis } from './intrinsics.js';

const typedArrayProto = getPrototypeOf(Uint8Array.prototype) as object;
const viewBuffer = uncurryThis(getOwnPropertyDescriptor(typedArrayProto, 'buffer')!.get!) as (v: unknown) => ArrayBuffer;
const viewOffset = uncurryThis(getOwnPropertyDescriptor(typedArrayProto, 'byteOffset')!.get!) as (v: unknown) => number;
const viewLength = uncurryThis(getOwnPropertyDescriptor(typedArrayProto, 'byteLength')!.get!) as (v: unknown) => number;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAX_BYTES = 65536;

const SUBTLE_INSTEAD =
  'its keys, signatures and IVs come from fresh randomness and it runs asynchronously on the host; sign, encrypt or hash through ctx.call, or bundle a pure JavaScript implementation for hashing';

export const subtleGetter = nameFunction(
  function (): never {
    throw new DeterminismError('crypto.subtle', SUBTLE_INSTEAD, subtleGetter);
  },
  'get subtle',
);

/** Shared by every session's crypto object: the refusing `subtle`, and the tag. */
const CryptoPrototype = create(Object.prototype, {
  subtle: { get: subtleGetter, enumerable: true, configurable: true },
  [Symbol.toStringTag]: { value: 'Crypto', configurable: true },
}) as object;
export { CryptoPrototype };

export interface SessionCrypto {
  randomUUID(): string;
  getRandomValues<T extends ArrayBufferView>(array: T): T;
  readonly subtle: never;
}

export function createSessionCrypto(bridge: SessionBridge): SessionCrypto {
  const crypto = create(CryptoPrototype) as { randomUUID?: unknown; getRandomValues?: unknown };
  crypto.randomUUID = function randomUUID(): string {
    const uuid = bridge.value('uuid');
    if (typeof uuid !== 'string' || !UUID.test(uuid)) {
      throw new BridgeProtocolError(`bridge.value('uuid') must return a lowercase UUID string, got ${typeof uuid}`);
    }
    return uuid;
  };
  crypto.getRandomValues = function getRandomValues<T extends ArrayBufferView>(array: T): T {
    const name = typedArrayName(array);
    if (name === undefined || name === 'Float32Array' || name === 'Float64Array') {
      throw domException('The data argument must be an integer-type TypedArray', 'TypeMismatchError');
    }
    const byteLength = viewLength(array);
    if (byteLength > MAX_BYTES) {
      throw domException(
        `The ArrayBufferView's byte length (${byteLength}) exceeds the number of bytes of entropy available via this API (${MAX_BYTES})`,
        'QuotaExceededError',
      );
    }
    const bytes = bridge.value('random-bytes', byteLength);
    if (bytes === null || typeof bytes !== 'object' || bytes.length !== byteLength) {
      throw new BridgeProtocolError(`bridge.value('random-bytes', ${byteLength}) must return exactly ${byteLength} bytes`);
    }
    const target = new RealmUint8Array(viewBuffer(array), viewOffset(array), byteLength);
    for (let i = 0; i < byteLength; i++) {
      const b = bytes[i];
      if (typeof b !== 'number' || !(b >= 0 && b <= 255) || b % 1 !== 0) {
        throw new BridgeProtocolError(`bridge.value('random-bytes') byte ${i} is not an integer 0..255`);
      }
      target[i] = b;
    }
    return array;
  };
  return crypto as SessionCrypto;
}
