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
  return mask(crc32(data));
}
