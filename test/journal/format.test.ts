import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { maskedCrc, openJournalWriter, unmask } from '../../src/journal/index.js';
import { tempDirs } from '../helpers/journal.js';

// The bytes on disk against docs/journal-format.md, section 12 (worked
// example) and the sections it cites. Everything expected here is derived
// from the spec with this file's own small code (CRC-32, mask, SHA-256 chain,
// little-endian fields); nothing is computed by the journal's code except the
// journal itself, which is built through the public writer.

const tmp = tempDirs();

/** CRC-32 (ISO-HDLC): reflected polynomial 0xEDB88320, init and final XOR 0xFFFFFFFF. Bit by bit, from the definition. */
function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** Section 5: masked = ((crc >>> 15) | (crc << 17)) + 0xA282EAD8 (mod 2^32). */
function mask(crc: number): number {
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

const u32 = (n: number): string => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b.toString('hex');
};
const u64 = (n: number | bigint): string => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b.toString('hex');
};
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const ascii = (s: string): string => Buffer.from(s, 'ascii').toString('hex');

const HEADER = 96;
const NOW = 1_700_000_000_123;

/** A frame as section 4 lays it out, parsed by this file. */
interface RawFrame {
  fileOffset: number;
  crc: number;
  length: number;
  type: number;
  payload: Buffer;
  /** Bytes 4 to the end of the payload: what the checksum covers. */
  covered: Buffer;
  /** The whole frame as stored. */
  bytes: Buffer;
}

function parseFrames(file: Buffer): RawFrame[] {
  const frames: RawFrame[] = [];
  for (let at = HEADER; at < file.length; ) {
    const length = file.readUInt32LE(at + 4);
    const bytes = file.subarray(at, at + 9 + length);
    frames.push({ fileOffset: at, crc: file.readUInt32LE(at), length, type: file[at + 8], payload: bytes.subarray(9), covered: bytes.subarray(4), bytes });
    at += 9 + length;
  }
  return frames;
}

/** Section 12: the duplicate-request record of the example, `at` chosen so its float 64 starts 42 79 d4 56. */
const EXAMPLE_AT = 1774985412608; // 0x4279d45600000000 as float 64
const EXAMPLE_PAYLOAD =
  '94' + // fixarray of 4
  'cb4279d45600000000' + // at: float 64 (not a 32-bit integer)
  '07' + // originalSession 7: positive fixint
  'a36b6579' + // "key": fixstr 3
  'a92f7472616e73666572'; // "/transfer": fixstr 9
/** A second and third record, at = 1 (fixint), sessions 8 and 9. */
const SECOND_PAYLOAD = '94' + '01' + '08' + 'a26b32' + 'a22f72'; // [1, 8, "k2", "/r"]
const THIRD_PAYLOAD = '94' + '01' + '09' + 'a26b33' + 'a22f72'; // [1, 9, "k3", "/r"]

describe('journal format version 1, byte by byte', () => {
  let dir: string;
  let seg1: Buffer;
  let seg2: Buffer;
  let positions: number[];

  beforeAll(async () => {
    dir = tmp('format');
    // Small segments: the second batch takes segment 1 past 300 bytes, so the third opens segment 2.
    const { writer } = await openJournalWriter(dir, { durability: 'batch', segmentBytes: 300, now: () => NOW });
    positions = [];
    positions.push(writer.append({ kind: 'duplicate-request', at: EXAMPLE_AT, originalSession: 7, idempotencyKey: 'key', route: '/transfer' }).position);
    await writer.flush();
    positions.push(writer.append({ kind: 'duplicate-request', at: 1, originalSession: 8, idempotencyKey: 'k2', route: '/r' }).position);
    await writer.flush();
    positions.push(writer.append({ kind: 'duplicate-request', at: 1, originalSession: 9, idempotencyKey: 'k3', route: '/r' }).position);
    await writer.close();
    const names = fs.readdirSync(dir).sort();
    expect(names).toEqual(['00000001.wbj', '00000002.wbj']);
    seg1 = fs.readFileSync(path.join(dir, names[0]));
    seg2 = fs.readFileSync(path.join(dir, names[1]));
  });

  it('the checksum is CRC-32 as zlib computes it: 123456789 gives 0xCBF43926, stored masked', () => {
    const check = Buffer.from('123456789', 'ascii');
    expect(crc32(check)).toBe(0xcbf43926);
    expect(unmask(maskedCrc(check))).toBe(0xcbf43926);
    expect(maskedCrc(check)).toBe(mask(0xcbf43926));
    expect(maskedCrc(new Uint8Array(0))).toBe(mask(0));
    const some = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7919) & 0xff));
    for (let n = 0; n <= some.length; n += 37) expect(maskedCrc(some.subarray(0, n))).toBe(mask(crc32(some.subarray(0, n))));
  });

  it('segment 1 starts with the 96-byte header of section 3', () => {
    const h = seg1.subarray(0, HEADER);
    expect(hex(h.subarray(0, 8))).toBe(ascii('WNDBKJNL')); // 57 4e 44 42 4b 4a 4e 4c
    expect(hex(h.subarray(8, 10))).toBe('0100'); // format version 1
    expect(hex(h.subarray(10, 12))).toBe('6000'); // header size 96
    expect(hex(h.subarray(12, 16))).toBe('01000000'); // segment 1
    expect(hex(h.subarray(16, 24))).toBe(u64(0)); // base offset 0
    expect(hex(h.subarray(24, 32))).toBe(u64(1)); // next batch seq 1
    expect(hex(h.subarray(32, 64))).toBe('00'.repeat(32)); // chain head at start: zero
    expect(hex(h.subarray(64, 80))).not.toBe('00'.repeat(16)); // journal id: 16 random bytes
    expect(hex(h.subarray(80, 88))).toBe(u64(NOW)); // created at
    expect(hex(h.subarray(88, 92))).toBe('00000000'); // reserved
    expect(hex(h.subarray(92, 96))).toBe(u32(mask(crc32(h.subarray(0, 92))))); // masked CRC of bytes 0..91
  });

  it('position 0, at file offset 96, is the duplicate-request record of the worked example', () => {
    expect(positions[0]).toBe(0);
    const L = EXAMPLE_PAYLOAD.length / 2;
    expect(L).toBe(25);
    const frame = seg1.subarray(HEADER, HEADER + 9 + L);
    expect(hex(frame.subarray(4, 8))).toBe(u32(L)); // payload length
    expect(hex(frame.subarray(8, 9))).toBe('0b'); // type 11, duplicate-request
    expect(hex(frame.subarray(9))).toBe(EXAMPLE_PAYLOAD);
    expect(hex(frame.subarray(0, 4))).toBe(u32(mask(crc32(frame.subarray(4))))); // covers length, type, payload
  });

  it('the first batch commit follows at position 9+L with the fields of section 6', () => {
    const frames = parseFrames(seg1);
    const [record, commit] = frames;
    expect(commit.fileOffset).toBe(HEADER + record.bytes.length);
    expect(hex(commit.bytes.subarray(4, 9))).toBe('580000000f'); // length 88, type 15
    expect(commit.crc).toBe(mask(crc32(commit.covered)));
    const p = commit.payload;
    expect(hex(p.subarray(0, 8))).toBe(u64(1)); // seq 1
    expect(hex(p.subarray(8, 12))).toBe(u32(1)); // records: 1
    expect(hex(p.subarray(12, 16))).toBe(u32(9 + 25)); // bytes: 9 + L
    expect(hex(p.subarray(16, 24))).toBe(u64(NOW)); // at
    expect(hex(p.subarray(24, 56))).toBe('00'.repeat(32)); // prevHead: the segment header's (zero) chain head
    const head = createHash('sha256').update(Buffer.alloc(32)).update(Buffer.from(u64(1), 'hex')).update(record.bytes).digest();
    expect(hex(p.subarray(56, 88))).toBe(hex(head)); // head = SHA-256(prevHead || seq u64 LE || record bytes)
  });

  it('every frame of every segment is intact, batches chain their heads, and positions count record bytes only', () => {
    let prevHead = Buffer.alloc(32);
    let seq = 0;
    let position = 0;
    const recordPositions: number[] = [];
    const payloads: string[] = [];
    for (const [n, file] of [seg1, seg2].entries()) {
      const h = file.subarray(0, HEADER);
      expect(h.readUInt32LE(12)).toBe(n + 1);
      expect(Number(h.readBigUInt64LE(16))).toBe(position); // base offset: the position of its first record
      expect(Number(h.readBigUInt64LE(24))).toBe(seq + 1); // next batch seq
      expect(hex(h.subarray(32, 64))).toBe(hex(prevHead)); // chain head at start
      expect(hex(h.subarray(64, 80))).toBe(hex(seg1.subarray(64, 80))); // the same journal id
      expect(h.readUInt32LE(92)).toBe(mask(crc32(h.subarray(0, 92))));
      let batch: Buffer[] = [];
      for (const frame of parseFrames(file)) {
        expect(frame.crc).toBe(mask(crc32(frame.covered)));
        if (frame.type !== 15) {
          recordPositions.push(position);
          payloads.push(hex(frame.payload));
          batch.push(frame.bytes);
        } else {
          const p = frame.payload;
          const bytes = Buffer.concat(batch);
          expect(Number(p.readBigUInt64LE(0))).toBe(++seq);
          expect(p.readUInt32LE(8)).toBe(batch.length);
          expect(p.readUInt32LE(12)).toBe(bytes.length);
          expect(hex(p.subarray(24, 56))).toBe(hex(prevHead));
          const head = createHash('sha256').update(prevHead).update(Buffer.from(u64(seq), 'hex')).update(bytes).digest();
          expect(hex(p.subarray(56, 88))).toBe(hex(head));
          prevHead = head;
          batch = [];
        }
        position += frame.bytes.length;
      }
      expect(batch).toEqual([]); // a segment ends with a batch commit
    }
    expect(seq).toBe(3);
    expect(recordPositions).toEqual(positions);
    expect(payloads).toEqual([EXAMPLE_PAYLOAD, SECOND_PAYLOAD, THIRD_PAYLOAD]);
  });

  it('segment files are created with mode 0600', () => {
    for (const name of ['00000001.wbj', '00000002.wbj']) expect(fs.statSync(path.join(dir, name)).mode & 0o777).toBe(0o600);
  });
});
