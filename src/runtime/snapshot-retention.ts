import type { TxId } from '../model/records.js';

// Which database snapshots to keep (docs/server.md, "Snapshots"). A snapshot
// only shortens rebuilds: rebuilding the state as of transaction T starts
// from the latest snapshot at or before T. With at most `keep` of them and an
// ever longer journal, the newest are kept dense and older ones thinned out,
// so that the journal a rebuild replays stays roughly proportional to how
// far back T is, and recent states (the ones a restart and most winds need)
// stay cheap.

/** The default of `--snapshot-keep`. */
export const DEFAULT_SNAPSHOT_KEEP = 32;

/** The file names the runtime gives snapshots (relative to the journal directory). */
const RUNTIME_SNAPSHOT = /^snapshots\/tx-\d{10,}\.sqlite$/;

export interface RetainedSnapshot {
  tx: TxId;
  /** Relative to the journal directory, as its snapshot record names it. */
  file: string;
}

/** Whether retention may remove this file: only snapshots the runtime wrote, inside the journal directory. */
export function isRuntimeSnapshot(file: string): boolean {
  return RUNTIME_SNAPSHOT.test(file);
}

/**
 * The snapshots to remove so that at most `keep` remain (0: keep all), in
 * the order they should be removed. `snapshots` is in journal order; the
 * newest is never removed. Each step removes the snapshot whose removal
 * costs least relative to its age: merging the gap before it with the one
 * after it makes states just before the next snapshot rebuild from the one
 * before, so the cost is that merged gap divided by the age of the next
 * snapshot (transactions from it to the newest). Removing one at a time by
 * this rule leaves gaps that grow geometrically with age.
 */
export function snapshotsToRemove(snapshots: readonly RetainedSnapshot[], keep: number): RetainedSnapshot[] {
  if (keep <= 0 || snapshots.length <= keep) return [];
  const kept = [...snapshots].sort((a, b) => a.tx - b.tx);
  const removed: RetainedSnapshot[] = [];
  while (kept.length > keep) {
    const newest = kept[kept.length - 1].tx;
    let victim = 0;
    let least = Infinity;
    for (let i = 0; i < kept.length - 1; i++) {
      const before = i === 0 ? 0 : kept[i - 1].tx; // 0: the empty database
      const cost = (kept[i + 1].tx - before) / (newest - kept[i + 1].tx + 1);
      if (cost < least) {
        least = cost;
        victim = i;
      }
    }
    removed.push(kept.splice(victim, 1)[0]);
  }
  return removed;
}
