export * from './constants.js';
export { maskedCrc, mask, unmask } from './checksum.js';
export { encodePayload, decodePayload, packValue, unpackValue } from './codec.js';
export { nodeFileLayer, type FileLayer, type JournalFile } from './file-layer.js';
export { readLayout, segmentIndexOf, type JournalLayout, type SegmentInfo } from './layout.js';
export { FrameScanner, batchHead, type Frame, type Damage, type ScanResult, type ScanOptions } from './scanner.js';
export { JournalReader, corruptionError, decodeFrame, type PositionedRecord, type ReadOptions } from './reader.js';
export { JournalWriter, type Appended, type WriterStats } from './writer.js';
export { openJournalWriter, cutTail, type OpenWriterOptions, type OpenedWriter, type Recovery } from './open.js';
