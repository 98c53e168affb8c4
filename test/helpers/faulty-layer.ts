import type { FileLayer, JournalFile } from '../../src/journal/file-layer.js';

// A FileLayer wrapper that injects errors and records every call, so a test
// can check what a writer did after a failure (fail-stop: no retry of a
// failed fsync, no write after a failed write).

export type Call =
  | { op: 'write'; file: string; position: number; length: number; failed: boolean }
  | { op: 'datasync'; file: string; failed: boolean }
  | { op: 'datasyncSync'; file: string; failed: boolean }
  | { op: 'syncDir'; dir: string; failed: boolean }
  | { op: 'open'; file: string; mode: string; failed: boolean };

export interface Faults {
  /** Return an error to make this write fail; `partial` bytes reach the file first. */
  write?(call: { file: string; position: number; length: number; index: number }): { error: Error; partial?: number } | null;
  /** Return an error to make this fdatasync fail (the n-th datasync, counting from 0). */
  datasync?(call: { file: string; index: number }): Error | null;
  syncDir?(call: { dir: string; index: number }): Error | null;
  open?(call: { file: string; mode: string }): Error | null;
}

export function errno(code: string, message = code): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

export class FaultyLayer implements FileLayer {
  readonly calls: Call[] = [];
  /** Length of `calls` when the first injected error reached the caller (an async fdatasync fails a turn after it starts). */
  private delivered = -1;
  private writes = 0;
  private datasyncs = 0;
  private dirSyncs = 0;

  constructor(
    private readonly inner: FileLayer,
    public faults: Faults = {},
  ) {}

  /** Index in `calls` of the first failed call, or -1. */
  get firstFailure(): number {
    return this.calls.findIndex((c) => c.failed);
  }

  /**
   * The calls made after the first injected error reached the caller. Calls
   * already under way then (a second fdatasync on the thread pool while the
   * failing one ran) were started before anyone could know, so they do not count.
   */
  callsAfterFirstFailure(): Call[] {
    return this.delivered < 0 ? [] : this.calls.slice(this.delivered);
  }

  /** Throw `error` at the caller, noting when the first one was delivered. */
  private deliver(error: Error): never {
    if (this.delivered < 0) this.delivered = this.calls.length;
    throw error;
  }

  open(file: string, mode: 'read' | 'write' | 'create'): JournalFile {
    const error = this.faults.open?.({ file, mode }) ?? null;
    this.calls.push({ op: 'open', file, mode, failed: error !== null });
    if (error) this.deliver(error);
    return this.wrap(this.inner.open(file, mode));
  }

  list(dir: string): string[] {
    return this.inner.list(dir);
  }

  exists(file: string): boolean {
    return this.inner.exists(file);
  }

  mkdir(dir: string): void {
    this.inner.mkdir(dir);
  }

  remove(file: string): void {
    this.inner.remove(file);
  }

  syncDir(dir: string): void {
    const error = this.faults.syncDir?.({ dir, index: this.dirSyncs++ }) ?? null;
    this.calls.push({ op: 'syncDir', dir, failed: error !== null });
    if (error) this.deliver(error);
    this.inner.syncDir(dir);
  }

  private wrap(file: JournalFile): JournalFile {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const layer = this;
    return {
      path: file.path,
      write(data, position) {
        const fault = layer.faults.write?.({ file: file.path, position, length: data.byteLength, index: layer.writes++ }) ?? null;
        layer.calls.push({ op: 'write', file: file.path, position, length: data.byteLength, failed: fault !== null });
        if (fault) {
          if (fault.partial) file.write(data.subarray(0, fault.partial), position);
          layer.deliver(fault.error);
        }
        file.write(data, position);
      },
      read: (into, offset, length, position) => file.read(into, offset, length, position),
      async datasync() {
        const error = layer.faults.datasync?.({ file: file.path, index: layer.datasyncs++ }) ?? null;
        layer.calls.push({ op: 'datasync', file: file.path, failed: error !== null });
        if (error) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          layer.deliver(error);
        }
        await file.datasync();
      },
      datasyncSync() {
        const error = layer.faults.datasync?.({ file: file.path, index: layer.datasyncs++ }) ?? null;
        layer.calls.push({ op: 'datasyncSync', file: file.path, failed: error !== null });
        if (error) layer.deliver(error);
        file.datasyncSync();
      },
      size: () => file.size(),
      truncate: (length) => file.truncate(length),
      close: () => file.close(),
    };
  }
}

/** `inner` with its fdatasyncs (both variants) and directory syncs replaced; everything else passes through. */
function withSyncs(inner: FileLayer, syncs: { datasync: () => Promise<void>; datasyncSync: () => void; syncDir: () => void }): FileLayer {
  return {
    open(file, mode) {
      const real = inner.open(file, mode);
      return {
        path: real.path,
        write: (data, position) => real.write(data, position),
        read: (into, offset, length, position) => real.read(into, offset, length, position),
        datasync: syncs.datasync,
        datasyncSync: syncs.datasyncSync,
        size: () => real.size(),
        truncate: (length) => real.truncate(length),
        close: () => real.close(),
      };
    },
    list: (dir) => inner.list(dir),
    exists: (file) => inner.exists(file),
    mkdir: (dir) => inner.mkdir(dir),
    remove: (file) => inner.remove(file),
    syncDir: syncs.syncDir,
  };
}

/**
 * A layer whose syncs do nothing: fdatasync and directory syncs return at
 * once without making anything durable. A writer on it behaves like a writer
 * that skips its syncs; the power-loss check must catch the loss.
 */
export function withoutSyncs(inner: FileLayer): FileLayer {
  return withSyncs(inner, {
    datasync: () => new Promise<void>((resolve) => setImmediate(resolve)),
    datasyncSync: () => {},
    syncDir: () => {},
  });
}

/**
 * A disk whose fdatasyncs take `delayMs()` (0: at once), modelled without
 * the real disk's: what is written reaches the page cache and is read back,
 * but nothing is made durable. The event-loop variant blocks for the delay,
 * the thread-pool variant waits for a timer (or one turn), for
 * `threadPoolDelayMs()` if given (a busy event loop makes those look slow).
 * Records which variant each sync used.
 */
export function withSlowSyncs(
  inner: FileLayer,
  delayMs: () => number,
  calls: ('datasync' | 'datasyncSync')[],
  threadPoolDelayMs: () => number = delayMs,
): FileLayer {
  const blocker = new Int32Array(new SharedArrayBuffer(4));
  return withSyncs(inner, {
    async datasync() {
      calls.push('datasync');
      const delay = threadPoolDelayMs();
      await new Promise<void>((resolve) => (delay > 0 ? setTimeout(resolve, delay) : setImmediate(resolve)));
    },
    datasyncSync() {
      calls.push('datasyncSync');
      const delay = delayMs();
      if (delay > 0) Atomics.wait(blocker, 0, 0, delay);
    },
    syncDir: () => {},
  });
}
