import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FieldError, FieldReader } from '../../src/catalog/fields.js';
import { packValue } from '../../src/journal/index.js';

// The catalog's MessagePack cursor reads leading fields and skips the rest;
// it must agree with the codec on every value the codec writes.

type Item = { t: 'num'; v: number | bigint } | { t: 'str'; v: string } | { t: 'nil' } | { t: 'any'; v: unknown };

const anyValue: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.integer(),
    fc.double({ noNaN: true }),
    fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
    fc.string({ maxLength: 300 }),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.uint8Array({ maxLength: 300 }),
    fc.date({ noInvalidDate: true }),
    fc.array(tie('v'), { maxLength: 20 }),
    fc.dictionary(fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__'), tie('v'), { maxKeys: 20 }),
  ),
})).v;

const item: fc.Arbitrary<Item> = fc.oneof(
  fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n })).map((v) => ({ t: 'num' as const, v })),
  fc.string({ maxLength: 70000, size: 'small' }).map((v) => ({ t: 'str' as const, v })),
  fc.constant({ t: 'nil' as const }),
  anyValue.map((v) => ({ t: 'any' as const, v })),
);

describe('FieldReader', () => {
  it('reads numbers, strings and nil, and skips anything, as the codec wrote them', () => {
    fc.assert(
      fc.property(fc.array(item, { maxLength: 40 }), (items) => {
        const values = [...items.map((i) => (i.t === 'num' || i.t === 'str' || i.t === 'any' ? i.v : null)), 'END'];
        const r = new FieldReader();
        expect(r.reset(Buffer.from(packValue(values)))).toBe(values.length);
        for (const i of items) {
          // The codec stores -0 as 0 (docs/journal-format.md, section 7).
          if (i.t === 'num') expect(r.number()).toBe(Object.is(i.v, -0) ? 0 : Number(i.v));
          else if (i.t === 'str') expect(r.str()).toBe(i.v);
          else if (i.t === 'nil') expect(r.numberOrNil()).toBeNull();
          else r.pass();
        }
        expect(r.str()).toBe('END');
      }),
      { numRuns: 300 },
    );
  });

  it('covers every width of strings and integers', () => {
    const strings = [0, 31, 32, 255, 256, 65535, 65536].map((n) => 'é'.repeat(Math.floor(n / 2)) + 'x'.repeat(n % 2));
    const numbers = [0, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 53) + 1, 0.5, -1e300];
    const bigints = [2n ** 63n, 2n ** 64n - 1n, -(2n ** 63n)];
    const r = new FieldReader();
    r.reset(Buffer.from(packValue([...strings, ...numbers, ...bigints, [strings, { s: strings }], 'END'])));
    for (const s of strings) expect(r.str()).toBe(s);
    for (const n of numbers) expect(r.number()).toBe(n);
    for (const b of bigints) expect(r.number()).toBe(Number(b));
    r.pass();
    expect(r.str()).toBe('END');
  });

  it('throws FieldError on what it does not expect, never reads past the end', () => {
    const r = new FieldReader();
    expect(() => r.reset(Buffer.from(packValue({ a: 1 })))).toThrow(FieldError);
    r.reset(Buffer.from(packValue(['x', 1])));
    expect(() => r.number()).toThrow(FieldError);
    fc.assert(
      fc.property(fc.array(anyValue, { maxLength: 6 }), fc.nat(), (values, cut) => {
        const bytes = Buffer.from(packValue(values));
        const short = bytes.subarray(0, cut % Math.max(1, bytes.length));
        const reader = new FieldReader();
        try {
          const n = reader.reset(short);
          for (let i = 0; i < n; i++) reader.pass();
        } catch (error) {
          expect(error).toBeInstanceOf(FieldError);
        }
      }),
    );
  });
});
