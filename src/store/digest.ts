import { createHash, hash, type Hash } from 'node:crypto';

// The read digest: SHA-256 over a canonical encoding of everything a
// transaction read through its TxDb (docs/store.md, "Read digest").
//
// Per statement execution, in execution order:
//   'Q' u32 len, SQL (UTF-8)      the statement text
//   u8 shape                      0 run, 1 rows as objects, 2 plucked, 3 raw arrays;
//                                 +0x10 when INTEGERs come back as bigint
//   u32 n, n x (u32 len, UTF-8)   result column names
//   'P' value                     the bound arguments, as an array value
//   then either 'R' value value   run(): changes, lastInsertRowid
//   or rows: 'r' value each       each row as returned (object rows as the
//                                 array of their values), then
//                                 'E' u32 count (all rows were returned) or
//                                 'X' u32 count (iteration stopped early)
//   or 'F' u32 len, code          the statement threw (SQLite error code, e.g.
//                                 SQLITE_CONSTRAINT_UNIQUE, or the error's name)
// Values carry a type tag, so 1 (a REAL or number), 1n (an INTEGER as bigint),
// '1' and x'01' all differ:
//   0x00 null | 0x01 f64 BE (number) | 0x02 u32 len, decimal (bigint)
//   0x03 u32 len, UTF-8 (string) | 0x04 u32 len, bytes (Uint8Array)
//   0x05 undefined | 0x06 false | 0x07 true
//   0x08 u32 n, n values (array) | 0x09 u32 n, n x (key string, value) sorted by key (object)
//   0x0a u32 len, UTF-8 of Object.prototype.toString (anything else)
// Integers are big-endian.

const FLUSH_AT = 32 * 1024;

export const SHAPE = { run: 0, object: 1, pluck: 2, raw: 3, safeIntegers: 0x10 } as const;

/** A buffer reused across transactions (one transaction at a time per owner). */
export class DigestScratch {
  buf: Buffer = Buffer.allocUnsafe(4096);
}

export class ReadDigest {
  /** Made only once the input outgrows the buffer (FLUSH_AT); most transactions hash it in one call at finish(). */
  private hash: Hash | null = null;
  private buf: Buffer;
  private n = 0;

  constructor(private readonly scratch: DigestScratch = new DigestScratch()) {
    this.buf = scratch.buf;
  }

  private ensure(bytes: number): void {
    if (this.n + bytes <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.n + bytes) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.n);
    this.buf = next;
    if (size <= 1 << 20) this.scratch.buf = next;
  }

  private u8(v: number): void {
    this.ensure(1);
    this.buf[this.n++] = v;
  }

  private u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.n);
    this.n += 4;
  }

  private text(s: string): void {
    const max = s.length * 3;
    this.ensure(4 + max);
    const written = this.buf.write(s, this.n + 4, 'utf8');
    this.buf.writeUInt32BE(written, this.n);
    this.n += 4 + written;
  }

  private bytes(b: Uint8Array): void {
    this.ensure(4 + b.byteLength);
    this.buf.writeUInt32BE(b.byteLength, this.n);
    this.buf.set(b, this.n + 4);
    this.n += 4 + b.byteLength;
  }

  /** Append precomputed bytes (a statement header). */
  raw(b: Uint8Array): void {
    this.ensure(b.byteLength);
    this.buf.set(b, this.n);
    this.n += b.byteLength;
  }

  value(v: unknown): void {
    switch (typeof v) {
      case 'number':
        this.ensure(9);
        this.buf[this.n] = 0x01;
        if (Number.isNaN(v)) {
          this.buf.writeUInt32BE(0x7ff80000, this.n + 1);
          this.buf.writeUInt32BE(0, this.n + 5);
        } else {
          this.buf.writeDoubleBE(v, this.n + 1);
        }
        this.n += 9;
        return;
      case 'string':
        this.u8(0x03);
        this.text(v);
        return;
      case 'bigint':
        this.u8(0x02);
        this.text(v.toString());
        return;
      case 'undefined':
        this.u8(0x05);
        return;
      case 'boolean':
        this.u8(v ? 0x07 : 0x06);
        return;
      case 'object':
        if (v === null) {
          this.u8(0x00);
          return;
        }
        if (v instanceof Uint8Array) {
          this.u8(0x04);
          this.bytes(v);
          return;
        }
        if (Array.isArray(v)) {
          this.array(v);
          return;
        }
        if (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null) {
          const keys = Object.keys(v).sort();
          this.u8(0x09);
          this.u32(keys.length);
          for (const key of keys) {
            this.text(key);
            this.value((v as Record<string, unknown>)[key]);
          }
          return;
        }
        break;
      default:
        break;
    }
    this.u8(0x0a);
    this.text(Object.prototype.toString.call(v));
  }

  array(values: readonly unknown[]): void {
    this.u8(0x08);
    this.u32(values.length);
    for (let i = 0; i < values.length; i++) this.value(values[i]);
  }

  params(args: readonly unknown[]): void {
    this.u8(0x50); // 'P'
    this.array(args);
  }

  runResult(changes: number, lastInsertRowid: number | bigint): void {
    this.u8(0x52); // 'R'
    this.value(changes);
    this.value(lastInsertRowid);
    this.maybeFlush();
  }

  row(row: unknown, shape: number): void {
    this.u8(0x72); // 'r'
    if ((shape & 0x0f) === SHAPE.object && row !== null && typeof row === 'object') this.array(Object.values(row));
    else this.value(row);
    this.maybeFlush();
  }

  /** The statement threw: what the caller saw is the error's code. */
  failure(code: string): void {
    this.u8(0x46); // 'F'
    this.text(code);
    this.maybeFlush();
  }

  end(count: number, complete: boolean): void {
    this.u8(complete ? 0x45 : 0x58); // 'E' or 'X'
    this.u32(count);
    this.maybeFlush();
  }

  private maybeFlush(): void {
    if (this.n >= FLUSH_AT) this.flush();
  }

  private flush(): void {
    if (this.n === 0 || this.result !== null) return;
    (this.hash ??= createHash('sha256')).update(this.buf.subarray(0, this.n));
    this.n = 0;
  }

  private result: Uint8Array | null = null;

  /** The digest; later calls return the same, and later input is ignored. */
  finish(): Uint8Array {
    if (this.result === null) {
      if (this.hash === null) {
        this.result = new Uint8Array(hash('sha256', this.buf.subarray(0, this.n), 'buffer'));
      } else {
        this.flush();
        this.result = new Uint8Array(this.hash.digest());
      }
    }
    this.n = 0;
    return this.result;
  }
}

/** The precomputed start of a statement's digest entry. */
export function statementHeader(sql: string, shape: number, columns: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0x51]), lenPrefixed(sql), Buffer.from([shape])];
  const count = Buffer.alloc(4);
  count.writeUInt32BE(columns.length);
  parts.push(count);
  for (const c of columns) parts.push(lenPrefixed(c));
  return Buffer.concat(parts);
}

function lenPrefixed(s: string): Buffer {
  const body = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}
