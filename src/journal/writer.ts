import { hash } from 'node:crypto';
import * as path from 'node:path';
import { JournalFailedError } from '../model/errors.js';
import { KIND_OF_TYPE, type AppendableRecord, type Durability } from '../model/records.js';
import { maskedCrcOf } from './checksum.js';
import { packTransient, RecordTooLargeError, writeBatchCommit, writeU64 } from './codec.js';
import {
  BATCH_COMMIT_FRAME_SIZE,
  BATCH_COMMIT_PAYLOAD_SIZE,
  BATCH_COMMIT_TYPE,
  FRAME_HEADER_SIZE,
  HEADER_SIZE,
  MAX_PAYLOAD,
  segmentFileName,
} from './constants.js';
import type { FileLayer, JournalFile } from './file-layer.js';
import { ZEROS } from './preallocated.js';
import { encodeSegmentHeader } from './segment-header.js';

// Appends records in batches, ends each batch with a hash-chained commit, and
// acknowledges a record once its batch is durable under the chosen mode
// (docs/journal-format.md, sections 6 and 8). Fail-stop on any I/O error.
//
// Under `batch` and `always` the writer keeps zeros, written and synced, ahead
// of its write position in the last segment (preallocated space, format
// section 9): an fdatasync after overwriting allocated blocks flushes only
// data, while one after growing the file must also commit the new size.
// Under `batch` a group commit's fdatasync runs on the event loop when no
// other sync is in flight (inlineSync) and recent syncs were fast, on the
// thread pool otherwise: a slow disk must not stall the whole server.

export interface Appended {
  /** The record's position, known at once. */
  position: number;
  /** Resolves when the record is acknowledged; shared by its whole batch. */
  durable: Promise<void>;
}

export interface WriterStats {
  records: number;
  batches: number;
  bytes: number;
  syncs: number;
  /** Total and worst fdatasync latency, in nanoseconds. */
  syncNanos: number;
  maxSyncNanos: number;
  /** Of `syncs`, those run on the thread pool rather than the event loop. */
  threadPoolSyncs: number;
  /** Zeros written and synced ahead of the write position (preallocated space). */
  preallocatedBytes: number;
}

/** Where the writer resumes: the state after recovery (see open.ts). */
export interface WriterStart {
  dir: string;
  layer: FileLayer;
  durability: Durability;
  segmentBytes: number;
  maxBatchBytes: number;
  journalId: Buffer;
  segment: number;
  segmentFile: JournalFile;
  /** Bytes of journal data in the segment file, header included: where the next batch goes. */
  segmentSize: number;
  /** The file's size when it is longer than segmentSize: zeros, already synced, reused as preallocated space. */
  preallocatedEnd: number;
  /** Zeros written per preallocation step; 0 disables preallocation. */
  preallocateBytes: number;
  /** Start the next step when the write position comes this close to the end of the preallocated space. */
  preallocateAhead: number;
  /** Under `batch`, run a group commit's fdatasync on the event loop when no other sync is in flight. */
  inlineSync: boolean;
  /** ...but only while the recent fdatasyncs averaged at most this many microseconds. */
  inlineSyncLimitMicros: number;
  nextPosition: number;
  nextSeq: number;
  chainHead: Buffer;
  /** True when the segment file was just created and is not yet synced. */
  segmentDirty: boolean;
  now: () => number;
  onClose: () => void;
}

/**
 * The batch buffer starts with room for the batch head's hash prefix
 * (prevHead, 32 bytes, and seq as u64 LE), so that the head is one SHA-256
 * call over contiguous bytes: SHA-256(prevHead || seq || records) (format
 * section 6). Records start at this offset.
 */
const PREFIX = 40;

interface Ticket {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
}

function newTicket(): Ticket {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Callers that never await a batch must not crash the process on failure.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

interface SealedBatch {
  bytes: Buffer;
  ticket: Ticket;
  /** Chain state just after this batch: where a segment started after it begins. */
  after: ChainPoint;
}

interface ChainPoint {
  position: number;
  nextSeq: number;
  head: Buffer;
}

/** One preallocation step: zeros written over [from, to) of `file`, then synced. */
interface ZeroFill {
  file: JournalFile;
  /** Zeros are written up to here: batches may be written below it. */
  writtenTo: number;
  to: number;
  done: Promise<void>;
}

/** Preallocation steps end on page boundaries (when a step is that big), so that the next one starts on one. */
const PAGE = 4096;

/**
 * The preallocation step a writer uses: none under `none` (it never syncs),
 * and none in segments smaller than one step (there a segment's creation sync
 * costs more than preallocation saves).
 */
export function preallocationStep(durability: Durability, preallocateBytes: number, segmentBytes: number): number {
  return durability !== 'none' && preallocateBytes > 0 && segmentBytes >= preallocateBytes ? preallocateBytes : 0;
}

export class JournalWriter {
  readonly durability: Durability;
  readonly dir: string;
  readonly stats: WriterStats = { records: 0, batches: 0, bytes: 0, syncs: 0, syncNanos: 0, maxSyncNanos: 0, threadPoolSyncs: 0, preallocatedBytes: 0 };

  private readonly layer: FileLayer;
  private readonly segmentBytes: number;
  private readonly maxBatchBytes: number;
  private readonly journalId: Buffer;
  private readonly now: () => number;
  private readonly onClose: () => void;

  private segment: number;
  private file: JournalFile;
  /** Bytes of journal data in the segment file, header included; the file may be longer (preallocated space). */
  private dataSize: number;
  private nextPosition: number;
  private nextSeq: number;
  private head: Buffer;

  // The batch being filled.
  private batch: Buffer = Buffer.allocUnsafe(1 << 16);
  private batchLength = 0;
  private batchRecords = 0;
  private ticket: Ticket | null = null;
  private scheduled = false;

  // Written batches waiting for a sync (batch mode), and files/dir to sync.
  private awaitingSync: Ticket[] = [];
  private dirtyFiles = new Set<JournalFile>();
  private retiredFiles: JournalFile[] = [];
  private dirDirty = false;
  // Segments created and how many of those are durable (data and directory
  // entry synced). A new segment is started only once every earlier one is, so
  // a power loss leaves at most the last segment torn (format section 3).
  private segmentsCreated = 0;
  private segmentsDurable = 0;
  private syncing: Promise<void> | null = null;
  // Batches not yet written (always mode writes and syncs one at a time).
  private queue: SealedBatch[] = [];
  private draining: Promise<void> | null = null;

  // Preallocated space. A batch written below zeroedEnd overwrites synced zeros.
  private readonly preallocateBytes: number;
  private readonly preallocateAhead: number;
  private zeroedEnd: number;
  private fill: ZeroFill | null = null;
  // Every fdatasync on the thread pool, chained (serialSync); inline ones only when none is in flight.
  private readonly inlineSync: boolean;
  private readonly inlineSyncLimitNanos: number;
  /** A moving average of the last few fdatasyncs (weight 1/8 each), in nanoseconds. */
  private recentSyncNanos = 0;
  /** Syncs went to the thread pool because recent ones were slow (until they average under half the limit). */
  private slowDisk = false;
  private lastSync: Promise<void> = Promise.resolve();
  private syncsInFlight = 0;
  // Rotation under `batch` and `always` waits for I/O: the old segment is cut
  // and synced before the next one is created. Batches sealed meanwhile, or
  // ahead of the zeros a fill is writing, wait in `held` (batch mode).
  private rotating: Promise<void> | null = null;
  private held: SealedBatch[] = [];

  private failure: JournalFailedError | null = null;
  private closing = false;
  private closed = false;

  constructor(start: WriterStart) {
    this.dir = start.dir;
    this.layer = start.layer;
    this.durability = start.durability;
    this.segmentBytes = start.segmentBytes;
    this.maxBatchBytes = start.maxBatchBytes;
    this.journalId = start.journalId;
    this.segment = start.segment;
    this.file = start.segmentFile;
    this.dataSize = start.segmentSize;
    this.zeroedEnd = Math.max(start.segmentSize, start.preallocatedEnd);
    this.preallocateBytes = preallocationStep(start.durability, start.preallocateBytes, start.segmentBytes);
    this.preallocateAhead = start.preallocateAhead;
    this.inlineSync = start.inlineSync;
    this.inlineSyncLimitNanos = start.inlineSyncLimitMicros * 1000;
    this.nextPosition = start.nextPosition;
    this.nextSeq = start.nextSeq;
    this.head = start.chainHead;
    this.now = start.now;
    this.onClose = start.onClose;
    if (start.segmentDirty) {
      this.dirtyFiles.add(this.file);
      this.dirDirty = true;
      this.segmentsCreated = 1;
    }
  }

  /** The position the next record will get. */
  get position(): number {
    return this.nextPosition;
  }

  /** The head of the last sealed batch, as 64 lowercase hex digits. */
  get chainHead(): string {
    return this.head.toString('hex');
  }

  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  get failed(): JournalFailedError | null {
    return this.failure;
  }

  append(record: AppendableRecord): Appended {
    // Packed into the codec's reusable buffer and copied into the batch at once.
    const { type, bytes, start, end } = packTransient(record);
    if (this.failure) throw this.failure;
    if (this.closed) throw new JournalFailedError(`journal ${this.dir} is closed`);
    return this.frame(type, bytes, start, end);
  }

  /** Append an already-encoded payload of the given record type. */
  appendRaw(type: number, payload: Uint8Array): Appended {
    if (this.failure) throw this.failure;
    if (this.closed) throw new JournalFailedError(`journal ${this.dir} is closed`);
    return this.frame(type, payload, 0, payload.byteLength);
  }

  private frame(type: number, payload: Uint8Array, start: number, end: number): Appended {
    const length = end - start;
    if (type <= 0 || type > 255 || type === BATCH_COMMIT_TYPE) throw new RangeError(`record type ${type} cannot be appended`);
    if (length > MAX_PAYLOAD) throw new RecordTooLargeError(KIND_OF_TYPE.get(type) ?? `type ${type}`, length);
    const size = FRAME_HEADER_SIZE + length;
    this.reserve(size + BATCH_COMMIT_FRAME_SIZE);
    const at = PREFIX + this.batchLength;
    const buf = this.batch;
    buf.writeUInt32LE(length, at + 4);
    buf[at + 8] = type;
    if (start === 0 && end === payload.byteLength) buf.set(payload, at + FRAME_HEADER_SIZE);
    else if (Buffer.isBuffer(payload)) payload.copy(buf, at + FRAME_HEADER_SIZE, start, end); // no view to allocate
    else buf.set(payload.subarray(start, end), at + FRAME_HEADER_SIZE);
    buf.writeUInt32LE(maskedCrcOf(buf, at + 4, at + size), at);
    const position = this.nextPosition;
    this.nextPosition += size;
    this.batchLength += size;
    this.batchRecords++;
    const ticket = (this.ticket ??= newTicket());

    if (this.durability === 'always') {
      this.seal();
    } else if (this.batchLength >= this.maxBatchBytes) {
      this.seal();
    } else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        // Under `batch`, records that arrive during a sync wait for it to end
        // and then form the next group commit.
        if (this.durability === 'batch' && this.syncing) return;
        this.seal();
      });
    }
    return { position, durable: ticket.promise };
  }

  /** Seal the current batch now and wait until everything appended is acknowledged. */
  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    this.seal();
    await this.settle();
    if (this.failure) throw this.failure;
  }

  /**
   * Wait until the zeros being written ahead of the records (preallocation,
   * batch and always modes) are durable. A server calls it before it
   * listens, so that a disk too full for them fails the start, not the first
   * request.
   */
  async preallocated(): Promise<void> {
    while (this.fill !== null && !this.failure) await this.fill.done;
    if (this.failure) throw this.failure;
  }

  /** Flush, sync, and release the journal. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    try {
      if (!this.failure) {
        this.seal();
        await this.settle();
      }
      await this.quiesce();
      if (!this.failure) this.cutPreallocated();
    } finally {
      this.closed = true;
      for (const file of new Set([this.file, ...this.retiredFiles])) {
        try {
          file.close();
        } catch {
          // Closing after a failure may fail again; nothing more to lose.
        }
      }
      this.onClose();
    }
    if (this.failure) throw this.failure;
  }

  private async settle(): Promise<void> {
    for (;;) {
      if (this.draining) await this.draining.catch(() => {});
      else if (this.rotating) await this.rotating;
      else if (this.syncing) await this.syncing.catch(() => {});
      else if (this.held.length > 0 && this.fill) await this.fill.done;
      else if (this.held.length > 0 && !this.failure) this.releaseHeld();
      else if (this.durability === 'batch' && this.awaitingSync.length > 0) this.startSync();
      else return;
    }
  }

  /** Wait for the I/O in flight, even after a failure: no file is closed under an operation on it. */
  private async quiesce(): Promise<void> {
    while (this.draining || this.rotating || this.syncing || this.fill) {
      await (this.draining ?? this.rotating ?? this.syncing ?? this.fill!.done).catch(() => {});
    }
    await this.lastSync;
  }

  /**
   * At rest the journal is what a writer without preallocation leaves behind.
   * No sync: zeros at the end of the last segment are preallocated space to a
   * reader, so a cut lost to a power cut harms nothing.
   */
  private cutPreallocated(): void {
    try {
      if (this.file.size() > this.dataSize) this.file.truncate(this.dataSize);
    } catch {
      // Left as preallocated space.
    }
  }

  private reserve(bytes: number): void {
    if (PREFIX + this.batchLength + bytes <= this.batch.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.batch.length * 2, PREFIX + this.batchLength + bytes));
    this.batch.copy(bigger, 0, 0, PREFIX + this.batchLength);
    this.batch = bigger;
  }

  /** End the current batch with its commit record and hand it to the I/O path. */
  private seal(): void {
    if (this.failure || this.batchRecords === 0 || this.ticket === null) return;
    const seq = this.nextSeq++;
    const records = this.batchRecords;
    const bytes = this.batchLength;
    const prevHead = this.head;
    this.reserve(BATCH_COMMIT_FRAME_SIZE);
    const buf = this.batch;
    buf.set(prevHead, 0);
    writeU64(buf, seq, 32);
    const head = hash('sha256', buf.subarray(0, PREFIX + bytes), 'buffer');
    const at = PREFIX + this.batchLength;
    buf.writeUInt32LE(BATCH_COMMIT_PAYLOAD_SIZE, at + 4);
    buf[at + 8] = BATCH_COMMIT_TYPE;
    writeBatchCommit(buf, at + FRAME_HEADER_SIZE, seq, records, bytes, this.now(), prevHead, head);
    buf.writeUInt32LE(maskedCrcOf(buf, at + 4, at + BATCH_COMMIT_FRAME_SIZE), at);
    this.nextPosition += BATCH_COMMIT_FRAME_SIZE;
    this.head = head;
    const total = bytes + BATCH_COMMIT_FRAME_SIZE;
    const ticket = this.ticket;
    this.ticket = null;
    this.batchLength = 0;
    this.batchRecords = 0;
    this.stats.records += records;
    this.stats.batches++;
    this.stats.bytes += total;

    const after: ChainPoint = { position: this.nextPosition, nextSeq: this.nextSeq, head };
    if (this.durability === 'always') {
      this.queue.push({ bytes: Buffer.from(buf.subarray(PREFIX, PREFIX + total)), ticket, after });
      this.draining ??= this.drainOneByOne();
      return;
    }
    if (this.held.length > 0 || !this.canWrite(total)) {
      this.held.push({ bytes: Buffer.from(buf.subarray(PREFIX, PREFIX + total)), ticket, after });
      return;
    }
    try {
      this.writeToSegment(buf.subarray(PREFIX, PREFIX + total), after);
    } catch (error) {
      ticket.reject(this.fail(error));
      return;
    }
    if (this.durability === 'none') {
      ticket.resolve();
    } else {
      this.awaitingSync.push(ticket);
      if (!this.syncing) this.startSync();
    }
  }

  /** Can a batch of `bytes` be written now, without racing a rotation or a zero fill? */
  private canWrite(bytes: number): boolean {
    return this.rotating === null && (this.fill === null || this.dataSize + bytes <= this.fill.writtenTo);
  }

  private writeToSegment(bytes: Buffer, after: ChainPoint): void {
    this.file.write(bytes, this.dataSize);
    this.dataSize += bytes.length;
    if (this.durability === 'none') {
      if (this.dataSize >= this.segmentBytes) this.rotateNow(after);
      return;
    }
    this.dirtyFiles.add(this.file);
    if (this.dataSize >= this.segmentBytes && this.segmentsDurable === this.segmentsCreated) this.startRotation(after);
    else this.maybeFill();
  }

  /** Batch mode: write the held batches that the segment can take now. */
  private releaseHeld(): void {
    let wrote = false;
    while (this.held.length > 0 && !this.failure && this.canWrite(this.held[0].bytes.length)) {
      const batch = this.held.shift()!;
      try {
        this.writeToSegment(batch.bytes, batch.after);
      } catch (error) {
        batch.ticket.reject(this.fail(error));
        return;
      }
      this.awaitingSync.push(batch.ticket);
      wrote = true;
    }
    if (wrote && !this.syncing) this.startSync();
  }

  /** Always mode: wait until a batch of `bytes` can be written. */
  private async whenWritable(bytes: number): Promise<void> {
    while (!this.failure && !this.canWrite(bytes)) await (this.rotating ?? this.fill!.done);
  }

  /** Create and enter the next segment, its header written, starting at chain point `at`. */
  private createSegment(at: ChainPoint): void {
    this.segment++;
    const created = this.layer.open(path.join(this.dir, segmentFileName(this.segment)), 'create');
    const header = encodeSegmentHeader({
      segment: this.segment,
      baseOffset: at.position,
      nextBatchSeq: at.nextSeq,
      chainHead: at.head,
      journalId: this.journalId,
      createdAt: this.now(),
    });
    this.file = created;
    created.write(header, 0);
    this.dataSize = HEADER_SIZE;
    this.zeroedEnd = HEADER_SIZE;
  }

  /** Durability none: start the next segment at once (no syncs, no preallocated space to cut). */
  private rotateNow(at: ChainPoint): void {
    const old = this.file;
    this.createSegment(at);
    old.close();
  }

  /**
   * Start the next segment: wait for a zero fill in flight, cut the old
   * segment's preallocated space, sync it, and only then create the new one.
   * So a segment that is not the last ends with its last batch commit, on
   * disk, whatever moment a crash or a power cut picks (format sections 9 and
   * 11). The new segment and the directory are synced before any batch goes
   * into it, so the next rotation need not wait for its creation.
   */
  private startRotation(at: ChainPoint): void {
    const old = this.file;
    this.rotating = (async () => {
      try {
        while (this.fill) await this.fill.done;
        if (this.failure) return;
        if (old.size() > this.dataSize) old.truncate(this.dataSize);
        await this.serialSync(old);
        if (this.failure) return;
        this.createSegment(at);
        this.retiredFiles.push(old);
        await this.serialSync(this.file);
        if (this.failure) return;
        this.layer.syncDir(this.dir);
      } catch (error) {
        this.fail(error);
      } finally {
        this.rotating = null;
      }
      this.releaseHeld();
      this.maybeFill();
    })();
  }

  /** Start writing the next zeros ahead of the write position, if it is time to. */
  private maybeFill(): void {
    if (this.preallocateBytes === 0 || this.fill || this.rotating || this.closing || this.failure) return;
    if (this.dataSize + this.preallocateAhead < this.zeroedEnd) return;
    const from = Math.max(this.zeroedEnd, this.dataSize);
    let to = from + this.preallocateBytes;
    if (to - (to % PAGE) > from) to -= to % PAGE;
    to = Math.min(to, this.segmentBytes);
    if (to <= from) return;
    const fill: ZeroFill = { file: this.file, writtenTo: from, to, done: Promise.resolve() };
    this.fill = fill;
    fill.done = this.zeroFill(fill);
  }

  /**
   * Write zeros over [writtenTo, to) in pieces on the thread pool, then sync
   * them, so that the size change is committed here and not by a batch's sync.
   * Batches below `writtenTo` may be written meanwhile (the ranges never
   * overlap); a failure is fail-stop like any other, since the failed sync may
   * have been the one to report an error that belongs to batch data.
   */
  private async zeroFill(fill: ZeroFill): Promise<void> {
    const from = fill.writtenTo;
    try {
      while (fill.writtenTo < fill.to) {
        if (this.failure || this.closing) return;
        const piece = ZEROS.subarray(0, Math.min(ZEROS.length, fill.to - fill.writtenTo));
        if (fill.file.writeAsync) await fill.file.writeAsync(piece, fill.writtenTo);
        else fill.file.write(piece, fill.writtenTo);
        fill.writtenTo += piece.length;
        this.releaseHeld();
      }
      if (this.failure || this.closing) return;
      await this.serialSync(fill.file, false);
      this.stats.preallocatedBytes += fill.to - from;
      if (fill.file === this.file) this.zeroedEnd = Math.max(this.zeroedEnd, fill.to);
    } catch (error) {
      this.fail(error);
    } finally {
      this.fill = null;
    }
    this.releaseHeld();
    this.maybeFill();
  }

  /** One fdatasync for every batch written so far (batch mode). */
  private startSync(): void {
    if (this.inlineSync && !this.slowDisk && this.syncsInFlight === 0 && this.fill === null && this.rotating === null) {
      this.syncNow();
      return;
    }
    const tickets = this.awaitingSync;
    this.awaitingSync = [];
    const sync = this.syncWritten();
    this.syncing = (async () => {
      try {
        await sync;
      } catch (error) {
        const failure = this.fail(error);
        for (const t of tickets) t.reject(failure);
        return;
      } finally {
        this.syncing = null;
      }
      // An earlier sync failed while this one ran: what it made durable may sit after lost bytes.
      if (this.failure) {
        for (const t of tickets) t.reject(this.failure);
        return;
      }
      for (const t of tickets) t.resolve();
      // What arrived during the sync is the next group commit.
      if (!this.failure && !this.closed) {
        this.seal();
        if (this.awaitingSync.length > 0 && !this.syncing) this.startSync();
      }
    })();
  }

  /**
   * The group commit's sync on the event loop, when no other sync is in
   * flight: it saves the two thread hand-offs of an fdatasync on the thread
   * pool (measured in bench/journal-append.ts: faster at 1 and at 32
   * appenders). Appends wait meanwhile, and form the next group commit.
   * Only while syncs are fast: on a disk whose syncs take milliseconds the
   * event loop would stop serving for each one (see countSync).
   */
  private syncNow(): void {
    const tickets = this.awaitingSync;
    this.awaitingSync = [];
    const files = [...this.dirtyFiles];
    this.dirtyFiles.clear();
    const retired = this.retiredFiles;
    this.retiredFiles = [];
    const syncDir = this.dirDirty;
    this.dirDirty = false;
    const created = this.segmentsCreated;
    try {
      for (const file of files) {
        const started = process.hrtime.bigint();
        file.datasyncSync();
        this.countSync(started);
      }
      if (syncDir) {
        this.layer.syncDir(this.dir);
        this.segmentsDurable = Math.max(this.segmentsDurable, created);
      }
      for (const file of retired) file.close();
    } catch (error) {
      const failure = this.fail(error);
      for (const t of tickets) t.reject(failure);
      return;
    }
    for (const t of tickets) t.resolve();
  }

  /** Always mode: write one batch, sync it, acknowledge it, then the next. */
  private async drainOneByOne(): Promise<void> {
    try {
      while (this.queue.length > 0 && !this.failure) {
        const batch = this.queue.shift()!;
        try {
          await this.whenWritable(batch.bytes.length);
          if (this.failure) {
            batch.ticket.reject(this.failure);
            break;
          }
          this.writeToSegment(batch.bytes, batch.after);
          await this.syncWritten();
        } catch (error) {
          batch.ticket.reject(this.fail(error));
          break;
        }
        batch.ticket.resolve();
      }
    } finally {
      this.draining = null;
    }
  }

  /**
   * Sync everything written so far: the files with unsynced writes, then the
   * directory if a segment was created, then close retired segments. Takes the
   * work synchronously, so writes made while it runs wait for the next call.
   */
  private async syncWritten(): Promise<void> {
    const files = [...this.dirtyFiles];
    this.dirtyFiles.clear();
    const retired = this.retiredFiles;
    this.retiredFiles = [];
    const syncDir = this.dirDirty;
    this.dirDirty = false;
    await this.syncFiles(files, syncDir);
    for (const file of retired) file.close();
  }

  private async syncFiles(files: JournalFile[], syncDir: boolean): Promise<void> {
    const created = this.segmentsCreated;
    for (const file of files) {
      // A rotation or a zero fill may have failed meanwhile: sync nothing more.
      if (this.failure) throw this.failure;
      await this.serialSync(file);
    }
    if (this.failure) throw this.failure;
    if (syncDir) {
      this.layer.syncDir(this.dir);
      // Every segment created before this sync started is now durable.
      this.segmentsDurable = Math.max(this.segmentsDurable, created);
    }
  }

  /**
   * fdatasync `file` on the thread pool, after every sync started before it:
   * one at a time, so that none is issued once one has failed (fail-stop: a
   * failed fsync is never followed by another that could report success).
   */
  private serialSync(file: JournalFile, count = true): Promise<void> {
    const previous = this.lastSync;
    const run = (async () => {
      await previous;
      if (this.failure) throw this.failure;
      const started = process.hrtime.bigint();
      try {
        await file.datasync();
      } catch (error) {
        // Failed here and now, before the next sync in the chain can start:
        // its `await previous` may resume before whoever awaits this one.
        throw this.fail(error);
      }
      if (count) this.countSync(started, true);
    })();
    this.syncsInFlight++;
    this.lastSync = run.then(
      () => void this.syncsInFlight--,
      () => void this.syncsInFlight--,
    );
    return run;
  }

  private countSync(started: bigint, threadPool = false): void {
    const nanos = Number(process.hrtime.bigint() - started);
    this.stats.syncs++;
    this.stats.syncNanos += nanos;
    if (nanos > this.stats.maxSyncNanos) this.stats.maxSyncNanos = nanos;
    if (threadPool) this.stats.threadPoolSyncs++;
    // Off the event loop once recent syncs average over the limit; back once
    // they average under half of it. A thread-pool sync's figure also counts
    // its two hand-offs and however long the event loop was busy before it
    // could run the callback (milliseconds, under load), so it may bring the
    // syncs back when it is low, but never sends them away: only syncs timed
    // on the event loop, which time the disk alone, do.
    if (threadPool && !this.slowDisk) return;
    this.recentSyncNanos += (nanos - this.recentSyncNanos) / 8;
    if (this.recentSyncNanos > this.inlineSyncLimitNanos) this.slowDisk = true;
    else if (this.recentSyncNanos < this.inlineSyncLimitNanos / 2) this.slowDisk = false;
  }

  /** Fail-stop: remember the first error, refuse everything from now on. */
  private fail(error: unknown): JournalFailedError {
    if (!this.failure) {
      const code = (error as NodeJS.ErrnoException)?.code;
      const what = code === 'ENOSPC' ? 'the disk is full' : `${(error as Error)?.message ?? String(error)}`;
      this.failure = new JournalFailedError(
        `journal ${this.dir} stopped accepting records: ${what} (segment ${segmentFileName(this.segment)}); nothing after the last acknowledged record was acknowledged`,
        { cause: error },
      );
      const failure = this.failure;
      this.ticket?.reject(failure);
      this.ticket = null;
      for (const t of this.awaitingSync) t.reject(failure);
      this.awaitingSync = [];
      for (const b of this.queue) b.ticket.reject(failure);
      this.queue = [];
      for (const b of this.held) b.ticket.reject(failure);
      this.held = [];
    }
    return this.failure;
  }
}
