// The catalog's SQLite schema. Bump CATALOG_SCHEMA_VERSION on any change:
// an existing catalog with another version is rebuilt from the journal.

export const CATALOG_SCHEMA_VERSION = 2;
export const CATALOG_FILE = 'catalog.sqlite';

/**
 * "Alive at tx N" is answered by an interval index on a plain B-tree (the
 * binning scheme of genome browsers): a session that ended is the interval
 * [startedAfterTx, endedAtTx] of span endedAtTx - startedAfterTx. It goes to
 * level L, the smallest with span < 2^L, and bucket floor(startedAfterTx / 2^L).
 * Alive at N means startedAfterTx < N <= endedAtTx, so at level L the start lies
 * in (N - 2^L, N - 1]: at most two buckets. A query probes two buckets per
 * level, each an index range over sessions started within the last 2^L
 * transactions that are that long; it never scans sessions far from N.
 * Sessions still open go to OPEN_LEVEL with bucket = startedAfterTx.
 */
export const OPEN_LEVEL = 63;
/** Levels 1 .. MAX_LEVEL are probed (level 0, span 0, is never alive at any tx). */
export const MAX_LEVEL = 53;

export function spanLevel(startedAfterTx: number, endedAtTx: number | null): number {
  if (endedAtTx === null) return OPEN_LEVEL;
  const span = Math.max(0, endedAtTx - startedAfterTx);
  return span === 0 ? 0 : Math.min(MAX_LEVEL, Math.floor(Math.log2(span)) + 1);
}

export function spanBucket(startedAfterTx: number, level: number): number {
  return level === OPEN_LEVEL ? startedAfterTx : Math.floor(startedAfterTx / 2 ** level);
}

/** Tables, created empty. Secondary indexes come after a bulk build (INDEXES). */
export const TABLES = `
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value
) WITHOUT ROWID;

CREATE TABLE code_versions (
  id   INTEGER PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE
);

-- One row per session. Times are milliseconds since the epoch; positions are
-- journal positions. status: ok | error | aborted | open.
CREATE TABLE sessions (
  id             INTEGER PRIMARY KEY,
  kind           TEXT NOT NULL,
  route          TEXT NOT NULL,
  status         TEXT NOT NULL,
  startedAt      NUMERIC NOT NULL,
  endedAt        NUMERIC,
  startedAfterTx INTEGER NOT NULL,
  endedAtTx      INTEGER,
  startPosition  INTEGER NOT NULL,
  lastPosition   INTEGER NOT NULL,
  endPosition    INTEGER,
  attempts       INTEGER NOT NULL,
  codeVersion    INTEGER NOT NULL,
  idempotencyKey TEXT,
  spanLevel      INTEGER NOT NULL,
  spanBucket     INTEGER NOT NULL
);

CREATE TABLE write_txs (
  tx          INTEGER PRIMARY KEY,
  session     INTEGER,
  position    INTEGER NOT NULL,
  committedAt NUMERIC NOT NULL,
  readAtTx    INTEGER NOT NULL,
  migration   TEXT
);

CREATE TABLE checkpoints (
  position INTEGER PRIMARY KEY,
  session  INTEGER NOT NULL,
  label    TEXT NOT NULL
);

CREATE TABLE snapshots (
  position INTEGER PRIMARY KEY,
  tx       INTEGER NOT NULL,
  at       NUMERIC NOT NULL,
  file     TEXT NOT NULL,
  bytes    INTEGER NOT NULL,
  sha256   TEXT NOT NULL,
  -- The position of the snapshot-removed record for its file (NULL: not removed).
  removedBy INTEGER
);

CREATE TABLE process_starts (
  position    INTEGER PRIMARY KEY,
  at          NUMERIC NOT NULL,
  codeVersion TEXT NOT NULL,
  pid         INTEGER NOT NULL,
  durability  TEXT NOT NULL,
  node        TEXT NOT NULL
);

CREATE TABLE duplicate_requests (
  position        INTEGER PRIMARY KEY,
  at              NUMERIC NOT NULL,
  originalSession INTEGER NOT NULL,
  idempotencyKey  TEXT NOT NULL,
  route           TEXT NOT NULL
);
`;

export const INDEXES = `
CREATE INDEX sessions_span ON sessions (spanLevel, spanBucket, startedAfterTx, endedAtTx);
CREATE INDEX sessions_started_at ON sessions (startedAt);
CREATE INDEX sessions_open ON sessions (id) WHERE status = 'open';
CREATE INDEX checkpoints_session ON checkpoints (session, position);
CREATE INDEX write_txs_session ON write_txs (session, tx) WHERE session IS NOT NULL;
CREATE INDEX write_txs_committed_at ON write_txs (committedAt);
`;

/** Keys of the meta table. */
export const META = {
  schemaVersion: 'schemaVersion',
  journalId: 'journalId',
  /** The scan's committed end: everything before it is indexed. A batch boundary. */
  indexedUpTo: 'indexedUpTo',
  lastSeq: 'lastSeq',
  chainHead: 'chainHead',
  /** The last write transaction indexed (0 if none). */
  lastTx: 'lastTx',
  /** JSON: [[segment, size, mtimeMs], ...] of the segment files when last indexed. */
  files: 'files',
  /** JSON Damage or null: corruption where indexing stopped. */
  corruption: 'corruption',
  /** Unacknowledged bytes after indexedUpTo at the last scan. */
  tailBytes: 'tailBytes',
} as const;
