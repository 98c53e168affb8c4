import { randomBytes, randomUUID } from 'node:crypto';
import { format } from 'node:util';
import type { JournalWriter } from '../journal/index.js';
import type { AppendableRecord, ErrorInfo, JournalRecord, Position, SessionId, SessionStatus, Transport } from '../model/records.js';
import type { EffectRecord, Positioned } from '../executor/history.js';
import { Abandonment, executeSession, errorInfo, SessionAbandonedError, type AttemptOutcome } from '../executor/execute.js';
import { renderResponse, type RenderedResponse } from '../executor/transports.js';
import type { AppendResult, LiveEffects, SessionIdentity, SessionJournal, SessionRecordDraft } from '../executor/types.js';
import { realmOf, type LoadedApp } from './app-host.js';
import type { Secrets } from './secrets.js';
import type { LiveStore } from './live-store.js';

// Runs sessions live: journals the start, runs attempts through the executor
// (retrying from the last checkpoint when the app asks, or from the start
// when it has taken none), journals the
// response and waits until it is durable before anyone may send it, then
// journals the end.

/**
 * Attempts a session may run, counting retries (a RetryableError); a resume
 * after a crash re-runs the attempt the crash cut, and is not one more.
 */
export const MAX_ATTEMPTS = 3;

export interface SessionRequest {
  kind: string;
  route: string;
  transport: Transport;
  input: unknown;
  idempotencyKey: string | null;
  meta: Record<string, string>;
  rpcId?: unknown;
}

export interface SessionResult {
  session: SessionId;
  status: SessionStatus;
  response: RenderedResponse;
  /** Where the session's end record is: its records (the response among them) can be read back from there. */
  endPosition: Position;
}

export interface SessionHooks {
  /** Performs an external call made with ctx.call() or fetch(). */
  call(name: string, request: unknown, idempotencyKey: string): Promise<unknown>;
  /** Console output of live sessions. */
  log?(session: SessionId, level: string, text: string): void;
  /** A resumed or retried attempt asked for another effect than its journal holds (LiveEffects.nondeterminism). */
  nondeterminism?(session: SessionId, message: string): void;
  /** A session ended; `failure` is its error when its response is a 5xx (the app's bug or an outage, not a business error). */
  ended?(session: SessionId, status: SessionStatus, failure?: ErrorInfo): void;
}

/** The last `durable` promise marked handled, shared by one runner's sessions (see LiveSessionJournal.append). */
export interface HandledDurability {
  last: Promise<void> | null;
}

/**
 * Appends one session's records, keeping its `prev` chain, and remembers its
 * effects (for a retry). The one place where live session records reach the
 * journal: an app's secrets are taken out of them here (docs/server.md,
 * "Secrets"), in a copy, so that the app and a retry keep what really
 * happened.
 */
export class LiveSessionJournal implements SessionJournal {
  readonly effects: Positioned<EffectRecord>[] = [];
  private last: Position | null;

  constructor(
    private readonly writer: JournalWriter,
    readonly session: SessionId,
    last: Position | null = null,
    private readonly handled: HandledDurability = { last: null },
    /** The app's secrets; null (no secret to hide) costs one check a record. */
    private readonly secrets: Secrets | null = null,
  ) {
    this.last = last;
  }

  /**
   * The draft becomes the record: its `session` and `prev` are set in place
   * (every caller hands over a fresh object). Copying it with a spread cost
   * about 0.3 µs a record, drafts of every kind passing through one site.
   */
  append(draft: SessionRecordDraft): AppendResult {
    const record = draft as unknown as AppendableRecord & { session: SessionId; prev: Position | null };
    record.session = this.session;
    record.prev = this.last;
    const appended = this.writer.append(this.secrets === null ? record : this.secrets.redact(record));
    // Records of one group commit share one promise, and most appends never
    // await theirs: mark it handled, so that a journal failure (fail-stop)
    // rejects those who wait without crashing the process as unhandled. Once
    // per promise is enough (consecutive appends, of any session, mostly share
    // the open batch's), and spares a derived promise per record.
    if (appended.durable !== this.handled.last) {
      this.handled.last = appended.durable;
      appended.durable.catch(() => {});
    }
    this.last = appended.position;
    if (isEffectKind(record.kind)) this.effects.push({ position: appended.position, record: record as EffectRecord });
    return appended;
  }
}

/** What the log says of an attempt that ended without an effect it was served. */
function unconsumedLine(id: SessionId, attempt: number, first: Positioned<EffectRecord>): string {
  const what = first.record.kind === 'call-start' ? `call ${first.record.call} (${first.record.name})` : `${first.record.kind} record`;
  const inDoubt = first.record.kind === 'call-start' ? ', a call it never made again' : '';
  return `nondeterminism detected while resuming session ${id}: attempt ${attempt} ended without the ${what} at position ${first.position} that the attempt it re-ran journaled${inDoubt} (replay show ${id} lists its attempts)`;
}

function isEffectKind(kind: JournalRecord['kind']): boolean {
  return kind === 'value' || kind === 'call-start' || kind === 'call-result' || kind === 'write-tx' || kind === 'read-tx' || kind === 'checkpoint';
}

export class SessionRunner {
  private nextId: SessionId;
  private readonly handled: HandledDurability = { last: null };
  /** Sessions being run or resumed now (for what the server says of a stray rejection). */
  private readonly running = new Set<SessionId>();
  /** Aborted by abandon(): every attempt running stops, and none starts. */
  private readonly abandonment = new Abandonment();

  constructor(
    private readonly app: LoadedApp,
    private readonly writer: JournalWriter,
    private readonly store: LiveStore,
    private readonly hooks: SessionHooks,
    private readonly settings: { lastSessionId: SessionId; keyPrefix: string; timeZone: string; locale: string },
  ) {
    this.nextId = settings.lastSessionId + 1;
  }

  /** The sessions running now, oldest first. */
  runningSessions(): SessionId[] {
    return [...this.running];
  }

  /**
   * Stop every session still running, where it is, and start none: the
   * server has stopped waiting for them (shutdown after its drain timeout).
   * Their attempts journal nothing more and perform nothing more (their
   * timers are cleared, call outcomes dropped), and their run() or resume()
   * rejects with SessionAbandonedError; they stay open in the journal, and
   * the next start resumes them. What they journaled so far stays.
   */
  abandon(): void {
    this.abandonment.abort();
  }

  /** Run a new session to its end. Resolves once its response is durable. `started` learns its id at once. */
  async run(request: SessionRequest, started?: (session: SessionId) => void): Promise<SessionResult> {
    const id = this.nextId++;
    if (this.abandonment.aborted) throw new SessionAbandonedError(id);
    started?.(id);
    const journal = new LiveSessionJournal(this.writer, id, null, this.handled, this.app.secrets);
    journal.append({
      kind: 'session-start',
      at: Date.now(),
      sessionKind: request.kind,
      route: request.route,
      transport: request.transport,
      input: request.input,
      codeVersion: this.app.bundle.codeVersion,
      startedAfterTx: this.store.lastTx,
      idempotencyKey: request.idempotencyKey,
      meta: request.meta,
    });
    return this.attempts(id, journal, this.app, request, 1, []);
  }

  /**
   * Resume a session a crash interrupted: a new attempt re-executes it from
   * its start, served every effect the journal holds, and goes on live.
   * The journal holds placeholders where the session had secrets: the
   * request and the effects it is served get the secrets back, so that the
   * live code compares equal with them and sees what it saw before.
   * `retried` is how many retries its attempts so far made: they count
   * against MAX_ATTEMPTS as if no crash had come between.
   */
  async resume(
    id: SessionId,
    app: LoadedApp,
    request: SessionRequest,
    lastPosition: Position,
    attempt: number,
    inherited: Positioned<EffectRecord>[],
    retried = 0,
  ): Promise<SessionResult> {
    if (this.abandonment.aborted) throw new SessionAbandonedError(id);
    const secrets = app.secrets;
    if (secrets !== null) {
      request = { ...request, input: secrets.restoreValue(request.input), meta: secrets.restoreValue(request.meta) as Record<string, string> };
      inherited = inherited.map((e) => ({ position: e.position, record: secrets.restore(e.record) }));
    }
    const journal = new LiveSessionJournal(this.writer, id, lastPosition, this.handled, secrets);
    journal.effects.push(...inherited);
    journal.append({ kind: 'session-attempt', at: Date.now(), attempt, reason: 'resume', fromCheckpoint: null, codeVersion: app.bundle.codeVersion });
    return this.attempts(id, journal, app, request, attempt, inherited, retried);
  }

  /** End a session that cannot be resumed, with the reason. Resolves with the position of its end record, once durable. */
  async abort(id: SessionId, lastPosition: Position, reason: string): Promise<Position> {
    const journal = new LiveSessionJournal(this.writer, id, lastPosition, this.handled);
    const appended = journal.append({ kind: 'session-end', at: Date.now(), status: 'aborted', error: { name: 'Aborted', message: reason }, randomDraws: 0 });
    this.hooks.ended?.(id, 'aborted');
    await appended.durable;
    return appended.position;
  }

  private async attempts(
    id: SessionId,
    journal: LiveSessionJournal,
    app: LoadedApp,
    request: SessionRequest,
    firstAttempt: number,
    served: Positioned<EffectRecord>[],
    retried = 0,
  ): Promise<SessionResult> {
    this.running.add(id);
    try {
      let attempt = firstAttempt;
      let retries = retried;
      let outcome: AttemptOutcome;
      for (;;) {
        outcome = await executeSession({
          realm: realmOf(app),
          session: this.identity(id, request, attempt),
          served,
          live: this.live(journal, id, app.secrets),
          abandon: this.abandonment,
        });
        // Effects of the attempt it re-runs that it never asked for: not the same execution (a call in doubt left unmade).
        if (outcome.unconsumed.length > 0) this.hooks.nondeterminism?.(id, unconsumedLine(id, attempt, outcome.unconsumed[0]));
        if (outcome.status !== 'retry' || retries >= MAX_ATTEMPTS - 1) break;
        // Wind back to the last checkpoint: what came before it is served, the rest runs again.
        // No checkpoint of the app's own yet (none is journaled for it): from the start, served nothing.
        if (this.abandonment.aborted) throw new SessionAbandonedError(id);
        attempt++;
        retries++;
        const from = outcome.lastCheckpoint;
        served = from === null ? [] : journal.effects.filter((e) => e.position <= from);
        journal.append({ kind: 'session-attempt', at: Date.now(), attempt, reason: 'retry', fromCheckpoint: from, codeVersion: app.bundle.codeVersion });
      }
      const response = renderResponse(request.transport, { ok: outcome.status === 'ok', output: outcome.output, error: outcome.thrown, rpcId: request.rpcId });
      const ok = outcome.status === 'ok' && response.replacedBy === undefined;
      const error = ok ? null : response.replacedBy !== undefined ? errorInfo(response.replacedBy, false) : (outcome.error as ErrorInfo);
      response.headers['windback-session'] = String(id);
      const written = journal.append({ kind: 'response', at: Date.now(), status: response.status, headers: response.headers, body: response.body });
      const status: SessionStatus = ok ? 'ok' : 'error';
      const end = journal.append({ kind: 'session-end', at: Date.now(), status, error, randomDraws: outcome.randomDraws });
      // Only a retry reads the effects back. What a session leaves behind tends
      // to survive young-generation GCs until the next full GC (its module
      // instance keeps its scope, bridge and executor, and through them this
      // journal: about 8 KB a deposit was promoted, docs/benchmarks.md), so let
      // go of the records now rather than have them copied and promoted.
      journal.effects.length = 0;
      // The response leaves only once it is durable in the chosen mode.
      await written.durable;
      this.hooks.ended?.(id, status, response.status >= 500 && error !== null ? error : undefined);
      return { session: id, status, response, endPosition: end.position };
    } finally {
      this.running.delete(id);
    }
  }

  private identity(id: SessionId, request: SessionRequest, attempt: number): SessionIdentity {
    return {
      id,
      kind: request.kind,
      route: request.route,
      input: request.input,
      attempt,
      config: this.app.config,
      timeZone: this.settings.timeZone,
      locale: this.settings.locale,
      keyPrefix: `${this.settings.keyPrefix}-${id}`,
    };
  }

  private live(journal: LiveSessionJournal, id: SessionId, secrets: Secrets | null): LiveEffects {
    const side = new LiveSide(journal, this.store, this.hooks, id, performance.now());
    if (secrets !== null) side.redact = (value) => secrets.redactValue(value);
    return side;
  }
}

/**
 * The live side of one attempt. A class rather than an object of closures:
 * one allocation per attempt instead of ten (the executor calls these as
 * methods).
 */
class LiveSide implements LiveEffects {
  /** Set for an app with secrets (LiveEffects.redact). */
  redact?: (value: unknown) => unknown;

  constructor(
    readonly journal: LiveSessionJournal,
    readonly database: LiveStore,
    private readonly hooks: SessionHooks,
    private readonly id: SessionId,
    private readonly start: number,
  ) {}

  call(name: string, request: unknown, key: string): Promise<unknown> {
    return this.hooks.call(name, request, key);
  }

  now(): number {
    return Date.now();
  }

  monotonicNow(): number {
    return performance.now() - this.start;
  }

  randomSeed(): number[] {
    return Array.from(new Uint32Array(randomBytes(16).buffer));
  }

  uuid(): string {
    return randomUUID();
  }

  randomBytes(length: number): Uint8Array {
    return new Uint8Array(randomBytes(length));
  }

  log(level: string, args: readonly unknown[]): void {
    this.hooks.log?.(this.id, level, format(...args));
  }

  nondeterminism(message: string): void {
    this.hooks.nondeterminism?.(this.id, message);
  }
}

export { errorInfo, SessionAbandonedError };
