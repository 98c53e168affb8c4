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
  for (let attempt = 0; attempt < 50; attempt++) {
    if (tryLink(lockPath)) {
      heldHere.add(lockPath);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        heldHere.delete(lockPath);
        fs.rmSync(lockPath, { force: true });
      };
    }
    const holder = readHolder(lockPath);
    if (holder === null && !fs.existsSync(lockPath)) continue; // released meanwhile
    if (holder !== null && holder.host === os.hostname() && !isAlive(holder.pid)) {
      if (!breakStaleLock(lockPath, holder)) pause(2); // another process is breaking it
      continue;
    }
    const who = holder ? `pid ${holder.pid} on ${holder.host}` : 'another writer';
    throw new JournalLockedError(`journal ${dir} is locked by ${who} (${lockPath})`, lockPath);
  }
  throw new JournalLockedError(`journal ${dir} is locked (${lockPath})`, lockPath);
}

/** Create `file` holding this process's pid and host, atomically; false if it exists. */
function tryLink(file: string): boolean {
  const tmp = `${file}.${process.pid}.${Date.now()}`;
  try {
    fs.writeFileSync(tmp, `${process.pid}\n${os.hostname()}\n`, { mode: FILE_MODE });
    fs.linkSync(tmp, file); // atomic: fails if the file exists
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return false;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * Remove a LOCK whose holder is dead; false when another process is doing so.
 * Contenders that all saw the stale LOCK must not each remove "the" LOCK: a
 * slow one would remove the lock a fast one had just taken. So breaking takes
 * a second lock, LOCK.break, and under it checks that LOCK still names the
 * dead holder: nobody else can remove it meanwhile, and nobody can replace it
 * while it exists. A LOCK.break left by a breaker that died is removed.
 */
function breakStaleLock(lockPath: string, stale: { pid: number; host: string }): boolean {
  const breakPath = `${lockPath}.break`;
  if (!tryLink(breakPath)) {
    const breaker = readHolder(breakPath);
    if (breaker !== null && breaker.host === os.hostname() && !isAlive(breaker.pid)) fs.rmSync(breakPath, { force: true });
    return false;
  }
  try {
    const holder = readHolder(lockPath);
    if (holder !== null && holder.pid === stale.pid && holder.host === stale.host) fs.rmSync(lockPath, { force: true });
    return true;
  } finally {
    fs.rmSync(breakPath, { force: true });
  }
}

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
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
