import { OutOfRangeError } from '../model/errors.js';
import type { CheckpointRecord, JournalRecord, Position, SessionId, TxId } from '../model/records.js';
import type { SourceLocation } from '../executor/source-maps.js';
import type { Divergence } from '../executor/types.js';
import { RealmCache, ReplayState, SessionReplay, type AttemptRun, type ReplayObserver, type ReplayStep } from './engine.js';
import type { JournalAccess } from './state.js';
import { summarize } from './summary.js';

// The stepping API (issue 4): next, back and goto over one session's
// records, numbered as `replay show` numbers them. Every move re-executes:
// the attempt that holds the target step runs again, from its start or from
// the nearest checkpoint an earlier run of this stepper found equal (the
// effects before it served from the journal, no transaction re-run), and
// stops right after the target. What the states are is exactly what a full
// replay (replaySession) observes at that step.

export interface StepperOptions {
  /** Run this app entry instead of the recorded code (a what-if replay). */
  code?: string;
  /** As for replaySession: default on for the recorded code, off for `code`. */
  strict?: boolean;
  /** Where a move re-executes from: the start of the attempt, or the nearest checkpoint known equal (default). */
  from?: 'start' | 'checkpoint';
  /** Realms and database states to share with other steppers or replays of the same journal; default: the stepper's own. */
  realms?: RealmCache;
}

/** A record of the session, as `replay show` lists it. */
export interface RecordedStep {
  /** 0-based, as `replay show` and divergences number them. */
  index: number;
  attempt: number;
  kind: JournalRecord['kind'];
  position: Position;
  /** The write transaction's id, or null. */
  tx: TxId | null;
  summary: string;
  record: JournalRecord;
}

/**
 * equal: re-executed (or served) as recorded; diverged: a divergence at this
 * step; not-reached: the replay stopped or ended before it; info: a record
 * that is not compared (session start, attempt, end, suspension).
 */
export type StepVerdict = 'equal' | 'diverged' | 'not-reached' | 'info';

/**
 * The session's checkpoint in force at a step: the journal's latest one at or
 * before it. StepState.checkpoint is null where there is none: the session
 * had taken no checkpoint yet (it runs, and a retry would run it, from its
 * start). Journals recorded before implicit checkpoints were dropped hold a
 * checkpoint "start" at the start of every session (docs/replay.md).
 */
export interface StepCheckpoint {
  /** Its step index (an earlier attempt's, for an inherited one). */
  step: number;
  position: Position;
  label: string;
  state: unknown;
}

export interface StepState {
  index: number;
  attempt: number;
  step: RecordedStep;
  verdict: StepVerdict;
  /**
   * What the re-execution produced: a transaction's changes, digest and
   * result, a read's digest and result, the rendered response ({status,
   * body}); null for steps served as recorded, and where not reached.
   */
  actual: unknown;
  /** Where in the app's source the step was asked for, or null. */
  location: SourceLocation | null;
  divergence: Divergence | null;
  checkpoint: StepCheckpoint | null;
  /** The re-execution behind this state, or null where nothing had to run (an info step). */
  ran: {
    /** The step it re-executed from: the attempt's opening record, or a checkpoint. */
    from: number;
    /** Attempts replayed (earlier ones first, when not yet known equal). */
    attempts: number;
    ms: number;
  } | null;
}

const EFFECTS = new Set<JournalRecord['kind']>(['value', 'call-start', 'call-result', 'write-tx', 'read-tx', 'checkpoint']);
const COMPARED = new Set<JournalRecord['kind']>([...EFFECTS, 'response']);

type Event = { type: 'step'; step: ReplayStep } | { type: 'divergence'; divergence: Divergence };

export class Stepper {
  readonly session: SessionId;
  /** The session's records, as `replay show` numbers them. */
  readonly steps: readonly RecordedStep[];
  private current = -1;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /**
   * Per attempt, the checkpoint steps a run reached with nothing before them
   * diverging, and nothing before them that serving from the journal would
   * hand the app differently from re-running it: a move may re-execute from
   * there and see what a full replay sees.
   */
  private readonly trusted: Set<number>[];
  /** Leading attempts known to replay equal to their end (a full replay goes past them). */
  private equalAttempts = 0;

  private constructor(
    private readonly access: JournalAccess,
    private readonly replay: SessionReplay,
    private readonly realms: RealmCache,
    private readonly ownRealms: boolean,
    private readonly from: 'start' | 'checkpoint',
  ) {
    this.session = replay.id;
    let attempt = 1;
    this.steps = replay.records.map((entry, index) => {
      const record = entry.record;
      if (record.kind === 'session-attempt') attempt = record.attempt;
      return { index, attempt, kind: record.kind, position: entry.position, tx: record.kind === 'write-tx' ? record.tx : null, summary: summarize(record), record };
    });
    this.trusted = replay.history.attempts.map(() => new Set<number>());
  }

  /** Throws NotFoundError for an unknown session (and the journal's corruption error for an open session past damage). */
  static open(access: JournalAccess, session: SessionId, options: StepperOptions = {}): Stepper {
    const from = options.from ?? 'checkpoint';
    if (from !== 'start' && from !== 'checkpoint') throw new TypeError(`from must be 'start' or 'checkpoint', got ${String(from)}`);
    const realms = options.realms ?? new RealmCache();
    const replay = SessionReplay.open(access, session, options, realms);
    return new Stepper(access, replay, realms, options.realms === undefined, from);
  }

  /** The current step: -1 before the first move. */
  get position(): number {
    return this.current;
  }

  next(): Promise<StepState> {
    return this.enqueue(() => this.current + 1);
  }

  back(): Promise<StepState> {
    // Before the first step (-1), back is refused as from the first: "step -1".
    return this.enqueue(() => Math.max(this.current, 0) - 1);
  }

  goto(step: number): Promise<StepState> {
    return this.enqueue(() => step);
  }

  /**
   * An observer for a full replay of this session (replaySession, with the
   * same code and journal) that teaches the stepper what its moves would: the
   * checkpoints that replay reached cleanly. A TUI that has just replayed the
   * session then makes even its first move from a checkpoint.
   */
  learner(): ReplayObserver {
    const byAttempt = new Map<number, { events: Event[]; divergences: Divergence[] }>();
    const of = (attempt: number) => {
      let seen = byAttempt.get(attempt);
      if (!seen) byAttempt.set(attempt, (seen = { events: [], divergences: [] }));
      return seen;
    };
    return {
      step: (step) => of(step.attempt).events.push({ type: 'step', step }),
      divergence: (divergence, attempt) => {
        const seen = of(attempt);
        seen.events.push({ type: 'divergence', divergence });
        seen.divergences.push(divergence);
      },
      end: () => {
        this.replay.history.attempts.forEach((attempt, a) => {
          const seen = byAttempt.get(attempt.attempt);
          // An attempt the replay never reached (it stopped at an earlier divergence) teaches nothing.
          if (seen) this.learn(a, this.replay.openings[a], seen.events, { divergences: seen.divergences, reachedStop: false });
        });
      },
    };
  }

  /** Close the realms' database states, when they are the stepper's own. */
  close(): void {
    this.closed = true;
    if (this.ownRealms) this.realms.close();
  }

  /** Moves run one at a time, each from where the one before left the position. */
  private enqueue(target: () => number): Promise<StepState> {
    const move = async (): Promise<StepState> => {
      if (this.closed) throw new Error(`the stepper of session ${this.session} is closed`);
      const step = target();
      this.check(step);
      const state = await this.stateAt(step);
      this.current = step;
      return state;
    };
    const result = this.queue.then(move, move);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private check(step: number): void {
    const last = this.steps.length - 1;
    if (!Number.isInteger(step) || step < 0 || step > last) {
      throw new OutOfRangeError(`step ${step} is out of range: session ${this.session} has steps 0 to ${last}`);
    }
  }

  private async stateAt(index: number): Promise<StepState> {
    const step = this.steps[index];
    const i = this.replay.attemptOf(index);
    const base = { index, attempt: step.attempt, step, checkpoint: this.checkpointAt(i, step.position) };
    if (!COMPARED.has(step.kind)) return { ...base, verdict: 'info', actual: null, location: null, divergence: null, ran: null };

    const started = performance.now();
    const state = new ReplayState(this.realms.states(this.access));
    let attempts = 0;
    try {
      // A full replay goes through the earlier attempts first and ends at the first that diverges.
      for (let a = this.equalAttempts; a < i; a++) {
        attempts++;
        const earlier = await this.runAttempt(a, state, Infinity);
        if (earlier.run.divergences.length > 0) {
          return { ...base, verdict: 'not-reached', actual: null, location: null, divergence: null, ran: { from: earlier.from, attempts, ms: performance.now() - started } };
        }
      }
      attempts++;
      const { events, from } = await this.runAttempt(i, state, index);
      let reached: ReplayStep | null = null;
      let divergence: Divergence | null = null;
      for (const event of events) {
        if (event.type === 'step') {
          if (reached === null && !event.step.inherited && event.step.step === index) reached = event.step;
        } else if (divergence === null && event.divergence.step === index) {
          divergence = event.divergence;
        }
      }
      return {
        ...base,
        verdict: divergence ? 'diverged' : reached ? 'equal' : 'not-reached',
        actual: reached?.actual ?? null,
        location: reached?.location ?? divergence?.location ?? null,
        divergence,
        ran: { from, attempts, ms: performance.now() - started },
      };
    } finally {
      state.close();
    }
  }

  /** Re-execute attempt `a` up to and including step `target` (Infinity: to its end), from the best start known. */
  private async runAttempt(a: number, state: ReplayState, target: number): Promise<{ run: AttemptRun; events: Event[]; from: number }> {
    const from = this.startFor(a, target);
    const events: Event[] = [];
    const stop = Number.isFinite(target) && this.steps[target].kind !== 'response' ? this.steps[target].position : undefined;
    // The attempt's own records start right after its opening one.
    const compareFrom = from === this.replay.openings[a] ? this.steps[from].position + 1 : this.steps[from].position;
    const run = await this.replay.replayAttempt(a, state, {
      keepGoing: false,
      compareFrom,
      reportFrom: compareFrom,
      stopAfter: stop,
      observer: {
        step: (step) => events.push({ type: 'step', step }),
        divergence: (divergence) => events.push({ type: 'divergence', divergence }),
      },
    });
    this.learn(a, from, events, run);
    return { run, events, from };
  }

  /** The attempt's opening, or (from: 'checkpoint') its latest trusted checkpoint at or before the target. */
  private startFor(a: number, target: number): number {
    let from = this.replay.openings[a];
    if (this.from === 'checkpoint') for (const c of this.trusted[a]) if (c <= target && c > from) from = c;
    return from;
  }

  /**
   * What a run teaches: the checkpoints it reached cleanly, and whether the
   * attempt is equal to its end. Clean: nothing diverged before the
   * checkpoint, every effect recorded before it had been taken (so a run
   * from it serves what a full run would have taken), and every re-run
   * transaction and read gave the app what serving it would (values its body
   * took are passed over when it is served: docs/replay.md). A run
   * that started at `from` is clean up to there already.
   */
  private learn(a: number, from: number, events: Event[], run: Pick<AttemptRun, 'divergences' | 'reachedStop'>): void {
    const taken = new Set<number>();
    for (const event of events) {
      if (event.type === 'divergence') break;
      const s = event.step;
      if (s.inherited || s.step < from) continue;
      taken.add(s.step);
      if (s.kind === 'checkpoint' && this.allTaken(from, s.step, taken)) this.trusted[a].add(s.step);
      if ((s.kind === 'tx' || s.kind === 'read') && !servedAsProduced(s)) break;
    }
    if (a === this.equalAttempts && run.divergences.length === 0 && !run.reachedStop) this.equalAttempts = a + 1;
  }

  private allTaken(from: number, to: number, taken: Set<number>): boolean {
    for (let i = from + 1; i < to; i++) if (EFFECTS.has(this.steps[i].kind) && !taken.has(i)) return false;
    return true;
  }

  /** The journal's latest checkpoint the attempt had (its own or inherited) at or before `position`. */
  private checkpointAt(a: number, position: Position): StepCheckpoint | null {
    let found: StepCheckpoint | null = null;
    for (const e of this.replay.history.attempts[a].effects) {
      if (e.position > position) break;
      if (e.record.kind !== 'checkpoint') continue;
      const record = e.record as CheckpointRecord;
      found = { step: this.replay.indexOf.get(e.position)!, position: e.position, label: record.label, state: record.state };
    }
    return found;
  }
}

/**
 * Whether serving this re-run transaction or read from the journal would hand
 * the app what re-running it did. Under strict replay, results are compared,
 * so equal; without, they may differ unnoticed. One that threw is never
 * served the same: the journal rebuilds its error, not the app's own object.
 */
function servedAsProduced(step: ReplayStep): boolean {
  const record = step.record;
  if (record.kind === 'read-tx' && record.error !== null) return false;
  if (record.kind !== 'write-tx' && record.kind !== 'read-tx') return false;
  const actual = step.actual as { result?: unknown } | undefined;
  return actual !== undefined && canonical(actual.result) === canonical(record.result);
}

/** Realm-independent text of a value: keys sorted, bigints and bytes spelled out. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return `${v}n`;
    if (v === undefined) return null;
    if (v && typeof v === 'object') {
      if (ArrayBuffer.isView(v)) return { bytes: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
      if ((v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) return { bytes: Buffer.from((v as { data: number[] }).data).toString('base64') };
      if (!Array.isArray(v)) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]));
    }
    return v;
  }) ?? 'undefined';
}
