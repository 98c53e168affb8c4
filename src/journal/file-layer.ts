import * as fs from 'node:fs';
import * as path from 'node:path';
import { FILE_MODE } from './constants.js';

// The narrow file API the writer and reader use. Production code uses the
// real file system; tests substitute layers that inject ENOSPC, failed
// fsyncs, or a power loss that drops everything not yet fdatasynced.

export interface JournalFile {
  readonly path: string;
  /** Write all of `data` at `position`; throws on a short or failed write. */
  write(data: Uint8Array, position: number): void;
  /** `write` on the thread pool, off the event loop. Optional: the writer falls back to `write`. */
  writeAsync?(data: Uint8Array, position: number): Promise<void>;
  read(into: Uint8Array, offset: number, length: number, position: number): number;
  datasync(): Promise<void>;
  datasyncSync(): void;
  size(): number;
  truncate(length: number): void;
  close(): void;
}

export interface FileLayer {
  /** Open for reading and writing; `create` makes a new file (it must not exist). */
  open(file: string, mode: 'read' | 'write' | 'create'): JournalFile;
  list(dir: string): string[];
  exists(file: string): boolean;
  mkdir(dir: string): void;
  remove(file: string): void;
  /** Make a directory's entries durable (after creating or removing a file). */
  syncDir(dir: string): void;
}

class NodeFile implements JournalFile {
  constructor(
    readonly path: string,
    private readonly fd: number,
  ) {}

  write(data: Uint8Array, position: number): void {
    let done = 0;
    while (done < data.byteLength) {
      const n = fs.writeSync(this.fd, data, done, data.byteLength - done, position + done);
      if (n <= 0) throw Object.assign(new Error(`short write to ${this.path}`), { code: 'EIO' });
      done += n;
    }
  }

  writeAsync(data: Uint8Array, position: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const next = (done: number): void => {
        if (done >= data.byteLength) return resolve();
        fs.write(this.fd, data, done, data.byteLength - done, position + done, (error, n) => {
          if (error) reject(error);
          else if (n <= 0) reject(Object.assign(new Error(`short write to ${this.path}`), { code: 'EIO' }));
          else next(done + n);
        });
      };
      next(0);
    });
  }

  read(into: Uint8Array, offset: number, length: number, position: number): number {
    return fs.readSync(this.fd, into, offset, length, position);
  }

  datasync(): Promise<void> {
    return new Promise((resolve, reject) => fs.fdatasync(this.fd, (error) => (error ? reject(error) : resolve())));
  }

  datasyncSync(): void {
    fs.fdatasyncSync(this.fd);
  }

  size(): number {
    return fs.fstatSync(this.fd).size;
  }

  truncate(length: number): void {
    fs.ftruncateSync(this.fd, length);
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

export const nodeFileLayer: FileLayer = {
  open(file, mode) {
    const flags = mode === 'read' ? 'r' : mode === 'write' ? 'r+' : 'wx+';
    return new NodeFile(file, fs.openSync(file, flags, FILE_MODE));
  },
  list(dir) {
    return fs.readdirSync(dir);
  },
  exists(file) {
    return fs.existsSync(file);
  },
  mkdir(dir) {
    makeDirectories(dir);
  },
  remove(file) {
    fs.rmSync(file, { force: true });
  },
  syncDir(dir) {
    const fd = fs.openSync(path.resolve(dir), 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  },
};

/** A path on the way to a directory exists and is not a directory. */
export class NotADirectoryError extends Error {
  readonly code = 'ENOTDIR';
  constructor(readonly path: string) {
    super(`${path} is not a directory`);
  }
}

/**
 * `mkdir -p`, mode 0700. Not Node's recursive mkdirSync: where a directory
 * cannot be created and ENOENT comes back (under /proc), that one retries
 * forever. This finds the deepest existing ancestor, checks that it is a
 * directory (NotADirectoryError naming it otherwise), then creates each
 * missing level once, throwing the first failure (its path in the message).
 */
export function makeDirectories(dir: string): void {
  const missing: string[] = [];
  let current = path.resolve(dir);
  for (;;) {
    let stats: fs.Stats | null = null;
    try {
      stats = fs.statSync(current);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // ENOTDIR: an ancestor is a file; found on the way up.
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
    }
    if (stats !== null) {
      if (!stats.isDirectory()) throw new NotADirectoryError(current);
      break;
    }
    missing.push(current);
    const parent = path.dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const level of missing.reverse()) {
    try {
      fs.mkdirSync(level, { mode: 0o700 });
    } catch (error) {
      // Made meanwhile by someone else: fine, if it is a directory.
      if ((error as NodeJS.ErrnoException).code === 'EEXIST' && fs.statSync(level).isDirectory()) continue;
      throw error;
    }
  }
}
