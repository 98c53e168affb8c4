import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import type { Transport } from '../model/records.js';
import { MAX_PAYLOAD } from '../journal/constants.js';

// How a session's outcome becomes the bytes of its response, per transport.
// The runtime renders responses with this, and replay renders the replayed
// outcome the same way to compare it byte for byte with the journal.

export interface RenderedResponse {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
  /** Set when the outcome's own response could not be rendered, or was too large to journal, and this error response was rendered instead. */
  replacedBy?: ResponseTooLargeError | ResponseNotRenderableError;
}

/**
 * A response is journaled, in one record, before it is sent: its body may be
 * at most this large, which leaves a record room for the headers.
 */
export const MAX_RESPONSE_BODY = MAX_PAYLOAD - 1024 * 1024;

export class ResponseTooLargeError extends Error {
  override readonly name = 'ResponseTooLargeError';
  readonly status = 500;
  constructor(readonly bytes: number) {
    super(`the response body is ${bytes.toLocaleString('en-US')} bytes; a response is journaled before it is sent, and its body may be at most ${MAX_RESPONSE_BODY.toLocaleString('en-US')} bytes`);
  }
}

/**
 * The session's outcome could not be rendered in its transport's format: its
 * return value (or the `body` of the error it threw) holds a cycle, or a
 * `toJSON` or getter in it throws. The session fails with this error instead,
 * journaled like any other, and answers a 500.
 */
export class ResponseNotRenderableError extends Error {
  override readonly name = 'ResponseNotRenderableError';
  readonly status = 500;
  constructor(transport: Transport, ok: boolean, cause: unknown) {
    const what = ok ? "the handler's return value" : 'the body of the error the handler threw';
    const format = transport === 'xml-rpc' ? 'XML-RPC' : 'JSON';
    const why = cause instanceof Error || (cause !== null && typeof cause === 'object' && 'message' in cause) ? String((cause as Error).message) : String(cause);
    super(`${what} cannot be rendered as ${format}: ${why.replace(/\s*\n\s*/g, ' ')}`);
  }
}

export interface OutcomeToRender {
  ok: boolean;
  output?: unknown;
  /** The thrown value: `status` (400..599) and `body` on it are honoured, like http-errors. */
  error?: unknown;
  /** The JSON-RPC request id, echoed back; undefined for a notification (a 204 with no body). */
  rpcId?: unknown;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const XML_TYPE = 'text/xml; charset=utf-8';

export function renderResponse(transport: Transport, outcome: OutcomeToRender): RenderedResponse {
  let response: RenderedResponse;
  try {
    response = renderOutcome(transport, outcome);
  } catch (cause) {
    // The same on record and on replay: the outcome becomes this error's.
    const error = new ResponseNotRenderableError(transport, outcome.ok, cause);
    return { ...renderOutcome(transport, { ok: false, error, rpcId: outcome.rpcId }), replacedBy: error };
  }
  if (response.body.byteLength <= MAX_RESPONSE_BODY) return response;
  // The same on record and on replay: the oversized response becomes this error's.
  const error = new ResponseTooLargeError(response.body.byteLength);
  return { ...renderOutcome(transport, { ok: false, error, rpcId: outcome.rpcId }), replacedBy: error };
}

function renderOutcome(transport: Transport, outcome: OutcomeToRender): RenderedResponse {
  switch (transport) {
    case 'json':
    case 'direct':
      return outcome.ok
        ? json(200, outcome.output === undefined ? null : outcome.output)
        : json(errorStatus(outcome.error), { error: publicError(outcome.error) });
    case 'json-rpc':
      // A notification (a request without an id) is answered with nothing.
      if (outcome.rpcId === undefined) return { status: 204, headers: {}, body: new Uint8Array(0) };
      return outcome.ok
        ? json(200, { jsonrpc: '2.0', result: outcome.output === undefined ? null : outcome.output, id: outcome.rpcId ?? null })
        : json(200, {
            jsonrpc: '2.0',
            error: { code: errorStatus(outcome.error) < 500 ? -32000 : -32603, message: publicError(outcome.error).message, data: publicError(outcome.error) },
            id: outcome.rpcId ?? null,
          });
    case 'xml-rpc':
      return outcome.ok
        ? xml(methodResponse(outcome.output))
        : xml(fault(errorStatus(outcome.error), publicError(outcome.error).message));
  }
}

export function json(status: number, value: unknown): RenderedResponse {
  return { status, headers: { 'content-type': JSON_TYPE }, body: Buffer.from(stableJson(value)) };
}

export function xml(text: string): RenderedResponse {
  return { status: 200, headers: { 'content-type': XML_TYPE }, body: Buffer.from(text) };
}

/** JSON with bigints as numbers when safe, else strings, and bytes as base64. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
    if (v && typeof v === 'object' && ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
    if (v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
      return Buffer.from((v as { data: number[] }).data).toString('base64');
    }
    return v;
  });
}

function errorStatus(error: unknown): number {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === 'number' && Number.isInteger(status) && status >= 400 && status <= 599 ? status : 500;
}

/** What a client may see of an error: never a stack. A 500 says only that it failed. */
function publicError(error: unknown): { name: string; message: string; details?: unknown } {
  const e = (error ?? {}) as { name?: unknown; message?: unknown; body?: unknown };
  if (errorStatus(error) === 500) return { name: 'InternalError', message: 'the session failed; its error is in the journal' };
  const out: { name: string; message: string; details?: unknown } = { name: String(e.name ?? 'Error'), message: String(e.message ?? '') };
  if (e.body !== undefined) out.details = e.body;
  return out;
}

// ---- XML-RPC -------------------------------------------------------------------------

const builder = new XMLBuilder({ ignoreAttributes: false, format: false, suppressEmptyNode: false });

function methodResponse(value: unknown): string {
  return `<?xml version="1.0"?>${builder.build({ methodResponse: { params: { param: { value: toXmlRpc(value) } } } })}`;
}

export function fault(code: number, message: string): string {
  const value = toXmlRpc({ faultCode: code, faultString: message });
  return `<?xml version="1.0"?>${builder.build({ methodResponse: { fault: { value } } })}`;
}

/** A JavaScript value as an XML-RPC <value> body (for the builder). */
export function toXmlRpc(value: unknown): Record<string, unknown> {
  return xmlRpcValue(value, []);
}

function xmlRpcValue(value: unknown, ancestors: object[]): Record<string, unknown> {
  if (value === null || value === undefined) return { nil: '' };
  switch (typeof value) {
    case 'boolean':
      return { boolean: value ? 1 : 0 };
    case 'number':
      return Number.isInteger(value) && Math.abs(value) < 2 ** 31 ? { int: value } : { double: value };
    case 'bigint':
      return { i8: value.toString() };
    case 'string':
      return { string: value };
    case 'object':
      break;
    default:
      return { string: String(value) };
  }
  if (value instanceof Date || Object.prototype.toString.call(value) === '[object Date]') {
    return { 'dateTime.iso8601': (value as Date).toISOString().replace(/\.\d{3}Z$/, '').replace(/-/g, '') };
  }
  if (ArrayBuffer.isView(value)) return { base64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (ancestors.includes(value as object)) throw new TypeError('a circular structure: an object contains itself');
  ancestors.push(value as object);
  try {
    if (Array.isArray(value)) return { array: { data: { value: value.map((v) => xmlRpcValue(v, ancestors)) } } };
    const member = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .map(([name, v]) => ({ name, value: xmlRpcValue(v, ancestors) }));
    return { struct: { member } };
  } finally {
    ancestors.pop();
  }
}

/**
 * A request body that is not an XML-RPC methodCall (answered with HTTP 400),
 * or, with `invalidParams`, a methodCall whose parameters hold an invalid
 * value (answered with a fault, -32602, over HTTP 200 as XML-RPC clients expect).
 */
export class XmlRpcParseError extends Error {
  constructor(
    message: string,
    readonly invalidParams = false,
  ) {
    super(message);
  }
}

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  isArray: (name) => name === 'param' || name === 'member' || name === 'value',
});

/** Parse a <methodCall>: its method name and parameters. */
export function parseMethodCall(text: string): { method: string; params: unknown[] } {
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(text, true) as Record<string, unknown>;
  } catch (error) {
    throw new XmlRpcParseError(`malformed XML: ${(error as Error).message}`);
  }
  const call = doc.methodCall as Record<string, unknown> | undefined;
  if (!call || typeof call !== 'object') throw new XmlRpcParseError('not an XML-RPC methodCall');
  const method = typeof call.methodName === 'string' ? call.methodName.trim() : '';
  if (!method) throw new XmlRpcParseError('methodCall has no methodName');
  const params = (call.params as { param?: { value?: unknown[] }[] } | undefined)?.param ?? [];
  return { method, params: params.map((p, i) => fromXmlRpc(p.value?.[0], `params[${i}]`)) };
}

function invalid(path: string, message: string): XmlRpcParseError {
  return new XmlRpcParseError(`invalid params: ${path}: ${message}`, true);
}

function fromXmlRpc(value: unknown, path: string): unknown {
  if (value === undefined || value === null || value === '') return '';
  if (typeof value === 'string') return value; // a bare <value>text</value> is a string
  const node = value as Record<string, unknown>;
  const [type] = Object.keys(node);
  const body = node[type];
  const text = typeof body === 'string' ? body : body === undefined || body === null ? '' : String(body);
  switch (type) {
    case 'int':
    case 'i4':
      return integer(text, 32, type, path);
    case 'i8':
      return integer(text, 64, type, path);
    case 'boolean':
      if (text.trim() !== '0' && text.trim() !== '1') throw invalid(path, `invalid <boolean> "${text}" (0 or 1)`);
      return text.trim() === '1';
    case 'double': {
      const t = text.trim();
      // The spec's form (Python sends repr(), which may use an exponent): no hex, no "Infinity", no "NaN".
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) throw invalid(path, `invalid <double> "${text}"`);
      const n = Number(t);
      if (!Number.isFinite(n)) throw invalid(path, `<double> "${text}" is out of range`);
      return n === 0 ? 0 : n; // -0 is journaled as 0, so the handler gets 0 too
    }
    case 'string':
      return text;
    case 'nil':
      return null;
    case 'base64': {
      const b64 = text.replace(/[ \t\r\n]+/g, '');
      if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(b64)) throw invalid(path, 'invalid <base64> (not padded standard base64)');
      return Buffer.from(b64, 'base64');
    }
    case 'dateTime.iso8601': {
      const t = text.trim();
      if (!isIsoDateTime(t)) throw invalid(path, `invalid <dateTime.iso8601> "${text}" (expected e.g. 20240131T23:59:59)`);
      return t;
    }
    case 'array': {
      const data = (body as { data?: { value?: unknown[] } } | '')?.valueOf() as { data?: { value?: unknown[] } } | string;
      const values = typeof data === 'object' && data !== null ? (data.data?.value ?? []) : [];
      return values.map((v, i) => fromXmlRpc(v, `${path}[${i}]`));
    }
    case 'struct': {
      const members = typeof body === 'object' && body !== null ? ((body as { member?: { name?: unknown; value?: unknown[] }[] }).member ?? []) : [];
      const out: Record<string, unknown> = {};
      for (const m of members) {
        const name = String(m.name ?? '');
        const v = fromXmlRpc(m.value?.[0], `${path}[${JSON.stringify(name)}]`);
        // Never `out[name] = v`: for a member named __proto__ that sets the
        // object's prototype. An own property, which the server then refuses.
        if (name === '__proto__') Object.defineProperty(out, name, { value: v, enumerable: true, writable: true, configurable: true });
        else out[name] = v;
      }
      return out;
    }
    default:
      throw invalid(path, `unknown XML-RPC type <${type}>`);
  }
}

function integer(text: string, bits: 32 | 64, type: string, path: string): number | bigint {
  const t = text.trim();
  if (!/^[+-]?\d+$/.test(t)) throw invalid(path, `invalid <${type}> "${text}"`);
  const big = BigInt(t);
  const limit = 1n << BigInt(bits - 1);
  if (big < -limit || big >= limit) throw invalid(path, `<${type}> ${t} is out of range (${bits}-bit signed)${bits === 32 ? '; send <i8> or <double>' : ''}`);
  const n = Number(big);
  return Number.isSafeInteger(n) ? (n === 0 ? 0 : n) : big;
}

/** XML-RPC's 19980717T14:08:55 (also with dashes, fractional seconds, and a Z or an offset), with a real date and time. */
function isIsoDateTime(t: string): boolean {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):?(\d{2}):?(\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/.exec(t);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate(); // days in that month
  return month >= 1 && month <= 12 && day >= 1 && day <= days && hour <= 23 && minute <= 59 && second <= 59;
}

/** Session-start `meta` key holding a JSON-RPC request id (JSON text), so a resume or replay renders the same response. */
export const RPC_ID_META = 'windback-rpc-id';

export function rpcIdOf(meta: Record<string, string> | undefined): unknown {
  const text = meta?.[RPC_ID_META];
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
