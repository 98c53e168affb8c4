import type { JournalRecord } from '../model/records.js';

// A record in one line, as `replay show` and the stepping API describe a step.

/** One line a person can read at a glance. */
export function summarize(record: JournalRecord): string {
  switch (record.kind) {
    case 'session-start':
      return `${record.sessionKind} via ${record.transport} ${record.route} ${brief(record.input)}`;
    case 'session-attempt':
      // A retry before any checkpoint of the app's own runs the session again from its start; a resume always does.
      return `attempt ${record.attempt}: ${record.reason}${record.fromCheckpoint !== null ? ` from checkpoint at ${record.fromCheckpoint}` : record.reason === 'retry' ? ' from the start' : ''}`;
    case 'value':
      return `${record.source} = ${brief(record.value)}`;
    case 'call-start':
      return `call ${record.call} ${record.name} ${brief(record.request)} (key ${record.idempotencyKey})`;
    case 'call-result':
      return `call ${record.call} ${record.ok ? 'returned' : 'failed'} ${brief(record.value)}`;
    case 'write-tx':
      return record.migration
        ? `migration ${record.migration}`
        : `tx ${record.tx} read at ${record.readAtTx}: ${record.changes.length} row change${record.changes.length === 1 ? '' : 's'} (${[...new Set(record.changes.map((c) => c.table))].join(', ')})`;
    case 'read-tx':
      return record.error
        ? `${record.write ? 'tx' : 'read'} threw ${record.error.name}: ${record.error.message}`
        : `read at ${record.readAtTx}: ${brief(record.result)}`;
    case 'checkpoint':
      return `checkpoint "${record.label}" ${record.state === null ? '' : brief(record.state)}`.trim();
    case 'response':
      return `response ${record.status}, ${record.body.byteLength} bytes`;
    case 'session-end':
      return `end: ${record.status}${record.error ? ` (${record.error.name}: ${record.error.message}${record.error.location ? ` at ${record.error.location.file}:${record.error.location.line}` : ''})` : ''}`;
    case 'suspension':
      return `suspended: missing ${brief(record.missing)}`;
    case 'duplicate-request':
      return `duplicate of session ${record.originalSession} (key ${record.idempotencyKey})`;
    case 'snapshot':
      return `snapshot at tx ${record.tx}`;
    case 'snapshot-removed':
      return `snapshot at tx ${record.tx} removed (${record.reason})`;
    case 'process-start':
      return `process ${record.pid} started ${record.app}`;
    case 'batch-commit':
      return `batch ${record.seq}`;
    case 'unknown':
      return `record of unknown type ${record.type}`;
  }
}

function brief(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v && v.type === 'Buffer' ? `<${v.data.length} bytes>` : v)) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 72 ? `${text.slice(0, 69)}...` : text;
}
