import { FORMAT_VERSION, H, HEADER_SIZE, HEAD_SIZE, MAGIC } from './constants.js';
import { maskedCrc } from './checksum.js';

// The 96-byte segment header (docs/journal-format.md, section 3).

export interface SegmentHeader {
  segment: number;
  baseOffset: number;
  nextBatchSeq: number;
  chainHead: Buffer;
  journalId: Buffer;
  createdAt: number;
}

export function encodeSegmentHeader(header: SegmentHeader): Buffer {
  const out = Buffer.alloc(HEADER_SIZE);
  MAGIC.copy(out, H.magic);
  out.writeUInt16LE(FORMAT_VERSION, H.version);
  out.writeUInt16LE(HEADER_SIZE, H.headerSize);
  out.writeUInt32LE(header.segment, H.segment);
  out.writeBigUInt64LE(BigInt(header.baseOffset), H.baseOffset);
  out.writeBigUInt64LE(BigInt(header.nextBatchSeq), H.nextBatchSeq);
  header.chainHead.copy(out, H.chainHead, 0, HEAD_SIZE);
  header.journalId.copy(out, H.journalId, 0, 16);
  out.writeBigUInt64LE(BigInt(header.createdAt), H.createdAt);
  out.writeUInt32LE(maskedCrc(out.subarray(0, H.checksum)), H.checksum);
  return out;
}

/** Decode a header, or return the reason it is not a valid version-1 header. */
export function decodeSegmentHeader(bytes: Buffer): SegmentHeader | string {
  if (bytes.byteLength < HEADER_SIZE) return `segment header is ${bytes.byteLength} bytes, expected ${HEADER_SIZE}`;
  if (!bytes.subarray(H.magic, H.magic + MAGIC.length).equals(MAGIC)) return 'not a Windback journal segment (bad magic)';
  const version = bytes.readUInt16LE(H.version);
  if (bytes.readUInt32LE(H.checksum) !== maskedCrc(bytes.subarray(0, H.checksum))) return 'segment header checksum mismatch';
  if (version !== FORMAT_VERSION) return `unsupported journal format version ${version} (this reader knows ${FORMAT_VERSION})`;
  if (bytes.readUInt16LE(H.headerSize) !== HEADER_SIZE) return 'unexpected segment header size';
  return {
    segment: bytes.readUInt32LE(H.segment),
    baseOffset: Number(bytes.readBigUInt64LE(H.baseOffset)),
    nextBatchSeq: Number(bytes.readBigUInt64LE(H.nextBatchSeq)),
    chainHead: Buffer.from(bytes.subarray(H.chainHead, H.chainHead + HEAD_SIZE)),
    journalId: Buffer.from(bytes.subarray(H.journalId, H.journalId + 16)),
    createdAt: Number(bytes.readBigUInt64LE(H.createdAt)),
  };
}
