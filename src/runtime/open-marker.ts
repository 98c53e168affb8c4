import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// The live database runs without syncs. A process that dies loses none of its
// writes (the OS has them), but an OS crash or a power loss may: the file can
// come back with some pages older than others, and still open. This marker
// tells the two apart. It is written and synced when the file is opened, with
// the machine's boot id, and removed once the file is closed and synced. A
// marker left by an earlier boot means the machine went down while the file
// had unsynced writes: the file is not trusted, and is rebuilt.

export const OPEN_MARKER_FILE = 'live.sqlite.open';

interface Marker {
  bootId: string;
  pid: number;
  openedAt: string;
  /** Set when the process stopped because the file failed (markFailed): it is not trusted again. */
  failed?: string;
}

/** This boot of the machine: the kernel's boot id on Linux, else the boot time to the minute. */
export function currentBootId(): string {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return `booted-${Math.round((Date.now() / 1000 - os.uptime()) / 60)}`;
  }
}

/**
 * Why the live file must not be trusted, or null: a marker from an earlier
 * boot (or one that cannot be read) says the machine went down while it was
 * open. A marker from this boot is a process that died; its writes are safe.
 */
export function distrustAfterOpen(journalDir: string, bootId = currentBootId()): string | null {
  let text: string;
  try {
    text = fs.readFileSync(path.join(journalDir, OPEN_MARKER_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null; // closed cleanly, or never opened
    return `its open marker cannot be read (${(error as Error).message}), so it may hold unsynced writes an OS crash lost`;
  }
  let marker: Partial<Marker>;
  try {
    marker = JSON.parse(text) as Partial<Marker>;
  } catch {
    return 'its open marker is damaged, as after an OS crash, so it may have lost unsynced writes';
  }
  if (typeof marker.failed === 'string') {
    return `process ${marker.pid ?? '?'} stopped because the database failed under it: ${marker.failed}; a file that failed is not trusted`;
  }
  if (marker.bootId === bootId) return null;
  return `the machine restarted while process ${marker.pid ?? '?'} had it open without syncs (opened ${marker.openedAt ?? 'at an unknown time'}), so unsynced writes may be lost`;
}

/** Say the live file is open (synced before any transaction runs on it). */
export function writeOpenMarker(journalDir: string, bootId = currentBootId()): void {
  replaceMarker(journalDir, { bootId, pid: process.pid, openedAt: new Date().toISOString() });
}

/**
 * The live file failed under this process (a full disk, an I/O error,
 * corruption): whatever the next start finds in it, it rebuilds it rather
 * than trusting it. Replaces the marker, so the file is not closed cleanly.
 */
export function markFailed(journalDir: string, reason: string, bootId = currentBootId()): void {
  replaceMarker(journalDir, { bootId, pid: process.pid, openedAt: new Date().toISOString(), failed: reason });
}

/** Write the marker beside the old one and rename it over: a failed write leaves the old marker as it was. */
function replaceMarker(journalDir: string, marker: Marker): void {
  const file = path.join(journalDir, OPEN_MARKER_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(fd, `${JSON.stringify(marker)}\n`);
      fs.fdatasyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (error) {
    fs.rmSync(tmp, { force: true });
    throw error;
  }
  syncDir(journalDir);
}

/** After a clean close: sync the database file, then remove the marker. */
export function clearOpenMarker(journalDir: string, dbFile: string): void {
  for (const file of [dbFile, `${dbFile}-wal`]) {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r+');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    try {
      fs.fdatasyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
  fs.rmSync(path.join(journalDir, OPEN_MARKER_FILE), { force: true });
  syncDir(journalDir);
}

function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
