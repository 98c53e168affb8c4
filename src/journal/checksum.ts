import { crc32 } from 'node:zlib';

// CRC-32 (IEEE 802.3, as zlib computes it), masked as LevelDB does so that a
// checksum over bytes that contain checksums stays strong (format section 5).
const MASK_DELTA = 0xa282ead8;

export function mask(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

export function unmask(masked: number): number {
  const rot = (masked - MASK_DELTA) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
}

export function maskedCrc(data: Uint8Array): number {
  return mask(crc32Range(data, 0, data.byteLength));
}

/** The masked CRC of `data[start, end)`, without making a view of it. */
export function maskedCrcOf(data: Uint8Array, start: number, end: number): number {
  return mask(crc32Range(data, start, end));
}

// Each call into zlib's crc32 costs about 150 ns before it hashes a byte, more
// than hashing a small record takes in JavaScript. So short ranges (most
// journal records) use a slicing-by-8 table here and longer ones use zlib,
// which is several times faster per byte. Both compute the same CRC-32.
// See docs/benchmarks.md ("Journal") for the figures behind the threshold.
const JS_CRC_MAX_BYTES = 256;

const TABLES: Int32Array = (() => {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n];
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
})();

/** Standard CRC-32 of `data[start, end)`, equal to zlib's `crc32(data.subarray(start, end))`. */
export function crc32Range(data: Uint8Array, start: number, end: number): number {
  if (end - start > JS_CRC_MAX_BYTES) return crc32(data.subarray(start, end));
  const t = TABLES;
  let c = -1;
  let i = start;
  for (const end8 = end - 7; i < end8; i += 8) {
    const a = (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)) ^ c;
    c =
      t[1792 + (a & 0xff)] ^
      t[1536 + ((a >>> 8) & 0xff)] ^
      t[1280 + ((a >>> 16) & 0xff)] ^
      t[1024 + (a >>> 24)] ^
      t[768 + data[i + 4]] ^
      t[512 + data[i + 5]] ^
      t[256 + data[i + 6]] ^
      t[data[i + 7]];
  }
  for (; i < end; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
