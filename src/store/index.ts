// The store: the SQLite database behind the runtime and replay, with change
// capture and read digests. See docs/store.md.
export type {
  AbortedTx,
  BindArgs,
  LogicalDump,
  MigrationOptions,
  MigrationResult,
  QueryOptions,
  QueryResult,
  ReadResult,
  RunResult,
  SnapshotInfo,
  Store,
  TxDb,
  TxStatement,
  WriteResult,
} from './types.js';
export { SqliteStore, openSqliteStore, openSnapshotCopy, changesDifference, type SqliteStoreOptions, type Synchronous } from './sqlite-store.js';
export { dumpDatabase, dumpLogical, logicalDifference, logicallyEqual, type LogicalSource } from './logical.js';
export { sha256OfFile, sha256OfFileSync } from './files.js';
export { STORE_ERROR, TxOrderError, StoreDivergedError, CorruptSnapshotError } from './errors.js';
export { splitStatements } from './sql-text.js';
export { appDb, type AppDb } from './app-db.js';
export { rollForward } from './roll-forward.js';
export { latestIntactSnapshot, type IntactSnapshot, type PassedOverSnapshot, type RecordedSnapshot, type SnapshotChoice } from './intact-snapshot.js';
