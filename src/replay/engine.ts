import { NotFoundError } from '../model/errors.js';
import type { ProcessStartRecord, SessionId, TxId } from '../model/records.js';
import { bundleApp, loadStoredBundle, type AppBundle } from '../executor/bundle.js';
import { executeSession } from '../executor/execute.js';
import { sessionHistory, type Attempt, type Positioned } from '../executor/history.js';
import { CodeRealm } from '../executor/realm.js';
import { renderResponse, rpcIdOf } from '../executor/transports.js';
import type { Divergence, ExecutionObserver, ReplayDatabase } from '../executor/types.js';
import { appDb, type SqliteStore } from '../store/index.js';
import { StateCache, type JournalAccess } from './state.js';

// Re-executes one recorded session, attempt by attempt, in a fresh vm scope
// with the code it was recorded with (or other code), against the database as
// of each transaction it read, and compares what it does with the journal.

export interface ReplayOptions {
  /** Run this app entry instead of the recorded code (a what-if replay). */
  code?: string;
  /** Compare values, digests, return values and checkpoint states too. Default: on for recorded code. */
  strict?: boolean;
  keepGoing?: boolean;
  observer?: ExecutionObserver;
  /** Pause an attached debugger at the start of each attempt. */
  pauseAtStart?: boolean;
}

export interface ReplayResult {
  session: SessionId;
  equal: boolean;
  /** Recorded steps compared. */
  steps: number;
  divergence: Divergence | null;
  divergences: Divergence[];
  attempts: number;
}

/** Realms by code version (or entry), and database states, shared by the sessions one process replays. */
export class RealmCache {
  private readonly realms = new Map<string, CodeRealm>();
  private readonly bundles = new Map<string, Promise<AppBundle>>();
  private stateCache: StateCache | null = null;
  /** Process-start records by position (a record at a position never changes). */
  readonly processStarts = new Map<number, ProcessStartRecord>();

  states(access: JournalAccess): StateCache {
    this.stateCache ??= new StateCache(access);
    return this.stateCache;
  }

  /** Close the database states kept open for reuse (the realms need nothing). */
  close(): void {
    this.stateCache?.close();
  }

  async realmFor(access: JournalAccess, codeVersion: string, code: string | undefined, zone: { timeZone: string; locale: string }): Promise<CodeRealm> {
    const key = `${code ?? codeVersion}|${zone.timeZone}|${zone.locale}`;
    let realm = this.realms.get(key);
    if (!realm || realm.retired) {
      let bundle: AppBundle;
      if (code) {
        let pending = this.bundles.get(code);
        if (!pending) this.bundles.set(code, (pending = bundleApp(code)));
        bundle = await pending;
      } else {
        bundle = loadStoredBundle(access.journalDir, codeVersion);
      }
      realm = CodeRealm.create(bundle, zone);
      this.realms.set(key, realm);
    }
    return realm;
  }
}

export async function replaySession(access: JournalAccess, id: SessionId, options: ReplayOptions = {}, realms = new RealmCache()): Promise<ReplayResult> {
  const row = access.catalog.session(id);
  if (!row) throw new NotFoundError(`unknown session ${id}: the journal holds sessions 1 to ${access.catalog.sessionCount()}`);
  if (row.status === 'open') {
    // On a corrupt journal, an open session's records may go on past the
    // damage: replaying what precedes it would pass for a crashed attempt.
    const corrupt = access.catalog.corruptionError(`cannot replay session ${id}: its records may continue past the damage`);
    if (corrupt) throw corrupt;
  }
  const records = access.reader.sessionRecords(row.lastPosition);
  const history = sessionHistory(records);
  const start = history.start.record;
  const processStart = processStartBefore(access, history.start.position, realms.processStarts);
  const zone = { timeZone: processStart?.timeZone ?? 'UTC', locale: processStart?.locale ?? 'en-US' };
  const strict = options.strict ?? options.code === undefined;
  const keepGoing = options.keepGoing ?? false;
  const indexOf = new Map(records.map((r, i) => [r.position, i]));

  const state = new ReplayState(realms.states(access));
  const divergences: Divergence[] = [];
  let steps = 0;
  try {
    for (let i = 0; i < history.attempts.length; i++) {
      const attempt = history.attempts[i];
      const last = i === history.attempts.length - 1;
      const realm = await realms.realmFor(access, attempt.codeVersion, options.code, zone);
      const compareFrom = attempt.attempt === 1 ? 0 : attemptStart(records, attempt);
      const endsAtCrash = attempt.response === null && !(last && history.end !== null);
      const outcome = await executeSession({
        realm,
        session: {
          id,
          kind: start.sessionKind,
          route: start.route,
          input: start.input,
          attempt: attempt.attempt,
          config: processStart?.config ?? {},
          timeZone: zone.timeZone,
          locale: zone.locale,
          keyPrefix: `replay-${id}`,
        },
        served: attempt.effects,
        live: null,
        replay: { database: state, strict, keepGoing, compareFrom, endsAtCrash },
        observer: options.observer,
        pauseAtStart: options.pauseAtStart,
      });
      const own = attempt.effects.filter((e) => e.position >= compareFrom);
      steps += own.length;
      for (const d of outcome.divergences) divergences.push(withStep(d, indexOf, records.length));
      if (outcome.divergences.length > 0 && !keepGoing) break;
      if (!outcome.stopped) {
        const missing = outcome.unconsumed.filter((e) => e.position >= compareFrom);
        if (missing.length > 0 && !outcome.stalled) {
          divergences.push(
            withStep(
              {
                step: 0,
                position: missing[0].position,
                kind: 'missing-step',
                expected: missing[0].record,
                actual: null,
                location: null,
                construct: null,
                message: `the replay ended without the recorded ${missing[0].record.kind} at position ${missing[0].position}`,
              },
              indexOf,
              records.length,
            ),
          );
          if (!keepGoing) break;
        }
      }
      if (attempt.response && !outcome.stopped) {
        steps++;
        const recorded = attempt.response.record;
        const rendered = renderResponse(start.transport, { ok: outcome.status === 'ok', output: outcome.output, error: outcome.thrown, rpcId: rpcIdOf(start.meta) });
        if (rendered.status !== recorded.status || !Buffer.from(rendered.body).equals(Buffer.from(recorded.body))) {
          divergences.push({
            step: indexOf.get(attempt.response.position) ?? records.length,
            position: attempt.response.position,
            kind: 'response',
            expected: { status: recorded.status, body: Buffer.from(recorded.body).toString('utf8') },
            actual: { status: rendered.status, body: Buffer.from(rendered.body).toString('utf8') },
            location: null,
            construct: null,
            message:
              rendered.status !== recorded.status
                ? `the response differs: recorded status ${recorded.status}, replayed ${rendered.status}`
                : `the response body differs (status ${recorded.status} both times): recorded ${recorded.body.byteLength} bytes, replayed ${rendered.body.byteLength}`,
          });
          if (!keepGoing) break;
        }
      }
    }
  } finally {
    state.close();
  }
  return { session: id, equal: divergences.length === 0, steps, divergence: divergences[0] ?? null, divergences, attempts: history.attempts.length };
}

function withStep(d: Divergence, indexOf: Map<number, number>, count: number): Divergence {
  return { ...d, step: d.position !== null ? (indexOf.get(d.position) ?? count) : Math.min(d.step, count) };
}

function attemptStart(records: readonly Positioned[], attempt: Attempt): number {
  const opening = records.find((r) => r.record.kind === 'session-attempt' && r.record.attempt === attempt.attempt);
  return opening?.position ?? 0;
}

function processStartBefore(access: JournalAccess, position: number, known: Map<number, ProcessStartRecord>): ProcessStartRecord | null {
  const rows = access.catalog.processStarts().filter((p) => p.position < position);
  const row = rows[rows.length - 1];
  if (!row) return null;
  let record = known.get(row.position);
  if (record === undefined) {
    record = access.reader.readAt(row.position).record as ProcessStartRecord;
    known.set(row.position, record);
  }
  return record;
}

/** The replay side of transactions: re-run each against the state as of the transaction it read. */
class ReplayState implements ReplayDatabase {
  private store: SqliteStore | null = null;
  /** The store holds replayed changes that differ from the recording. */
  private dirty = false;

  constructor(private readonly states: StateCache) {}

  private at(tx: TxId): SqliteStore {
    if (this.store && (this.dirty || this.store.lastAppliedTx !== tx)) this.giveBack();
    // A clean store (the recorded state) goes back to the shared pool; the pool's nearest one serves the next step.
    this.store ??= this.states.acquire(tx);
    return this.store;
  }

  private giveBack(): void {
    if (!this.store) return;
    if (this.dirty) this.store.close();
    else this.states.release(this.store);
    this.store = null;
    this.dirty = false;
  }

  write(recorded: Parameters<ReplayDatabase['write']>[0], body: Parameters<ReplayDatabase['write']>[1]): ReturnType<ReplayDatabase['write']> {
    const store = this.at(recorded.tx - 1);
    const r = store.write(recorded.tx, (db) => body(appDb(db)));
    // Later steps must see the recorded state; replayed changes that differ are discarded.
    this.dirty = JSON.stringify(r.changes, bigintText) !== JSON.stringify(recorded.changes, bigintText);
    return { changes: r.changes, readDigest: r.readDigest, result: r.result };
  }

  read(recorded: Parameters<ReplayDatabase['read']>[0], body: Parameters<ReplayDatabase['read']>[1]): ReturnType<ReplayDatabase['read']> {
    const r = this.at(recorded.readAtTx).read((db) => body(appDb(db)));
    return { readDigest: r.readDigest, result: r.result };
  }

  attempt(recorded: Parameters<ReplayDatabase['attempt']>[0], body: Parameters<ReplayDatabase['attempt']>[1], write: boolean): void {
    const store = this.at(recorded.readAtTx);
    if (!write) {
      store.read((db) => body(appDb(db)));
      return;
    }
    // Expected to throw and roll back; if it commits, the state is not the recording's any more.
    store.write(recorded.readAtTx + 1, (db) => body(appDb(db)));
    this.dirty = true;
  }

  close(): void {
    this.giveBack();
  }
}

function bigintText(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return `${value}n`;
  if (value && typeof value === 'object' && ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  return value;
}
