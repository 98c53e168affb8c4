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
