// A minimal MessagePack cursor for the catalog's hot path: it reads the few
// leading fields of a payload array (docs/journal-format.md, section 7) and
// skips the rest without building objects. Anything it does not expect makes
// it throw FieldError; the indexer then falls back to the full codec, which
// either decodes the record or reports it as malformed.

export class FieldError extends Error {}

export class FieldReader {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private end = 0;

  /** Point at a payload; returns the number of array elements it holds. */
  reset(payload: Buffer): number {
    this.buf = payload;
    this.pos = 0;
    this.end = payload.length;
    return this.arrayHeader();
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw new FieldError('payload ends early');
  }

  private arrayHeader(): number {
    this.need(1);
    const b = this.buf[this.pos++];
    if (b >= 0x90 && b <= 0x9f) return b & 0x0f;
    if (b === 0xdc) {
      this.need(2);
      const n = this.buf.readUInt16BE(this.pos);
      this.pos += 2;
      return n;
    }
    if (b === 0xdd) {
      this.need(4);
      const n = this.buf.readUInt32BE(this.pos);
      this.pos += 4;
      return n;
    }
    throw new FieldError('payload is not an array');
  }

  isNil(): boolean {
    this.need(1);
    return this.buf[this.pos] === 0xc0;
  }

  /** Any MessagePack number (int of any width, float 32/64) as a JS number. */
  number(): number {
    this.need(1);
    const buf = this.buf;
    const b = buf[this.pos++];
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    let v: number;
    switch (b) {
      case 0xcc:
        this.need(1);
        v = buf[this.pos];
        this.pos += 1;
        return v;
      case 0xcd:
        this.need(2);
        v = buf.readUInt16BE(this.pos);
        this.pos += 2;
        return v;
      case 0xce:
        this.need(4);
        v = buf.readUInt32BE(this.pos);
        this.pos += 4;
        return v;
      case 0xcf:
        this.need(8);
        v = Number(buf.readBigUInt64BE(this.pos));
        this.pos += 8;
        return v;
      case 0xd0:
        this.need(1);
        v = buf.readInt8(this.pos);
        this.pos += 1;
        return v;
      case 0xd1:
        this.need(2);
        v = buf.readInt16BE(this.pos);
        this.pos += 2;
        return v;
      case 0xd2:
        this.need(4);
        v = buf.readInt32BE(this.pos);
        this.pos += 4;
        return v;
      case 0xd3:
        this.need(8);
        v = Number(buf.readBigInt64BE(this.pos));
        this.pos += 8;
        return v;
      case 0xca:
        this.need(4);
        v = buf.readFloatBE(this.pos);
        this.pos += 4;
        return v;
      case 0xcb:
        this.need(8);
        v = buf.readDoubleBE(this.pos);
        this.pos += 8;
        return v;
      default:
        throw new FieldError(`expected a number, found byte 0x${b.toString(16)}`);
    }
  }

  numberOrNil(): number | null {
    if (this.isNil()) {
      this.pos++;
      return null;
    }
    return this.number();
  }

  str(): string {
    this.need(1);
    const buf = this.buf;
    const b = buf[this.pos++];
    let length: number;
    if (b >= 0xa0 && b <= 0xbf) length = b & 0x1f;
    else if (b === 0xd9) {
      this.need(1);
      length = buf[this.pos];
      this.pos += 1;
    } else if (b === 0xda) {
      this.need(2);
      length = buf.readUInt16BE(this.pos);
      this.pos += 2;
    } else if (b === 0xdb) {
      this.need(4);
      length = buf.readUInt32BE(this.pos);
      this.pos += 4;
    } else throw new FieldError(`expected a string, found byte 0x${b.toString(16)}`);
    this.need(length);
    const start = this.pos;
    this.pos += length;
    return buf.toString('utf8', start, start + length);
  }

  strOrNil(): string | null {
    if (this.isNil()) {
      this.pos++;
      return null;
    }
    return this.str();
  }

  /** Pass over one value of any type (without decoding it). */
  pass(): void {
    let pending = 1;
    const buf = this.buf;
    while (pending > 0) {
      pending--;
      this.need(1);
      const b = buf[this.pos++];
      if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) continue;
      if (b >= 0x80 && b <= 0x8f) {
        pending += 2 * (b & 0x0f);
        continue;
      }
      if (b >= 0x90 && b <= 0x9f) {
        pending += b & 0x0f;
        continue;
      }
      if (b >= 0xa0 && b <= 0xbf) {
        this.advance(b & 0x1f);
        continue;
      }
      switch (b) {
        case 0xc4: // bin 8
        case 0xd9: // str 8
          this.need(1);
          this.advance(1 + buf[this.pos]);
          break;
        case 0xc5:
        case 0xda:
          this.need(2);
          this.advance(2 + buf.readUInt16BE(this.pos));
          break;
        case 0xc6:
        case 0xdb:
          this.need(4);
          this.advance(4 + buf.readUInt32BE(this.pos));
          break;
        case 0xc7: // ext 8
          this.need(1);
          this.advance(2 + buf[this.pos]);
          break;
        case 0xc8:
          this.need(2);
          this.advance(3 + buf.readUInt16BE(this.pos));
          break;
        case 0xc9:
          this.need(4);
          this.advance(5 + buf.readUInt32BE(this.pos));
          break;
        case 0xca:
        case 0xce:
        case 0xd2:
          this.advance(4);
          break;
        case 0xcb:
        case 0xcf:
        case 0xd3:
          this.advance(8);
          break;
        case 0xcc:
        case 0xd0:
          this.advance(1);
          break;
        case 0xcd:
        case 0xd1:
          this.advance(2);
          break;
        case 0xd4: // fixext 1..16: type byte plus data
          this.advance(2);
          break;
        case 0xd5:
          this.advance(3);
          break;
        case 0xd6:
          this.advance(5);
          break;
        case 0xd7:
          this.advance(9);
          break;
        case 0xd8:
          this.advance(17);
          break;
        case 0xdc:
          this.need(2);
          pending += buf.readUInt16BE(this.pos);
          this.pos += 2;
          break;
        case 0xdd:
          this.need(4);
          pending += buf.readUInt32BE(this.pos);
          this.pos += 4;
          break;
        case 0xde:
          this.need(2);
          pending += 2 * buf.readUInt16BE(this.pos);
          this.pos += 2;
          break;
        case 0xdf:
          this.need(4);
          pending += 2 * buf.readUInt32BE(this.pos);
          this.pos += 4;
          break;
        default:
          throw new FieldError(`invalid MessagePack byte 0x${b.toString(16)}`);
      }
    }
  }

  private advance(n: number): void {
    this.need(n);
    this.pos += n;
  }
}
