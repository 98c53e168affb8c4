import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../model/errors.js';
import type { JournalRecord, Position } from '../model/records.js';
import { openJournal } from './journal-access.js';
import { checkOutputPath, writeOutputFile } from './output-path.js';
import { summarize } from './show.js';
import { parseTime } from './time.js';

// `replay export --format chrome-trace`: the sessions and their steps on a
// timeline that Perfetto (ui.perfetto.dev) and chrome://tracing open. Each
// session is a slice on a lane of its own while it runs; calls are nested
// slices from their start to their result; transactions, reads, checkpoints
// and values are instants; the transactions also form a track of their own.

export interface ExportOptions {
  journal: string;
  format: string;
  out: string;
  kind?: string;
  since?: string;
  until?: string;
  /** At most this many sessions, the most recent (default 10,000). */
  limit?: number;
  /** Overwrite an existing file at `out`. */
  force?: boolean;
}

export interface ExportResult {
  format: 'chrome-trace';
  out: string;
  sessions: number;
  events: number;
}

interface TraceEvent {
  name: string;
  cat: string;
  ph: 'X' | 'i' | 'M';
  ts?: number;
  dur?: number;
  pid: number;
  tid: number;
  s?: 't' | 'p' | 'g';
  args?: Record<string, unknown>;
}

const SESSIONS_PID = 1;
const TX_PID = 2;

export function exportTrace(options: ExportOptions): ExportResult {
  if (options.format !== 'chrome-trace') throw new UsageError(`--format must be chrome-trace, got "${options.format}"`);
  const limit = options.limit ?? 10_000;
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a whole number from 1, got ${options.limit}`);
  const force = options.force === true;
  const out = checkOutputPath(options.out, { flag: '--out', journal: options.journal, replaced: false, existing: { force } });
  // Nothing there now (or a device, or a descriptor already open): a file that appears meanwhile is not overwritten either.
  const create = !force && !fs.existsSync(out) && !isLink(out);
  const journal = openJournal(options.journal);
  try {
    const corrupt = journal.catalog.corruptionError('cannot export every session');
    if (corrupt) throw corrupt;
    const sessions = journal.catalog.sessions({
      kind: options.kind,
      since: options.since ? parseTime(options.since, '--since') : undefined,
      until: options.until ? parseTime(options.until, '--until') : undefined,
      limit,
    });
    const origin = sessions.length > 0 ? Math.min(...sessions.map((s) => s.startedAt)) : 0;
    const us = (ms: number): number => Math.round((ms - origin) * 1000);
    const events: TraceEvent[] = [
      { name: 'process_name', cat: '__metadata', ph: 'M', pid: SESSIONS_PID, tid: 0, args: { name: `sessions (${path.basename(journal.journalDir)})` } },
      { name: 'process_name', cat: '__metadata', ph: 'M', pid: TX_PID, tid: 0, args: { name: 'write transactions' } },
    ];
    // Lanes: a session takes the first lane free when it starts, so overlapping sessions sit on separate rows.
    const laneEnds: number[] = [];
    for (const session of sessions) {
      const end = session.endedAt ?? Math.max(session.startedAt, lastTime(journal.reader.sessionRecords(session.lastPosition)));
      let lane = laneEnds.findIndex((e) => e <= session.startedAt);
      if (lane < 0) lane = laneEnds.push(0) - 1;
      laneEnds[lane] = end;
      const tid = lane + 1;
      events.push({
        name: `${session.kind} #${session.id}`,
        cat: `session,${session.status}`,
        ph: 'X',
        ts: us(session.startedAt),
        dur: Math.max(1, us(end) - us(session.startedAt)),
        pid: SESSIONS_PID,
        tid,
        args: { session: session.id, status: session.status, route: session.route, startedAfterTx: session.startedAfterTx, endedAtTx: session.endedAtTx, attempts: session.attempts },
      });
      events.push(...stepEvents(journal.reader.sessionRecords(session.lastPosition).map((r) => ({ position: r.position, record: r.record })), tid, us, session.startedAt));
    }
    for (const event of events) if (event.pid === TX_PID) event.tid = 1;
    const trace = { traceEvents: events, displayTimeUnit: 'ms', otherData: { journal: journal.journalDir, exportedBy: 'replay export' } };
    writeOutputFile(out, JSON.stringify(trace, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)), '--out', { create });
    return { format: 'chrome-trace', out, sessions: sessions.length, events: events.length };
  } finally {
    journal.close();
  }
}

function lastTime(records: { record: JournalRecord }[]): number {
  let last = 0;
  for (const { record } of records) {
    const at = record.kind === 'write-tx' ? record.committedAt : 'at' in record && typeof record.at === 'number' ? record.at : 0;
    if (at > last) last = at;
  }
  return last;
}

function stepEvents(records: { position: Position; record: JournalRecord }[], tid: number, us: (ms: number) => number, startedAt: number): TraceEvent[] {
  const events: TraceEvent[] = [];
  const callStarts = new Map<number, { at: number; name: string; position: Position }>();
  let clock = startedAt;
  for (const { position, record } of records) {
    const at = record.kind === 'write-tx' ? record.committedAt : 'at' in record && typeof record.at === 'number' ? record.at : clock;
    clock = at;
    const args = { position, summary: summarize(record) };
    switch (record.kind) {
      case 'call-start':
        callStarts.set(record.call, { at, name: record.name, position });
        break;
      case 'call-result': {
        const start = callStarts.get(record.call);
        if (start) {
          events.push({ name: `call ${start.name}`, cat: record.ok ? 'call' : 'call,failed', ph: 'X', ts: us(start.at), dur: Math.max(1, us(at) - us(start.at)), pid: SESSIONS_PID, tid, args: { ...args, startPosition: start.position } });
          callStarts.delete(record.call);
        }
        break;
      }
      case 'write-tx':
        events.push({ name: `tx ${record.tx}`, cat: 'tx', ph: 'i', s: 't', ts: us(at), pid: SESSIONS_PID, tid, args });
        events.push({ name: `tx ${record.tx}`, cat: 'tx', ph: 'i', s: 't', ts: us(at), pid: TX_PID, tid: 1, args: { ...args, session: record.session } });
        break;
      case 'session-start':
      case 'session-end':
        break;
      default:
        events.push({ name: record.kind, cat: record.kind, ph: 'i', s: 't', ts: us(at), pid: SESSIONS_PID, tid, args });
    }
  }
  // A call the session was still waiting on when it ended (or crashed).
  for (const [call, start] of callStarts) {
    events.push({ name: `call ${start.name} (no result)`, cat: 'call,in-doubt', ph: 'i', s: 't', ts: us(start.at), pid: SESSIONS_PID, tid, args: { call, position: start.position } });
  }
  return events;
}

/** A symbolic link, dangling or not: written through (O_EXCL would refuse any link), after checkOutputPath vetted where it leads. */
function isLink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}
