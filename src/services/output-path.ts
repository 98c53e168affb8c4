import * as fs from 'node:fs';
import * as path from 'node:path';
import { EnvironmentError, UsageError } from '../model/errors.js';

// Files the CLI writes where the user says (`restore --out`, `export --out`,
// `verify --junit`). Checked before any work is done: never inside the
// journal directory (a segment, the catalog or a snapshot would be destroyed),
// never over a directory, and, for a file replaced by a rename (restore), never
// over anything that is not a regular file (a rename would replace a device
// such as /dev/full with a regular file). An existing regular file is kept
// unless the user says --force (restore, export; a JUnit report is rewritten
// by every run on purpose). Failures of the file system become one line
// naming the path: a path that cannot be written to as given is a usage error
// (exit 2), a refusal of the environment exit 74.

export interface OutputPathOptions {
  /** The flag that named the path, for messages: `--out`. */
  flag: string;
  /** The journal directory the command reads. */
  journal: string;
  /**
   * The target is replaced by a rename: only a regular file may be there.
   * Otherwise the file is written in place, so a device or FIFO (/dev/stdout) is fine.
   */
  replaced: boolean;
  /**
   * Set (restore, export): an existing regular file is refused unless `force`
   * (`E_EXISTS`, exit 2). A path naming a descriptor the process already has
   * open (/dev/stdout, /dev/fd/1: the shell opened it, `> file`) and a device
   * or FIFO hold nothing to lose, and are written anyway. Unset (verify
   * --junit): a file there is overwritten.
   */
  existing?: { force: boolean };
}

const MAX_LINKS = 40;

/** The absolute path to write, after checking it (see above). */
export function checkOutputPath(given: string, options: OutputPathOptions): string {
  const { flag } = options;
  const out = path.resolve(given);
  const parent = path.dirname(out);
  let parentStat: fs.Stats;
  try {
    parentStat = fs.statSync(parent);
  } catch (error) {
    throw pathError(error, flag, out, `its directory ${parent}`);
  }
  if (!parentStat.isDirectory()) throw new UsageError(`${flag} ${out}: ${parent} is not a directory`, 'E_BAD_PATH');

  const journal = realOrResolved(options.journal);
  // Where the bytes would go: the directory holding the name (a rename writes
  // there), and the file a symbolic link leads to (an in-place write does).
  for (const where of [path.join(realOrResolved(parent), path.basename(out)), followLinks(out, flag)]) {
    if (isInside(where, journal)) {
      throw new UsageError(`${flag} ${out} is inside the journal directory ${journal}; write it somewhere else`, 'E_BAD_PATH');
    }
  }

  let stat: fs.Stats | null = null;
  try {
    stat = fs.statSync(out);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw pathError(error, flag, out, 'it');
  }
  if (stat) {
    if (stat.isDirectory()) throw new UsageError(`${flag} ${out} is a directory; give the path of a file`, 'E_BAD_PATH');
    if (!stat.isFile() && options.replaced) {
      throw new UsageError(`${flag} ${out} is ${kindOf(stat)}, not a regular file; refusing to replace it`, 'E_BAD_PATH');
    }
    // A hard link to one of the journal's files is the journal's file.
    if (stat.isFile() && stat.nlink > 1 && holdsFile(journal, stat)) {
      throw new UsageError(`${flag} ${out} is a hard link to a file of the journal directory ${journal}; write it somewhere else`, 'E_BAD_PATH');
    }
    if (stat.isFile() && options.existing && !options.existing.force && !namesOpenDescriptor(out)) throw existsError(flag, out);
  }
  return out;
}

function existsError(flag: string, out: string): UsageError {
  return new UsageError(`${flag} ${out} exists; pass --force to replace it`, 'E_EXISTS');
}

/** /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N, or a symbolic link that leads through one of them. */
function namesOpenDescriptor(file: string): boolean {
  let current = file;
  for (let i = 0; i < MAX_LINKS; i++) {
    if (/^\/(dev\/(stdout|stderr|fd\/\d+)|proc\/(self|thread-self|\d+)\/fd\/\d+)$/.test(current)) return true;
    try {
      if (!fs.lstatSync(current).isSymbolicLink()) return false;
      current = path.resolve(path.dirname(current), fs.readlinkSync(current));
    } catch {
      return false;
    }
  }
  return false;
}

/**
 * Write `data` to `file` in place (a device or FIFO such as /dev/stdout
 * included). A reader that went away (EPIPE) is not an error: like output
 * piped into `head`, it had all it wanted.
 */
export function writeOutputFile(file: string, data: string | Buffer, flag: string, options: { create?: boolean } = {}): void {
  try {
    // `create`: the file must not be there (checked before the work; this closes the gap since).
    fs.writeFileSync(file, data, { flag: options.create ? 'wx' : 'w' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EPIPE') return;
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw existsError(flag, file);
    throw pathError(error, flag, file, 'it');
  }
}

/**
 * Replace `file` with `data` atomically: written to `<file>.partial`, then
 * renamed over it. On failure the partial file is removed.
 */
export function replaceOutputFile(file: string, data: Buffer, flag: string, beforeRename?: () => void): void {
  const partial = `${file}.partial`;
  try {
    fs.writeFileSync(partial, data, { mode: 0o600 });
    beforeRename?.();
    fs.renameSync(partial, file);
  } catch (error) {
    try {
      if (fs.lstatSync(partial).isFile()) fs.rmSync(partial, { force: true });
    } catch {
      // Never written, or not ours to remove.
    }
    throw pathError(error, flag, file, 'it');
  }
}

/** A file-system error on a user-given path as one line naming it. */
export function pathError(error: unknown, flag: string, file: string, what: string): unknown {
  const e = error as NodeJS.ErrnoException;
  // The path the system call failed on, when it is not the one named already.
  const where = what === 'it' && e?.path && e.path !== file ? ` (${e.path})` : '';
  switch (e?.code) {
    case 'ENOENT':
      return new UsageError(`${flag} ${file}: ${what === 'it' ? 'no such file or directory' : `${what} does not exist`}${where}`, 'E_BAD_PATH');
    case 'ENOTDIR':
      return new UsageError(`${flag} ${file}: a component of the path is not a directory${where}`, 'E_BAD_PATH');
    case 'EISDIR':
      return new UsageError(`${flag} ${file}: is a directory${where}; give the path of a file`, 'E_BAD_PATH');
    case 'ELOOP':
      return new UsageError(`${flag} ${file}: too many levels of symbolic links`, 'E_BAD_PATH');
    case 'ENXIO':
      return new UsageError(`${flag} ${file}: no such device or address (a socket cannot be opened by name)`, 'E_BAD_PATH');
    case 'ENAMETOOLONG':
      return new UsageError(`${flag} ${file}: file name too long`, 'E_BAD_PATH');
    case 'EACCES':
    case 'EPERM':
      return new EnvironmentError(`${flag} ${file}: permission denied${where}`, 'E_PERMISSION', { cause: error });
    case 'EROFS':
      return new EnvironmentError(`${flag} ${file}: read-only file system`, 'E_READ_ONLY', { cause: error });
    case 'ENOSPC':
    case 'EDQUOT':
      return new EnvironmentError(`${flag} ${file}: disk full (${e.code})`, 'E_DISK_FULL', { cause: error });
    case 'EIO':
      return new EnvironmentError(`${flag} ${file}: input/output error`, 'E_ENVIRONMENT', { cause: error });
    default:
      return error;
  }
}

function realOrResolved(dir: string): string {
  try {
    return fs.realpathSync(dir);
  } catch {
    return path.resolve(dir);
  }
}

/** The path a write to `file` would reach, following symbolic links, dangling ones too. */
function followLinks(file: string, flag: string): string {
  let current = file;
  for (let i = 0; i < MAX_LINKS; i++) {
    let link: string;
    try {
      if (!fs.lstatSync(current).isSymbolicLink()) return realOrResolved(current);
      link = fs.readlinkSync(current);
    } catch {
      // Nothing there (yet): the file would be created in its directory.
      return path.join(realOrResolved(path.dirname(current)), path.basename(current));
    }
    current = path.resolve(path.dirname(current), link);
  }
  throw new UsageError(`${flag} ${file}: too many levels of symbolic links`, 'E_BAD_PATH');
}

function isInside(file: string, dir: string): boolean {
  const rel = path.relative(dir, file);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/** Whether a file under `dir` (two levels deep: segments, catalog, snapshots) is the same file as `stat`. */
function holdsFile(dir: string, stat: fs.Stats, depth = 2): boolean {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return false;
  }
  for (const entry of entries) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (depth > 1 && holdsFile(file, stat, depth - 1)) return true;
    } else if (entry.isFile()) {
      try {
        const s = fs.statSync(file);
        if (s.ino === stat.ino && s.dev === stat.dev) return true;
      } catch {
        // Removed meanwhile.
      }
    }
  }
  return false;
}

function kindOf(stat: fs.Stats): string {
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  return 'a special file';
}
