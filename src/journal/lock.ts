import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JournalLockedError } from '../model/errors.js';
import { FILE_MODE, LOCK_FILE } from './constants.js';

// One writer per journal. The LOCK file holds the writer's pid; a lock left by
// a process that no longer exists (it was killed) is taken over.

const heldHere = new Set<string>();

export function acquireLock(dir: string): () => void {
  const lockPath = path.join(dir, LOCK_FILE);
  if (heldHere.has(lockPath)) {
    throw new JournalLockedError(`journal ${dir} is locked by a writer in this process (${lockPath})`, lockPath);
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    const tmp = `${lockPath}.${process.pid}.${Date.now()}`;
    fs.writeFileSync(tmp, `${process.pid}\n${os.hostname()}\n`, { mode: FILE_MODE });
    try {
      fs.linkSync(tmp, lockPath); // atomic: fails if a lock exists
      heldHere.add(lockPath);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        heldHere.delete(lockPath);
        fs.rmSync(lockPath, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = readHolder(lockPath);
      if (holder !== null && holder.host === os.hostname() && !isAlive(holder.pid)) {
        breakStaleLock(lockPath, holder);
        continue;
      }
      const who = holder ? `pid ${holder.pid} on ${holder.host}` : 'another writer';
      throw new JournalLockedError(`journal ${dir} is locked by ${who} (${lockPath})`, lockPath);
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }
  throw new JournalLockedError(`journal ${dir} is locked (${lockPath})`, lockPath);
}

/**
 * Remove a lock whose holder is dead, unless another process took the journal
 * over meanwhile. Removing by name would race: two processes that both saw the
 * stale lock could each remove it, and the slower one would remove the lock
 * the faster one had just taken. Renaming is atomic, so only one process moves
 * a given file away, and it checks what it moved: a live lock goes back.
 */
function breakStaleLock(lockPath: string, stale: { pid: number; host: string }): void {
  const aside = `${lockPath}.stale.${process.pid}.${Date.now()}`;
  try {
    fs.renameSync(lockPath, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else broke it
    throw error;
  }
  try {
    const moved = readHolder(aside);
    if (moved !== null && (moved.pid !== stale.pid || moved.host !== stale.host)) {
      // A live writer's lock, taken after we read the stale one: put it back.
      try {
        fs.linkSync(aside, lockPath);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
  } finally {
    fs.rmSync(aside, { force: true });
  }
}

function readHolder(lockPath: string): { pid: number; host: string } | null {
  try {
    const [pid, host] = fs.readFileSync(lockPath, 'utf8').split('\n');
    const n = Number(pid);
    return Number.isInteger(n) && n > 0 ? { pid: n, host: host ?? '' } : null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/** A killed process nobody has reaped yet still answers kill(pid, 0) (Linux). */
function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}
