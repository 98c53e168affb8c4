import fc from 'fast-check';
import { XMLBuilder } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { fault, methodResponse } from '../../src/executor/transports.js';

// XML-RPC responses are rendered by hand (src/executor/transports.ts), no
// longer by fast-xml-parser's XMLBuilder, whose recursion overflowed the stack
// for values nested ~530 levels deep. Replay compares a replayed response
// with the journaled bytes, so the hand-written rendering must give exactly
// the bytes the builder gave for every value: this is the builder, configured
// and fed as the server used to, as the oracle.

const builder = new XMLBuilder({ ignoreAttributes: false, format: false, suppressEmptyNode: false, maxNestedTags: 10_000 });

function toXmlRpc(value: unknown): Record<string, unknown> {
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
  if (value instanceof Date) return { 'dateTime.iso8601': value.toISOString().replace(/\.\d{3}Z$/, '').replace(/-/g, '') };
  if (ArrayBuffer.isView(value)) return { base64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (Array.isArray(value)) return { array: { data: { value: value.map(toXmlRpc) } } };
  const member = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .map(([name, v]) => ({ name, value: toXmlRpc(v) }));
  return { struct: { member } };
}

const byBuilder = (value: unknown): string => `<?xml version="1.0"?>${builder.build({ methodResponse: { params: { param: { value: toXmlRpc(value) } } } })}`;
const faultByBuilder = (code: number, message: string): string =>
  `<?xml version="1.0"?>${builder.build({ methodResponse: { fault: { value: toXmlRpc({ faultCode: code, faultString: message }) } } })}`;

/** Text with the characters XML escapes, and names the builder might treat specially (`@_x`, `#text`, `?xml`). */
const tricky = fc.oneof(
  fc.string(),
  fc.string({ unit: fc.constantFrom('&', '<', '>', "'", '"', 'a', ' ', ']]>', '@_', '#text', '?xml', '-0') }),
  fc.constantFrom('', '@_id', '#text', '?xml', '__proto__', 'value', 'member'),
);

const value = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.constant(undefined),
    fc.boolean(),
    fc.integer(),
    fc.double(),
    fc.constantFrom(-0, 2 ** 31, -(2 ** 31), 1e21, 0.1),
    fc.bigInt(),
    tricky,
    fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }),
    fc.uint8Array({ maxLength: 12 }),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.sparseArray(tie('v'), { maxLength: 4 }),
    fc.dictionary(tricky, tie('v'), { maxKeys: 4, noNullPrototype: true }),
  ),
})).v;

describe('XML-RPC rendering', () => {
  it('gives the bytes XMLBuilder gave, for any value', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(methodResponse(v)).toBe(byBuilder(v));
      }),
      { numRuns: 2000 },
    );
  });

  it('gives the bytes XMLBuilder gave for a fault', () => {
    fc.assert(
      fc.property(fc.integer(), tricky, (code, message) => {
        expect(fault(code, message)).toBe(faultByBuilder(code, message));
      }),
    );
  });

  it('renders a value nested 1,024 levels deep (the builder overflowed the stack past ~530)', () => {
    let v: unknown = 1;
    for (let i = 0; i < 1024; i++) v = i % 2 ? [v] : { a: v };
    expect(methodResponse(v)).toMatch(/^<\?xml version="1.0"\?><methodResponse><params><param><value><array><data><value><struct>/);
  });
});
