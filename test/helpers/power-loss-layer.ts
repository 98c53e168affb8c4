import * as path from 'node:path';
import type { FileLayer, JournalFile } from '../../src/journal/file-layer.js';
import { Rng } from './arbitraries.js';

// An in-memory file system for the journal's FileLayer that knows what is
// durable. Contents live in memory; `datasync` makes a file's data durable as
// it was when the call started (and only once the call completes); `syncDir`
// makes a directory's entries durable. Everything else is in the "page cache".
//
// `crash()` is a process crash: open handles die, the page cache survives.
// `powerLoss(mode)` is a power cut: handles die and every operation not yet
// made durable is lost, except that, depending on the mode, the disk may have
// written back a prefix of them in order (`prefix`), with the first lost write
// torn into garbage (`garbage`) or into zeros (`zeros`, an extended file whose
// data never arrived). `drop` keeps nothing that was not synced.
//
// Each writer gets a `view()`: a FileLayer bound to the current boot, so a
// writer that outlives a crash cannot touch the disk any more.

export type PowerLossMode = 'drop' | 'prefix' | 'garbage' | 'zeros';
export const POWER_LOSS_MODES: readonly PowerLossMode[] = ['drop', 'prefix', 'garbage', 'zeros'];

class Inode {
  private buf: Buffer = Buffer.alloc(0);
  size = 0;
  /** Contents as of the last completed datasync. */
  durable: Buffer = Buffer.alloc(0);
  /** Operations on this inode with a smaller sequence number are durable. */
  durableSeq = 0;

  content(): Buffer {
    return this.buf.subarray(0, this.size);
  }

  snapshot(): Buffer {
    return Buffer.from(this.content());
  }

  write(data: Uint8Array, position: number): void {
    const end = position + data.byteLength;
    this.ensure(end);
    if (position > this.size) this.buf.fill(0, this.size, position);
    this.buf.set(data, position);
    this.size = Math.max(this.size, end);
  }

  truncate(length: number): void {
    if (length > this.size) {
      this.ensure(length);
      this.buf.fill(0, this.size, length);
    }
    this.size = length;
  }

  reset(content: Uint8Array): void {
    this.buf = Buffer.from(content);
    this.size = content.byteLength;
  }

  private ensure(n: number): void {
    if (n <= this.buf.length) return;
    const bigger = Buffer.alloc(Math.max(n, this.buf.length * 2, 256));
    this.buf.copy(bigger, 0, 0, this.size);
    this.buf = bigger;
  }
}

interface DirState {
  live: Map<string, Inode>;
  durable: Map<string, Inode>;
  durableSeq: number;
}

type Op =
  | { seq: number; kind: 'write'; inode: Inode; position: number; data: Buffer }
  | { seq: number; kind: 'truncate'; inode: Inode; length: number }
  | { seq: number; kind: 'link'; dir: DirState; name: string; inode: Inode }
  | { seq: number; kind: 'unlink'; dir: DirState; name: string };
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type NewOp = DistributiveOmit<Op, 'seq'>;

export interface PowerLossReport {
  mode: PowerLossMode;
  /** Unsynced operations that the disk wrote back anyway (in order). */
  kept: number;
  /** Unsynced operations that were lost. */
  lost: number;
  /** What happened to the first lost write, if any. */
  torn: string | null;
}

export interface LayerStats {
  datasyncs: number;
  syncDirs: number;
  writes: number;
}

function fsError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

export class PowerLossFs {
  private dirs = new Map<string, DirState>();
  private inodes = new Set<Inode>();
  private ops: Op[] = [];
  private seq = 1;
  private generation = 0;
  readonly stats: LayerStats = { datasyncs: 0, syncDirs: 0, writes: 0 };

  /** @param rng drives sync latency (how many event-loop turns a datasync takes). */
  constructor(private readonly rng: Rng = new Rng(1)) {}

  /** A FileLayer for one boot of the machine (one writer's lifetime). */
  view(): FileLayer {
    const generation = this.generation;
    const alive = (): void => {
      if (generation !== this.generation) throw fsError('EIO', 'the machine this handle belonged to went down');
    };
    const fs = this;
    return {
      open(file, mode) {
        alive();
        return fs.open(path.resolve(file), mode, alive);
      },
      list(dir) {
        alive();
        return [...fs.dir(path.resolve(dir)).live.keys()].sort();
      },
      exists(file) {
        alive();
        return fs.exists(path.resolve(file));
      },
      mkdir(dir) {
        alive();
        fs.mkdir(dir);
      },
      remove(file) {
        alive();
        const absolute = path.resolve(file);
        const dir = fs.dirs.get(path.dirname(absolute));
        const name = path.basename(absolute);
        if (dir?.live.has(name)) fs.log({ kind: 'unlink', dir, name });
      },
      syncDir(dir) {
        alive();
        const state = fs.dir(path.resolve(dir));
        fs.stats.syncDirs++;
        state.durable = new Map(state.live);
        state.durableSeq = fs.seq;
      },
    };
  }

  /** Create a directory; directories themselves are durable at once. */
  mkdir(dir: string): void {
    let current = path.resolve(dir);
    while (!this.dirs.has(current)) {
      this.dirs.set(current, { live: new Map(), durable: new Map(), durableSeq: 0 });
      const parent = path.dirname(current);
      if (parent === current) break;
      current = parent;
    }
  }

  /** A process crash: every handle dies, the page cache (all writes) survives. */
  crash(): void {
    this.generation++;
  }

  /** A power cut: see the header comment. Everything that survives is then on disk. */
  powerLoss(mode: PowerLossMode = 'drop', rng: Rng = new Rng(2)): PowerLossReport {
    this.generation++;
    const unsynced = this.ops.filter((op) => !this.isDurable(op));
    const kept = mode === 'drop' ? 0 : rng.int(0, unsynced.length);
    for (const inode of this.inodes) inode.reset(inode.durable);
    for (const dir of this.dirs.values()) dir.live = new Map(dir.durable);
    for (const op of unsynced.slice(0, kept)) this.apply(op);
    let torn: string | null = null;
    const first = unsynced[kept];
    if (first?.kind === 'write' && mode !== 'drop') {
      const { inode, data, position } = first;
      if (mode === 'prefix') {
        const n = rng.int(0, data.length);
        inode.write(data.subarray(0, n), position);
        torn = `${n} of ${data.length} bytes written at ${position}`;
      } else if (mode === 'garbage') {
        const n = rng.int(1, data.length);
        inode.write(rng.bytes(n), position);
        torn = `${n} garbage bytes at ${position}`;
      } else {
        inode.write(Buffer.alloc(data.length), position);
        torn = `${data.length} zero bytes at ${position}`;
      }
    }
    for (const inode of this.inodes) {
      inode.durable = inode.snapshot();
      inode.durableSeq = this.seq;
    }
    for (const dir of this.dirs.values()) {
      dir.durable = new Map(dir.live);
      dir.durableSeq = this.seq;
    }
    this.ops = [];
    return { mode, kept, lost: unsynced.length - kept, torn };
  }

  /** Names and contents of the files in a directory (live state). */
  files(dir: string): Map<string, Buffer> {
    const out = new Map<string, Buffer>();
    for (const [name, inode] of [...this.dir(path.resolve(dir)).live].sort(([a], [b]) => (a < b ? -1 : 1))) {
      out.set(name, inode.snapshot());
    }
    return out;
  }

  readFile(file: string): Buffer {
    const inode = this.lookup(path.resolve(file));
    if (!inode) throw fsError('ENOENT', file);
    return inode.snapshot();
  }

  /** Replace (or create) a file's contents directly, durably: a test's hand on the disk. */
  writeFile(file: string, content: Uint8Array): void {
    const absolute = path.resolve(file);
    const dir = this.dir(path.dirname(absolute));
    let inode = dir.live.get(path.basename(absolute));
    if (!inode) {
      inode = new Inode();
      this.inodes.add(inode);
      dir.live.set(path.basename(absolute), inode);
      dir.durable.set(path.basename(absolute), inode);
    }
    inode.reset(content);
    inode.durable = inode.snapshot();
    inode.durableSeq = this.seq;
  }

  removeFile(file: string): void {
    const absolute = path.resolve(file);
    const dir = this.dir(path.dirname(absolute));
    dir.live.delete(path.basename(absolute));
    dir.durable.delete(path.basename(absolute));
  }

  /** A new file system holding a durable copy of `dir`'s files. */
  cloneDir(dir: string): PowerLossFs {
    const copy = new PowerLossFs(this.rng);
    copy.mkdir(dir);
    for (const [name, content] of this.files(dir)) copy.writeFile(path.join(dir, name), content);
    return copy;
  }

  private isDurable(op: Op): boolean {
    if (op.kind === 'write' || op.kind === 'truncate') return op.seq < op.inode.durableSeq;
    return op.seq < op.dir.durableSeq;
  }

  private apply(op: Op): void {
    switch (op.kind) {
      case 'write':
        op.inode.write(op.data, op.position);
        break;
      case 'truncate':
        op.inode.truncate(op.length);
        break;
      case 'link':
        op.dir.live.set(op.name, op.inode);
        break;
      case 'unlink':
        op.dir.live.delete(op.name);
        break;
    }
  }

  private log(op: NewOp): void {
    const full = { ...op, seq: this.seq++ } as Op;
    this.ops.push(full);
    this.apply(full);
  }

  private dir(absolute: string): DirState {
    const state = this.dirs.get(absolute);
    if (!state) throw fsError('ENOENT', `no directory ${absolute}`);
    return state;
  }

  private lookup(absolute: string): Inode | undefined {
    return this.dirs.get(path.dirname(absolute))?.live.get(path.basename(absolute));
  }

  private exists(absolute: string): boolean {
    return this.dirs.has(absolute) || this.lookup(absolute) !== undefined;
  }

  private open(absolute: string, mode: 'read' | 'write' | 'create', alive: () => void): JournalFile {
    const dir = this.dir(path.dirname(absolute));
    const name = path.basename(absolute);
    let inode = dir.live.get(name);
    if (mode === 'create') {
      if (inode) throw fsError('EEXIST', absolute);
      inode = new Inode();
      this.inodes.add(inode);
      this.log({ kind: 'link', dir, name, inode });
    } else if (!inode) {
      throw fsError('ENOENT', absolute);
    }
    return new MemFile(this, absolute, inode, mode !== 'read', alive);
  }

  /** @internal used by MemFile */
  fileWrite(inode: Inode, data: Uint8Array, position: number): void {
    this.stats.writes++;
    this.log({ kind: 'write', inode, position, data: Buffer.from(data) });
  }

  /** @internal used by MemFile */
  fileTruncate(inode: Inode, length: number): void {
    this.log({ kind: 'truncate', inode, length });
  }

  /** @internal used by MemFile: returns a function that completes the sync. */
  beginDatasync(inode: Inode): () => void {
    this.stats.datasyncs++;
    const seqAtCall = this.seq;
    const snapshot = inode.snapshot();
    return () => {
      if (seqAtCall > inode.durableSeq) {
        inode.durable = snapshot;
        inode.durableSeq = seqAtCall;
      }
    };
  }

  /** @internal How many event-loop turns a datasync takes. */
  syncTurns(): number {
    return this.rng.int(1, 3);
  }
}

class MemFile implements JournalFile {
  private closed = false;

  constructor(
    private readonly fs: PowerLossFs,
    readonly path: string,
    private readonly inode: Inode,
    private readonly writable: boolean,
    private readonly alive: () => void,
  ) {}

  private check(write = false): void {
    this.alive();
    if (this.closed) throw fsError('EBADF', `${this.path} is closed`);
    if (write && !this.writable) throw fsError('EBADF', `${this.path} is open for reading`);
  }

  write(data: Uint8Array, position: number): void {
    this.check(true);
    this.fs.fileWrite(this.inode, data, position);
  }

  read(into: Uint8Array, offset: number, length: number, position: number): number {
    this.check();
    const content = this.inode.content();
    if (position >= content.length) return 0;
    const n = Math.min(length, content.length - position);
    into.set(content.subarray(position, position + n), offset);
    return n;
  }

  async datasync(): Promise<void> {
    this.check();
    const complete = this.fs.beginDatasync(this.inode);
    for (let turns = this.fs.syncTurns(); turns > 0; turns--) await new Promise<void>((resolve) => setImmediate(resolve));
    // The machine went down while the sync was in flight: nothing is promised.
    this.alive();
    complete();
  }

  datasyncSync(): void {
    this.check();
    this.fs.beginDatasync(this.inode)();
  }

  size(): number {
    this.check();
    return this.inode.size;
  }

  truncate(length: number): void {
    this.check(true);
    this.fs.fileTruncate(this.inode, length);
  }

  close(): void {
    this.alive();
    this.closed = true;
  }
}
