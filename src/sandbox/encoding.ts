// Text and base64 codecs written in plain JavaScript, so their results are
// objects of the context's realm (a Uint8Array from a host TextEncoder would
// fail `instanceof Uint8Array` inside the context).

import { domException } from './dom-exception.js';
import { RealmTypeError, RealmUint8Array, typedArrayName } from './intrinsics.js';

const fromCharCode = String.fromCharCode;

/** UTF-8 bytes of a string; lone surrogates become U+FFFD, as TextEncoder does. */
export function utf8Encode(input: string): Uint8Array {
  const n = input.length;
  let size = 0;
  for (let i = 0; i < n; i++) {
    const c = input.charCodeAt(i);
    if (c < 0x80) size += 1;
    else if (c < 0x800) size += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && isLow(input.charCodeAt(i + 1))) {
      size += 4;
      i++;
    } else size += 3;
  }
  const out = new RealmUint8Array(size);
  writeUtf8(input, out, n);
  return out;
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Writes as much of `input` as fits whole into `out`; returns [UTF-16 units read, bytes written]. */
function writeUtf8(input: string, out: Uint8Array, n: number): [number, number] {
  const cap = out.length;
  let i = 0;
  let j = 0;
  while (i < n) {
    let c = input.charCodeAt(i);
    let units = 1;
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = c <= 0xdbff && i + 1 < n ? input.charCodeAt(i + 1) : 0;
      if (isLow(d)) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        units = 2;
      } else c = 0xfffd;
    }
    if (c < 0x80) {
      if (j + 1 > cap) break;
      out[j++] = c;
    } else if (c < 0x800) {
      if (j + 2 > cap) break;
      out[j++] = 0xc0 | (c >> 6);
      out[j++] = 0x80 | (c & 0x3f);
    } else if (c < 0x10000) {
      if (j + 3 > cap) break;
      out[j++] = 0xe0 | (c >> 12);
      out[j++] = 0x80 | ((c >> 6) & 0x3f);
      out[j++] = 0x80 | (c & 0x3f);
    } else {
      if (j + 4 > cap) break;
      out[j++] = 0xf0 | (c >> 18);
      out[j++] = 0x80 | ((c >> 12) & 0x3f);
      out[j++] = 0x80 | ((c >> 6) & 0x3f);
      out[j++] = 0x80 | (c & 0x3f);
    }
    i += units;
  }
  return [i, j];
}

/** Decodes UTF-8 the way TextDecoder does without `fatal`: each bad sequence becomes one U+FFFD. */
export function utf8Decode(bytes: ArrayLike<number>): string {
  let out = '';
  const chunk: number[] = [];
  const emit = (cp: number): void => {
    if (cp >= 0x10000) {
      cp -= 0x10000;
      chunk.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
    } else chunk.push(cp);
    if (chunk.length >= 8192) {
      out += fromCharCode.apply(null, chunk);
      chunk.length = 0;
    }
  };
  let cp = 0;
  let needed = 0;
  let seen = 0;
  let lower = 0x80;
  let upper = 0xbf;
  const n = bytes.length;
  // Skip a leading byte order mark, as TextDecoder does by default.
  let i = n >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  for (; i < n; i++) {
    const b = bytes[i];
    if (needed === 0) {
      if (b <= 0x7f) emit(b);
      else if (b >= 0xc2 && b <= 0xdf) {
        needed = 1;
        cp = b & 0x1f;
      } else if (b >= 0xe0 && b <= 0xef) {
        if (b === 0xe0) lower = 0xa0;
        if (b === 0xed) upper = 0x9f;
        needed = 2;
        cp = b & 0xf;
      } else if (b >= 0xf0 && b <= 0xf4) {
        if (b === 0xf0) lower = 0x90;
        if (b === 0xf4) upper = 0x8f;
        needed = 3;
        cp = b & 0x7;
      } else emit(0xfffd);
      continue;
    }
    if (b < lower || b > upper) {
      cp = needed = seen = 0;
      lower = 0x80;
      upper = 0xbf;
      emit(0xfffd);
      i--; // this byte starts over
      continue;
    }
    lower = 0x80;
    upper = 0xbf;
    cp = (cp << 6) | (b & 0x3f);
    if (++seen === needed) {
      emit(cp);
      cp = needed = seen = 0;
    }
  }
  if (needed !== 0) emit(0xfffd);
  if (chunk.length > 0) out += fromCharCode.apply(null, chunk);
  return out;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DECODE = /* @__PURE__ */ (() => {
  const table = new Int16Array(128).fill(-1);
  for (let i = 0; i < 64; i++) table[ALPHABET.charCodeAt(i)] = i;
  return table;
})();

export function base64Encode(bytes: ArrayLike<number>): string {
  let out = '';
  const n = bytes.length;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += ALPHABET[v >> 18] + ALPHABET[(v >> 12) & 63] + ALPHABET[(v >> 6) & 63] + ALPHABET[v & 63];
  }
  if (i + 1 === n) {
    const v = bytes[i] << 16;
    out += ALPHABET[v >> 18] + ALPHABET[(v >> 12) & 63] + '==';
  } else if (i + 2 === n) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += ALPHABET[v >> 18] + ALPHABET[(v >> 12) & 63] + ALPHABET[(v >> 6) & 63] + '=';
  }
  return out;
}

/** WHATWG forgiving-base64 decode; null when the input is not base64. */
export function base64Decode(input: string): Uint8Array | null {
  let s = '';
  for (let i = 0; i < input.length; i++) {
    const c = input.charCodeAt(i);
    // ASCII whitespace: tab, line feed, form feed, carriage return, space.
    if (c !== 0x09 && c !== 0x0a && c !== 0x0c && c !== 0x0d && c !== 0x20) s += input[i];
  }
  if (s.length % 4 === 0) {
    if (s.endsWith('==')) s = s.slice(0, -2);
    else if (s.endsWith('=')) s = s.slice(0, -1);
  }
  if (s.length % 4 === 1) return null;
  const out = new RealmUint8Array((s.length * 3) >> 2);
  let acc = 0;
  let bits = 0;
  let j = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? DECODE[c] : -1;
    if (v < 0) return null;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

export function atob(data: unknown): string {
  if (arguments.length === 0) throw new RealmTypeError(`The "data" argument must be specified`);
  const bytes = base64Decode(String(data));
  if (bytes === null) throw domException('The string to be decoded is not correctly encoded.', 'InvalidCharacterError');
  let out = '';
  for (let i = 0; i < bytes.length; i += 8192) out += fromCharCode.apply(null, bytes.subarray(i, i + 8192) as unknown as number[]);
  return out;
}

export function btoa(data: unknown): string {
  if (arguments.length === 0) throw new RealmTypeError(`The "data" argument must be specified`);
  const s = String(data);
  const bytes = new RealmUint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw domException('Invalid character', 'InvalidCharacterError');
    bytes[i] = c;
  }
  return base64Encode(bytes);
}

/** The WHATWG TextEncoder (UTF-8 only, by definition), implemented in the context's realm. */
export class TextEncoder {
  get encoding(): string {
    return 'utf-8';
  }
  encode(input: unknown = ''): Uint8Array {
    return utf8Encode(String(input));
  }
  encodeInto(source: unknown, destination: Uint8Array): { read: number; written: number } {
    if (typedArrayName(destination) !== 'Uint8Array') {
      throw new RealmTypeError('The "dest" argument must be an instance of Uint8Array.');
    }
    const s = String(source);
    const [read, written] = writeUtf8(s, destination, s.length);
    return { read, written };
  }
}
Object.defineProperty(TextEncoder.prototype, Symbol.toStringTag, { value: 'TextEncoder', configurable: true });

/** The subset of the host's TextDecoder that the context's TextDecoder forwards to. */
export interface HostTextDecoder {
  readonly encoding: string;
  readonly fatal: boolean;
  readonly ignoreBOM: boolean;
  decode(input?: unknown, options?: { stream?: boolean }): string;
}
export type HostTextDecoderClass = new (label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean }) => HostTextDecoder;

/**
 * A TextDecoder of the context's realm that forwards to one of the host's:
 * decoding only ever returns strings, which belong to no realm, and the host
 * knows every encoding label and streaming mode.
 */
export function makeTextDecoder(
  Host: HostTextDecoderClass,
  toRealmError: (error: unknown) => unknown = (e) => e,
): new (label?: string, options?: object) => HostTextDecoder {
  class TextDecoder {
    readonly #inner: HostTextDecoder;
    constructor(label: unknown = 'utf-8', options?: { fatal?: boolean; ignoreBOM?: boolean }) {
      try {
        this.#inner = new Host(String(label), options);
      } catch (error) {
        throw toRealmError(error);
      }
    }
    get encoding(): string {
      return this.#inner.encoding;
    }
    get fatal(): boolean {
      return this.#inner.fatal;
    }
    get ignoreBOM(): boolean {
      return this.#inner.ignoreBOM;
    }
    decode(input?: unknown, options?: { stream?: boolean }): string {
      try {
        return this.#inner.decode(input, options);
      } catch (error) {
        throw toRealmError(error);
      }
    }
  }
  Object.defineProperty(TextDecoder.prototype, Symbol.toStringTag, { value: 'TextDecoder', configurable: true });
  return TextDecoder;
}
