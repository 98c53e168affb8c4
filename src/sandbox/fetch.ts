// The session's fetch(): a journaled external call. The request is reduced to
// plain data (FetchRequest) and handed to bridge.call('fetch', ...); the host
// performs it live, or serves the journaled result on replay. The app gets a
// small Response of the context's realm: status, ok, statusText, headers,
// url, text(), json(), arrayBuffer(), bytes(), clone(). Bodies are whole
// strings (or base64 for bytes); there is no streaming.

import type { FetchRequest, FetchResult, SessionBridge } from './bridge.js';
import { base64Decode, base64Encode, utf8Decode, utf8Encode } from './encoding.js';
import { BridgeProtocolError } from './errors.js';
import {
  RealmJSON,
  RealmPromise,
  RealmTypeError,
  RealmUint8Array,
  getOwnPropertyDescriptor,
  getPrototypeOf,
  isObject,
  objectToString,
  typedArrayName,
  uncurryThis,
} from './intrinsics.js';

const { isArray } = Array;
const { keys } = Object;
const bufferByteLength = uncurryThis(getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength')!.get!);
const typedArrayProto = getPrototypeOf(Uint8Array.prototype) as object;
const viewBuffer = uncurryThis(getOwnPropertyDescriptor(typedArrayProto, 'buffer')!.get!) as (v: unknown) => ArrayBuffer;
const viewOffset = uncurryThis(getOwnPropertyDescriptor(typedArrayProto, 'byteOffset')!.get!) as (v: unknown) => number;
const viewLength = uncurryThis(getOwnPropertyDescriptor(typedArrayProto, 'byteLength')!.get!) as (v: unknown) => number;
const dataViewBuffer = uncurryThis(getOwnPropertyDescriptor(DataView.prototype, 'buffer')!.get!) as (v: unknown) => ArrayBuffer;
const dataViewOffset = uncurryThis(getOwnPropertyDescriptor(DataView.prototype, 'byteOffset')!.get!) as (v: unknown) => number;
const dataViewLength = uncurryThis(getOwnPropertyDescriptor(DataView.prototype, 'byteLength')!.get!) as (v: unknown) => number;

/** The context's URL class, once installRealm has made one; used to resolve and check request URLs. */
let URLClass: (new (url: string) => { href: string }) | null = null;
export function setFetchURL(ctor: typeof URLClass): void {
  URLClass = ctor;
}

const NORMALIZED_METHODS = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'];
const FORBIDDEN_METHODS = ['CONNECT', 'TRACE', 'TRACK'];

type HeaderMap = Map<string, string>;

function appendHeader(map: HeaderMap, name: unknown, value: unknown): void {
  const key = String(name).toLowerCase();
  const v = String(value).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
  const existing = map.get(key);
  map.set(key, existing === undefined ? v : `${existing}, ${v}`);
}

function readHeaders(init: unknown, into: HeaderMap): void {
  if (init === undefined || init === null) return;
  if (!isObject(init)) throw new RealmTypeError('fetch: headers must be an object, an array of pairs or a Headers');
  const h = init as { forEach?: unknown; [Symbol.iterator]?: unknown };
  if (typeof h.forEach === 'function' && !isArray(init)) {
    // Headers (of any realm), or anything with the same forEach.
    (h.forEach as (cb: (value: unknown, name: unknown) => void) => void).call(init, (value, name) => appendHeader(into, name, value));
    return;
  }
  if (typeof h[Symbol.iterator] === 'function') {
    for (const pair of init as Iterable<unknown>) {
      const p = pair as ArrayLike<unknown>;
      if (!isObject(pair) || p.length !== 2) throw new RealmTypeError('fetch: each header pair must be [name, value]');
      appendHeader(into, p[0], p[1]);
    }
    return;
  }
  for (const name of keys(init)) appendHeader(into, name, (init as Record<string, unknown>)[name]);
}

function bytesOf(body: unknown): Uint8Array | null {
  if (!isObject(body)) return null;
  const tag = objectToString(body);
  if (tag === '[object ArrayBuffer]') return new RealmUint8Array(body as ArrayBuffer, 0, bufferByteLength(body));
  if (typedArrayName(body) !== undefined) return new RealmUint8Array(viewBuffer(body), viewOffset(body), viewLength(body));
  if (tag === '[object DataView]') return new RealmUint8Array(dataViewBuffer(body), dataViewOffset(body), dataViewLength(body));
  return null;
}

interface RequestLike {
  url: string;
  method: string;
  headers?: unknown;
  body?: unknown;
  signal?: unknown;
  text?: () => PromiseLike<string>;
}

function isRequestLike(input: unknown): input is RequestLike {
  return isObject(input) && typeof (input as RequestLike).url === 'string' && typeof (input as RequestLike).method === 'string';
}

interface FetchInit {
  method?: unknown;
  headers?: unknown;
  body?: unknown;
  signal?: unknown;
}

async function toFetchRequest(input: unknown, init: FetchInit): Promise<FetchRequest> {
  const request = isRequestLike(input) ? input : null;
  const rawUrl = request !== null ? request.url : String(input);
  let url = rawUrl;
  if (URLClass !== null) {
    try {
      url = new URLClass(rawUrl).href;
    } catch (cause) {
      throw new RealmTypeError(`Failed to parse URL from ${rawUrl}`, { cause });
    }
  }
  let method = init.method !== undefined ? String(init.method) : request !== null ? request.method : 'GET';
  const upper = method.toUpperCase();
  if (FORBIDDEN_METHODS.includes(upper)) throw new RealmTypeError(`'${method}' HTTP method is unsupported.`);
  if (NORMALIZED_METHODS.includes(upper)) method = upper;

  const headers: HeaderMap = new Map();
  readHeaders(init.headers !== undefined ? init.headers : request?.headers, headers);

  let body: string | null = null;
  let bodyEncoding: 'utf8' | 'base64' = 'utf8';
  let contentType: string | null = null;
  const rawBody = init.body !== undefined ? init.body : undefined;
  if (rawBody !== undefined && rawBody !== null) {
    if (typeof rawBody === 'string') {
      body = rawBody;
      contentType = 'text/plain;charset=UTF-8';
    } else if (objectToString(rawBody) === '[object URLSearchParams]') {
      body = String(rawBody);
      contentType = 'application/x-www-form-urlencoded;charset=UTF-8';
    } else {
      const bytes = bytesOf(rawBody);
      if (bytes !== null) {
        body = base64Encode(bytes);
        bodyEncoding = 'base64';
      } else {
        const tag = objectToString(rawBody);
        if (tag === '[object Blob]' || tag === '[object File]' || tag === '[object FormData]' || tag === '[object ReadableStream]') {
          throw new RealmTypeError(`fetch: a ${tag.slice(8, -1)} body is not supported in the sandbox; pass a string, URLSearchParams or bytes`);
        }
        body = String(rawBody);
        contentType = 'text/plain;charset=UTF-8';
      }
    }
  } else if (init.body === undefined && request !== null && request.body !== null && request.body !== undefined && typeof request.text === 'function') {
    body = await request.text();
  }
  if (body !== null && (method === 'GET' || method === 'HEAD')) {
    throw new RealmTypeError('Request with GET/HEAD method cannot have body.');
  }
  if (contentType !== null && !headers.has('content-type')) headers.set('content-type', contentType);

  const record: Record<string, string> = {};
  for (const [name, value] of headers) record[name] = value;
  const out: FetchRequest = { url, method, headers: record, body };
  if (bodyEncoding === 'base64') out.bodyEncoding = 'base64';
  return out;
}

interface AbortSignalLike {
  aborted: boolean;
  reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

function isSignal(value: unknown): value is AbortSignalLike {
  return isObject(value) && typeof (value as AbortSignalLike).aborted === 'boolean' && typeof (value as AbortSignalLike).addEventListener === 'function';
}

function checkResult(result: unknown): FetchResult {
  const r = result as Partial<FetchResult> | null;
  if (r === null || typeof r !== 'object') throw new BridgeProtocolError(`bridge.call('fetch') must resolve with a FetchResult object`);
  if (typeof r.status !== 'number' || !Number.isInteger(r.status) || r.status < 100 || r.status > 599) {
    throw new BridgeProtocolError(`bridge.call('fetch') returned status ${String(r.status)}; expected an integer 100..599`);
  }
  if (typeof r.body !== 'string') throw new BridgeProtocolError(`bridge.call('fetch') must resolve with a string body`);
  if (r.bodyEncoding !== undefined && r.bodyEncoding !== 'utf8' && r.bodyEncoding !== 'base64') {
    throw new BridgeProtocolError(`bridge.call('fetch') returned bodyEncoding ${String(r.bodyEncoding)}`);
  }
  return r as FetchResult;
}

/** Response headers: read-only, names lower-cased, iterated in name order (as Headers does). */
export class FetchHeaders {
  readonly #map: Map<string, string>;
  constructor(record: Record<string, string> | undefined) {
    this.#map = new Map();
    if (record !== undefined && record !== null) {
      for (const name of keys(record)) appendHeader(this.#map, name, record[name]);
    }
  }
  get(name: string): string | null {
    return this.#map.get(String(name).toLowerCase()) ?? null;
  }
  has(name: string): boolean {
    return this.#map.has(String(name).toLowerCase());
  }
  getSetCookie(): string[] {
    const value = this.#map.get('set-cookie');
    return value === undefined ? [] : [value];
  }
  forEach(callback: (value: string, name: string, headers: FetchHeaders) => void, thisArg?: unknown): void {
    for (const [name, value] of this.entries()) callback.call(thisArg, value, name, this);
  }
  *entries(): IterableIterator<[string, string]> {
    const names = [...this.#map.keys()].sort();
    for (const name of names) yield [name, this.#map.get(name)!];
  }
  *keys(): IterableIterator<string> {
    for (const [name] of this.entries()) yield name;
  }
  *values(): IterableIterator<string> {
    for (const [, value] of this.entries()) yield value;
  }
  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }
  set(): never {
    throw new RealmTypeError('immutable');
  }
  append(): never {
    throw new RealmTypeError('immutable');
  }
  delete(): never {
    throw new RealmTypeError('immutable');
  }
}
Object.defineProperty(FetchHeaders.prototype, Symbol.toStringTag, { value: 'Headers', configurable: true });

/** What fetch() resolves with. */
export class FetchResponse {
  readonly #result: FetchResult;
  readonly #url: string;
  readonly #headers: FetchHeaders;
  #used = false;
  constructor(result: FetchResult, url: string) {
    this.#result = result;
    this.#url = url;
    this.#headers = new FetchHeaders(result.headers);
  }
  get status(): number {
    return this.#result.status;
  }
  get ok(): boolean {
    return this.#result.status >= 200 && this.#result.status <= 299;
  }
  get statusText(): string {
    return typeof this.#result.statusText === 'string' ? this.#result.statusText : '';
  }
  get headers(): FetchHeaders {
    return this.#headers;
  }
  get url(): string {
    return this.#url;
  }
  get redirected(): boolean {
    return false;
  }
  get type(): string {
    return 'basic';
  }
  get bodyUsed(): boolean {
    return this.#used;
  }
  get body(): never {
    throw new RealmTypeError('Response.body streams are not available in the Windback sandbox; use text(), json(), arrayBuffer() or bytes()');
  }
  #consume(): FetchResult {
    if (this.#used) throw new RealmTypeError('Body is unusable: Body has already been read');
    this.#used = true;
    return this.#result;
  }
  #bytes(): Uint8Array {
    const result = this.#consume();
    if (result.bodyEncoding === 'base64') {
      const bytes = base64Decode(result.body);
      if (bytes === null) throw new BridgeProtocolError(`bridge.call('fetch') returned a body that is not base64`);
      return bytes;
    }
    return utf8Encode(result.body);
  }
  async text(): Promise<string> {
    const result = this.#consume();
    if (result.bodyEncoding === 'base64') {
      const bytes = base64Decode(result.body);
      if (bytes === null) throw new BridgeProtocolError(`bridge.call('fetch') returned a body that is not base64`);
      return utf8Decode(bytes);
    }
    return result.body;
  }
  async json(): Promise<unknown> {
    return RealmJSON.parse(await this.text());
  }
  async arrayBuffer(): Promise<ArrayBuffer> {
    return this.#bytes().buffer as ArrayBuffer;
  }
  async bytes(): Promise<Uint8Array> {
    return this.#bytes();
  }
  async blob(): Promise<never> {
    throw new RealmTypeError('Response.blob() is not available in the Windback sandbox; use arrayBuffer() or bytes()');
  }
  async formData(): Promise<never> {
    throw new RealmTypeError('Response.formData() is not available in the Windback sandbox; use text()');
  }
  clone(): FetchResponse {
    if (this.#used) throw new RealmTypeError('Response.clone: Body has already been consumed.');
    return new FetchResponse(this.#result, this.#url);
  }
}
Object.defineProperty(FetchResponse.prototype, Symbol.toStringTag, { value: 'Response', configurable: true });

export function createSessionFetch(bridge: SessionBridge): (input: unknown, init?: FetchInit) => Promise<FetchResponse> {
  return async function fetch(input: unknown, init?: FetchInit): Promise<FetchResponse> {
    const options: FetchInit = init ?? {};
    const request = await toFetchRequest(input, options);
    const signal = options.signal !== undefined ? options.signal : isRequestLike(input) ? input.signal : undefined;
    if (isSignal(signal) && signal.aborted) throw signal.reason;
    let pending: PromiseLike<FetchResult>;
    try {
      pending = bridge.call('fetch', request);
    } catch (cause) {
      throw new RealmTypeError('fetch failed', { cause });
    }
    const result = await new RealmPromise<FetchResult>((resolve, reject) => {
      const onAbort = (): void => reject((signal as AbortSignalLike).reason);
      if (isSignal(signal)) signal.addEventListener('abort', onAbort, { once: true });
      const settle = (): void => {
        if (isSignal(signal)) signal.removeEventListener('abort', onAbort);
      };
      pending.then(
        (value) => {
          settle();
          resolve(value);
        },
        (cause: unknown) => {
          settle();
          reject(new RealmTypeError('fetch failed', { cause }));
        },
      );
    });
    return new FetchResponse(checkResult(result), request.url);
  };
}
