import { JournalReader, nodeFileLayer, type FileLayer, type JournalFile } from '../journal/index.js';

// A journal reader for replaying many sessions: JournalReader opens and
// closes a segment file for every record it reads at a position (two reads
// each), and a session is some fifteen records, near those of the sessions
// replayed just before. This one keeps each segment open until close(), and
// reads it in blocks of 64 KiB, keeping the last few. A segment changes only
// past its data: it grows, or a writer fills the zeros preallocated at its
// end (docs/journal-format.md, "Preallocated space"). So a kept block is
// trusted only up to its last non-zero byte: a read past that (or past a
// block read short at the end of a segment) reads the block again.

export interface KeptOpenReader {
  reader: JournalReader;
  close(): void;
}

export function openKeptOpenReader(dir: string): KeptOpenReader {
  const files = new Map<string, { file: JournalFile; blocks: BlockReader }>();
  const layer: FileLayer = {
    ...nodeFileLayer,
    open(file, mode) {
      if (mode !== 'read') return nodeFileLayer.open(file, mode);
      let entry = files.get(file);
      if (entry === undefined) {
        const opened = nodeFileLayer.open(file, 'read');
        entry = { file: opened, blocks: blockReader(opened) };
        files.set(file, entry);
      }
      const { file: opened, blocks } = entry;
      return {
        path: opened.path,
        read: (into, offset, length, position) => blocks.read(into, offset, length, position),
        size: () => opened.size(),
        write: () => {
          throw new Error(`${opened.path} is open for reading`);
        },
        datasync: () => Promise.reject(new Error(`${opened.path} is open for reading`)),
        datasyncSync: () => {
          throw new Error(`${opened.path} is open for reading`);
        },
        truncate: () => {
          throw new Error(`${opened.path} is open for reading`);
        },
        // Stays open for the next read; close() below closes it.
        close: () => {},
      };
    },
  };
  return {
    reader: JournalReader.open(dir, layer),
    close() {
      for (const entry of files.values()) entry.file.close();
      files.clear();
    },
  };
}

const BLOCK = 64 * 1024;
const BLOCKS_KEPT = 32;

interface BlockReader {
  read(into: Uint8Array, offset: number, length: number, position: number): number;
}

interface KeptBlock {
  /** The bytes read (fewer than BLOCK at the end of the file). */
  bytes: Buffer;
  /** How many of them a later read may take from here: up to the last non-zero byte. */
  trusted: number;
}

function blockReader(file: JournalFile): BlockReader {
  // Block index -> what was read, least recently used first.
  const kept = new Map<number, KeptBlock>();
  const block = (index: number, need: number): Buffer => {
    let entry = kept.get(index);
    if (entry !== undefined && entry.trusted >= need) {
      kept.delete(index);
      kept.set(index, entry);
      return entry.bytes;
    }
    const buf = Buffer.allocUnsafe(BLOCK);
    const n = file.read(buf, 0, BLOCK, index * BLOCK);
    let trusted = n;
    while (trusted > 0 && buf[trusted - 1] === 0) trusted--;
    entry = { bytes: buf.subarray(0, n), trusted };
    kept.delete(index);
    kept.set(index, entry);
    if (kept.size > BLOCKS_KEPT) kept.delete(kept.keys().next().value!);
    return entry.bytes;
  };
  return {
    read(into, offset, length, position) {
      if (length > BLOCK) return file.read(into, offset, length, position);
      let done = 0;
      while (done < length) {
        const at = position + done;
        const index = Math.floor(at / BLOCK);
        const within = at - index * BLOCK;
        const want = Math.min(length - done, BLOCK - within);
        const bytes = block(index, within + want);
        const got = Math.max(0, Math.min(want, bytes.length - within));
        if (got > 0) into.set(bytes.subarray(within, within + got), offset + done);
        done += got;
        if (got < want) break; // the end of the file
      }
      return done;
    },
  };
}
