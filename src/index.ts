// Windback's programmatic API. The `replay` CLI is bin/replay.js.
export * from './model/index.js';
export {
  openJournalWriter,
  JournalReader,
  JournalWriter,
  type OpenWriterOptions,
  type OpenedWriter,
  type Recovery,
  type Appended,
  type PositionedRecord,
  type ScanResult,
} from './journal/index.js';

// Replay from code: open a journal, re-execute a session, or step through it
// (docs/replay.md, "Stepping API").
export { openJournal, type OpenJournal } from './services/journal-access.js';
export { replaySession, RealmCache, type ReplayOptions, type ReplayResult, type ReplayObserver, type ReplayStep } from './replay/engine.js';
export { Stepper, type StepState, type StepperOptions, type RecordedStep } from './replay/stepper.js';
export type { Divergence } from './executor/types.js';

// Record from code: what `replay record` runs, in your own process (docs/server.md).
export { startServer, type ServerOptions, type RunningServer } from './runtime/server.js';

// The app API: what an app imports (`import { defineApp, RetryableError } from
// 'windback'`) and the types it compiles against. Inside `replay record` the
// sandbox provides its own copy of these (docs/sandbox.md, "The app API");
// these are the same code, so an app module also loads outside Windback (in a
// unit test of its handlers, say).
export { defineApp } from './sandbox/app.js';
export { RetryableError, DeterminismError } from './sandbox/errors.js';
export type {
  AppDefinition,
  AppConsole,
  CallOptions,
  KindHandler,
  Migration,
  ReadDb,
  RouteDefinition,
  RunResult,
  SessionContext,
  SessionInfo,
  SqlParam,
  WriteDb,
} from './sandbox/app-types.js';
