import type {
  CallResultRecord,
  CallStartRecord,
  CheckpointRecord,
  JournalRecord,
  Position,
  ReadTxRecord,
  ResponseRecord,
  SessionAttemptRecord,
  SessionEndRecord,
  SessionStartRecord,
  SuspensionRecord,
  ValueRecord,
  WriteTxRecord,
} from '../model/records.js';

// A session's records, split into attempts, and the effects each attempt
// finds already in the journal when it starts (DESIGN.md, "Resuming after a
// crash" and "Winding back after a retryable exception").

export interface Positioned<R extends JournalRecord = JournalRecord> {
  position: Position;
  record: R;
}

/** Records that are effects: what a re-execution is served instead of redoing. */
export type EffectRecord = ValueRecord | CallStartRecord | CallResultRecord | WriteTxRecord | ReadTxRecord | CheckpointRecord;

export interface Attempt {
  attempt: number;
  reason: 'first' | 'retry' | 'resume';
  fromCheckpoint: Position | null;
  codeVersion: string;
  at: number;
  /** The attempt's own records, its opening record excluded. */
  records: Positioned[];
  /** The effects this attempt starts with, from earlier attempts. */
  inherited: Positioned<EffectRecord>[];
  /** inherited + the attempt's own effects. */
  effects: Positioned<EffectRecord>[];
  response: Positioned<ResponseRecord> | null;
  suspension: Positioned<SuspensionRecord> | null;
}

export interface SessionHistory {
  start: Positioned<SessionStartRecord>;
  attempts: Attempt[];
  end: Positioned<SessionEndRecord> | null;
}

const EFFECT_KINDS = new Set<JournalRecord['kind']>(['value', 'call-start', 'call-result', 'write-tx', 'read-tx', 'checkpoint']);

export function isEffect(entry: Positioned): entry is Positioned<EffectRecord> {
  return EFFECT_KINDS.has(entry.record.kind);
}

/** Split a session's records (in journal order, the start first) into attempts. */
export function sessionHistory(records: readonly Positioned[]): SessionHistory {
  const first = records[0];
  if (!first || first.record.kind !== 'session-start') throw new Error('a session history must begin with its session-start record');
  const start = first as Positioned<SessionStartRecord>;
  const attempts: Attempt[] = [];
  let end: Positioned<SessionEndRecord> | null = null;
  let current = newAttempt(1, 'first', null, start.record.codeVersion, start.record.at, []);
  for (const entry of records.slice(1)) {
    const record = entry.record;
    if (record.kind === 'session-attempt') {
      attempts.push(current);
      current = newAttempt(record.attempt, record.reason, record.fromCheckpoint, record.codeVersion, record.at, inheritedFor(current, record));
      continue;
    }
    if (record.kind === 'session-end') {
      end = entry as Positioned<SessionEndRecord>;
      continue;
    }
    current.records.push(entry);
    if (isEffect(entry)) current.effects.push(entry);
    else if (record.kind === 'response') current.response = entry as Positioned<ResponseRecord>;
    else if (record.kind === 'suspension') current.suspension = entry as Positioned<SuspensionRecord>;
  }
  attempts.push(current);
  return { start, attempts, end };
}

function newAttempt(
  attempt: number,
  reason: Attempt['reason'],
  fromCheckpoint: Position | null,
  codeVersion: string,
  at: number,
  inherited: Positioned<EffectRecord>[],
): Attempt {
  return { attempt, reason, fromCheckpoint, codeVersion, at, records: [], inherited, effects: [...inherited], response: null, suspension: null };
}

/**
 * A resume inherits everything; a retry inherits up to and including its
 * checkpoint, or nothing when it has none (fromCheckpoint null: the session
 * had taken no checkpoint of its own, and runs again from its start).
 */
function inheritedFor(previous: Attempt, next: SessionAttemptRecord): Positioned<EffectRecord>[] {
  if (next.reason === 'resume') return previous.effects;
  if (next.fromCheckpoint === null) return [];
  return previous.effects.filter((e) => e.position <= next.fromCheckpoint!);
}
