import * as fs from 'node:fs';
import * as path from 'node:path';
import { nodeFileLayer, type FileLayer, type JournalFile } from '../../src/journal/index.js';
import { Rng } from '../helpers/arbitraries.js';

// A FileLayer over the real disk that remembers what each fdatasync and
// directory sync made durable, and calls back before every operation that
// changes the journal, so that a test can take the state a crash would leave
// at that moment. From such a state, `powerCut` makes what a power cut could
// leave when a file is overwritten in place (preallocated space): every
// 512-byte sector written since the file's last completed fdatasync either
// reached the disk or not, in any combination and with no ordering between
// them; a file's size is its synced one or its current one; a file created
// since the last directory sync may be gone. (test/helpers/power-loss-layer.ts
// models a disk that writes back in order; this one does not.)

export const SECTOR = 512;

export interface CrashState {
  /** What happened next: the operation the crash came before. */
  label: string;
  /** Page-cache contents of each segment file: what a process crash leaves. */
  current: Map<string, Buffer>;
  /** Contents as of the start of each file's last completed fdatasync. */
  durable: Map<string, Buffer>;
  /** Names whose directory entries a directory sync made durable. */
  durableNames: Set<string>;
}

export class SyncTracker {
  /** Per file: the contents a completed sync made durable, and when that sync started. */
  private readonly durable = new Map<string, { content: Buffer; started: number }>();
  private durableNames = new Set<string>();
  private clock = 0;

  constructor(
    readonly dir: string,
    private readonly onPoint: (label: string) => void = () => {},
  ) {}

  layer(): FileLayer {
    const tracker = this;
    return {
      ...nodeFileLayer,
      open(file, mode) {
        if (mode === 'create') tracker.onPoint(`create ${path.basename(file)}`);
        return tracker.wrap(nodeFileLayer.open(file, mode));
      },
      remove(file) {
        tracker.onPoint(`remove ${path.basename(file)}`);
        nodeFileLayer.remove(file);
      },
      syncDir(dir) {
        nodeFileLayer.syncDir(dir);
        if (path.resolve(dir) === path.resolve(tracker.dir)) tracker.durableNames = new Set(segmentNames(tracker.dir));
      },
    };
  }

  capture(label: string): CrashState {
    const current = new Map<string, Buffer>();
    for (const name of segmentNames(this.dir)) current.set(name, fs.readFileSync(path.join(this.dir, name)));
    const durable = new Map([...this.durable].map(([name, { content }]) => [name, Buffer.from(content)]));
    return { label, current, durable, durableNames: new Set(this.durableNames) };
  }

  private wrap(file: JournalFile): JournalFile {
    const name = path.basename(file.path);
    // A sync makes durable what was written before it started; one that started
    // earlier and ends later (syncs overlap) must not undo that.
    const begin = (): (() => void) => {
      const started = ++this.clock;
      const content = fs.readFileSync(file.path);
      return () => {
        if ((this.durable.get(name)?.started ?? 0) < started) this.durable.set(name, { content, started });
      };
    };
    return {
      path: file.path,
      write: (data, position) => {
        this.onPoint(`write ${name} at ${position}`);
        file.write(data, position);
      },
      writeAsync: async (data, position) => {
        this.onPoint(`zero-fill ${name} at ${position}`);
        await file.writeAsync!(data, position);
      },
      read: (into, offset, length, position) => file.read(into, offset, length, position),
      datasync: async () => {
        this.onPoint(`datasync ${name}`);
        const complete = begin();
        await file.datasync();
        complete();
      },
      datasyncSync: () => {
        this.onPoint(`datasync ${name}`);
        const complete = begin();
        file.datasyncSync();
        complete();
      },
      size: () => file.size(),
      truncate: (length) => {
        this.onPoint(`truncate ${name} to ${length}`);
        file.truncate(length);
      },
      close: () => file.close(),
    };
  }
}

/** One state a power cut could leave after `state`. */
export function powerCut(state: CrashState, rng: Rng): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  // How likely a sector written since the last sync is to have reached the disk.
  const arrived = rng.pick([0, 0.3, 0.7, 1]);
  for (const [name, current] of state.current) {
    if (!state.durableNames.has(name) && rng.chance(0.5)) continue;
    const synced = state.durable.get(name) ?? Buffer.alloc(0);
    const size = rng.chance(0.5) ? current.length : synced.length;
    const content = Buffer.alloc(size);
    for (let at = 0; at < size; at += SECTOR) {
      const source = rng.chance(arrived) ? current : synced;
      if (at < source.length) source.copy(content, at, at, Math.min(at + SECTOR, size, source.length));
    }
    out.set(name, content);
  }
  return out;
}

/** Only what was synced: every write since a file's last completed sync is lost. */
export function syncedOnly(state: CrashState): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of state.current.keys()) {
    if (state.durableNames.has(name)) out.set(name, Buffer.from(state.durable.get(name) ?? Buffer.alloc(0)));
  }
  return out;
}

export function segmentNames(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((name) => /^\d{8}\.wbj$/.test(name))
    .sort();
}

/** Write `files` as the segments of a fresh journal directory. */
export function materialize(dir: string, files: Map<string, Buffer>): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, content] of files) fs.writeFileSync(path.join(dir, name), content, { mode: 0o600 });
}
