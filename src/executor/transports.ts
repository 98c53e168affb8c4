import { XMLParser } from 'fast-xml-parser';
import type { Transport } from '../model/records.js';
import { MAX_INPUT_DEPTH, MAX_PAYLOAD } from '../journal/constants.js';

// How a session's outcome becomes the bytes of its response, per transport.
// The runtime renders responses with this, and replay renders the replayed
// outcome the same way to compare it byte for byte with the journal.

export interface RenderedResponse {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
  /** Set when the outcome's own response was too large to journal, or could not be rendered, and this error response was rendered instead. */
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
 * A response value may nest at most this many levels: twice an input's, so
 * that a handler may wrap its input (rendering recurses once per level, and
 * XML-RPC's three elements per level too).
 */
export const MAX_OUTPUT_DEPTH = 2 * MAX_INPUT_DEPTH;

/** The outcome's value cannot become a response: circular, nested deeper than MAX_OUTPUT_DEPTH, or a toJSON that throws. */
export class ResponseNotRenderableError extends Error {
  override readonly name = 'ResponseNotRenderableError';
  readonly status = 500;
  constructor(readonly reason: string) {
    super(`the response cannot be rendered: ${reason}`);
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

/**
 * The response to an outcome. Never throws: an outcome whose value cannot be
 * rendered gets the 500 of a ResponseNotRenderableError instead (the same on
 * record and on replay), so that its session still ends, with that error.
 */
export function renderResponse(transport: Transport, outcome: OutcomeToRender): RenderedResponse {
  let response: RenderedResponse;
  try {
    response = renderOutcome(transport, outcome);
  } catch (thrown) {
    const error = thrown instanceof ResponseNotRenderableError ? thrown : new ResponseNotRenderableError(firstLine(thrown));
    return { ...renderOutcome(transport, { ok: false, error, rpcId: outcome.rpcId }), replacedBy: error };
  }
  if (response.body.byteLength <= MAX_RESPONSE_BODY) return response;
  // The same on record and on replay: the oversized response becomes this error's.
  const error = new ResponseTooLargeError(response.body.byteLength);
  return { ...renderOutcome(transport, { ok: false, error, rpcId: outcome.rpcId }), replacedBy: error };
}

function renderOutcome(transport: Transport, outcome: OutcomeToRender): RenderedResponse {
  // XML-RPC's rendering checks the depth itself; JSON.stringify would overflow the stack, or throw on a cycle.
  if (transport !== 'xml-rpc') checkDepth(outcome.ok ? outcome.output : (outcome.error as { body?: unknown } | null | undefined)?.body, 0);
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

function firstLine(thrown: unknown): string {
  const e = thrown as { name?: unknown; message?: unknown } | null;
  const text = e !== null && typeof e === 'object' && typeof e.message === 'string' ? `${String(e.name ?? 'Error')}: ${e.message}` : String(thrown);
  return text.split('\n')[0];
}

/** The objects on the path checkDepth walks, by depth: looked at only to tell a cycle from mere depth. */
const ancestors: unknown[] = [];

/** Throws ResponseNotRenderableError for a value nested deeper than MAX_OUTPUT_DEPTH (a circular one is). One walk, no allocation. */
function checkDepth(value: unknown, depth: number): void {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return;
  if (depth >= MAX_OUTPUT_DEPTH) {
    const circular = ancestors.slice(0, depth).includes(value);
    ancestors.length = 0;
    throw new ResponseNotRenderableError(circular ? 'its value is circular' : `its value nests deeper than ${MAX_OUTPUT_DEPTH} levels`);
  }
  ancestors[depth] = value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      if (v !== null && typeof v === 'object') checkDepth(v, depth + 1);
    }
  } else {
    const object = value as Record<string, unknown>;
    for (const key in object) {
      if (!Object.hasOwn(object, key)) continue; // JSON.stringify takes own properties only
      const v = object[key];
      if (v !== null && typeof v === 'object') checkDepth(v, depth + 1);
    }
  }
  if (depth === 0) ancestors.length = 0;
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

// Rendered by hand, not by fast-xml-parser's XMLBuilder: the builder recurses
// about six frames per level of value (two per element) and overflowed the
// stack past ~530 levels, and limits itself to 100 elements (~32 levels) by
// default. This gives the same bytes (test/runtime/xml-render.test.ts checks
// it against the builder) with one frame per level.

/** A <methodResponse> holding one value. */
export function methodResponse(value: unknown): string {
  return `<?xml version="1.0"?><methodResponse><params><param><value>${xmlRpcValue(value)}</value></param></params></methodResponse>`;
}

export function fault(code: number, message: string): string {
  return `<?xml version="1.0"?><methodResponse><fault><value>${xmlRpcValue({ faultCode: code, faultString: message })}</value></fault></methodResponse>`;
}

/** Text content, escaped as the builder does (all five predefined entities). */
function xmlText(text: string): string {
  return /[&<>'"]/.test(text) ? text.replace(/&/g, '&amp;').replace(/>/g, '&gt;').replace(/</g, '&lt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;') : text;
}

/** A number's text, keeping the sign of -0 as the builder does. */
function numberText(n: number): string {
  return Object.is(n, -0) ? '-0' : String(n);
}

/**
 * A JavaScript value as the content of an XML-RPC <value> (its type
 * element). Throws ResponseNotRenderableError for a value nested deeper than
 * MAX_OUTPUT_DEPTH (a circular one is).
 */
export function xmlRpcValue(value: unknown, depth = 0, seen: unknown[] = []): string {
  if (value === null || value === undefined) return '<nil></nil>';
  switch (typeof value) {
    case 'boolean':
      return value ? '<boolean>1</boolean>' : '<boolean>0</boolean>';
    case 'number':
      return Number.isInteger(value) && Math.abs(value) < 2 ** 31 ? `<int>${numberText(value)}</int>` : `<double>${numberText(value)}</double>`;
    case 'bigint':
      return `<i8>${value.toString()}</i8>`;
    case 'string':
      return `<string>${xmlText(value)}</string>`;
    case 'object':
      break;
    default:
      return `<string>${xmlText(String(value))}</string>`;
  }
  if (value instanceof Date || Object.prototype.toString.call(value) === '[object Date]') {
    return `<dateTime.iso8601>${(value as Date).toISOString().replace(/\.\d{3}Z$/, '').replace(/-/g, '')}</dateTime.iso8601>`;
  }
  if (ArrayBuffer.isView(value)) return `<base64>${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')}</base64>`;
  if (depth >= MAX_OUTPUT_DEPTH) {
    throw new ResponseNotRenderableError(seen.slice(0, depth).includes(value) ? 'its value is circular' : `its value nests deeper than ${MAX_OUTPUT_DEPTH} levels`);
  }
  seen[depth] = value;
  let out: string;
  if (Array.isArray(value)) {
    out = '<array><data>';
    for (let i = 0; i < value.length; i++) {
      if (i in value) out += `<value>${xmlRpcValue(value[i], depth + 1, seen)}</value>`; // a hole is left out, as the builder did
    }
    out += '</data></array>';
  } else {
    out = '<struct>';
    for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
      if (v !== undefined) out += `<member><name>${xmlText(name)}</name><value>${xmlRpcValue(v, depth + 1, seen)}</value></member>`;
    }
    out += '</struct>';
  }
  return out;
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

/**
 * The deepest element nesting a methodCall needs for an input the server
 * accepts (MAX_INPUT_DEPTH levels, like a JSON body): <methodCall>, <params>,
 * <param> and <value> hold the first parameter's type element at depth 5,
 * and each level of <array> or <struct> adds three (<data>/<member>, <value>,
 * the type), so a container at the deepest level accepted, 511, has its type
 * element at 3 * 511 + 2 and its scalar members theirs at 3 * 512 + 2.
 * A deeper document cannot hold an acceptable input; it is refused before it
 * is parsed, by a scan that does not recurse (the parser's conversion of its
 * tree to objects does, once per element).
 */
export const MAX_XML_DEPTH = 3 * MAX_INPUT_DEPTH + 2;

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  // A backstop only (fast-xml-parser >= 5.3.8 has it; its default, 100, would refuse inputs past ~32 levels): xmlDepthRefusal runs first.
  maxNestedTags: MAX_XML_DEPTH + 1,
  isArray: (name) => name === 'param' || name === 'member' || name === 'value',
});

/**
 * Why `text` is refused before parsing: its elements nest deeper than
 * MAX_XML_DEPTH (naming the offset of the first element too deep), or null.
 * One pass, no recursion, no allocation: comments, CDATA sections,
 * processing instructions and declarations are skipped, quoted attribute
 * values may hold `>`, and an empty-element tag (`<nil/>`) does not nest.
 * Anything malformed is left for the parser to report.
 */
export function xmlDepthRefusal(text: string): string | null {
  let depth = 0;
  let i = text.indexOf('<');
  const n = text.length;
  while (i !== -1 && i < n - 1) {
    const next = text.charCodeAt(i + 1);
    let end: number;
    if (next === 0x2f /* / */) {
      depth--;
      end = text.indexOf('>', i + 2);
    } else if (next === 0x3f /* ? */) {
      end = text.indexOf('?>', i + 2);
      if (end !== -1) end++;
    } else if (next === 0x21 /* ! */) {
      if (text.startsWith('<!--', i)) {
        end = text.indexOf('-->', i + 4);
        if (end !== -1) end += 2;
      } else if (text.startsWith('<![CDATA[', i)) {
        end = text.indexOf(']]>', i + 9);
        if (end !== -1) end += 2;
      } else end = text.indexOf('>', i + 2); // <!DOCTYPE ...>, <!ENTITY ...>: never an element
    } else {
      // A start tag: find its '>' outside quoted attribute values.
      let j = i + 1;
      let quote = 0;
      for (; j < n; j++) {
        const c = text.charCodeAt(j);
        if (quote !== 0) {
          if (c === quote) quote = 0;
        } else if (c === 0x22 || c === 0x27) quote = c;
        else if (c === 0x3e /* > */) break;
      }
      end = j < n ? j : -1;
      if (end === -1 || text.charCodeAt(end - 1) !== 0x2f /* / */) {
        depth++;
        if (depth > MAX_XML_DEPTH) {
          return `XML elements nested deeper than ${MAX_XML_DEPTH} (at offset ${i}): an XML-RPC value may nest at most ${MAX_INPUT_DEPTH} levels`;
        }
      }
    }
    if (end === -1) return null; // unterminated: the parser says so
    i = text.indexOf('<', end + 1);
  }
  return null;
}

/** The parser's message, on one line and short: its "Invalid '[...]' found" lists every unclosed element. */
function parserMessage(error: unknown): string {
  const message = String((error as Error)?.message ?? error).replace(/\s+/g, ' ');
  const unclosed = /^Invalid '(\[.*\])' found\.(:\d+:\d+)?$/.exec(message);
  if (unclosed) {
    try {
      const tags = JSON.parse(unclosed[1]) as string[];
      return `${tags.length} elements are not closed (the innermost is <${tags[tags.length - 1]}>)`;
    } catch {
      // fall through to the cut below
    }
  }
  return message.length > 300 ? `${message.slice(0, 300)}...` : message;
}

/** Parse a <methodCall>: its method name and parameters. */
export function parseMethodCall(text: string): { method: string; params: unknown[] } {
  const tooDeep = xmlDepthRefusal(text);
  if (tooDeep !== null) throw new XmlRpcParseError(`request not accepted: ${tooDeep}`);
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(text, true) as Record<string, unknown>;
  } catch (error) {
    throw new XmlRpcParseError(`malformed XML: ${parserMessage(error)}`);
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
