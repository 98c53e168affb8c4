import { openJournalWriter, type JournalWriter, type OpenWriterOptions } from '../../src/journal/index.js';
import type { AppendableRecord, RowChange, SessionStatus } from '../../src/model/records.js';

// Hand-written journals for the CLI tests: each call appends one record with
// consistent `prev` pointers, tx ids and startedAfterTx, advancing a clock by
// one second, and remembers where everything went.

export const T0 = Date.UTC(2026, 10, 24, 9, 0, 0);

export interface Written {
  kind: AppendableRecord['kind'];
  position: number;
  session: number | null;
  at: number;
  tx?: number;
  label?: string;
}

export class ScriptSession {
  last: number | null = null;
  constructor(
    readonly journal: JournalScript,
    readonly id: number,
    readonly kind: string,
  ) {}

  private add(record: AppendableRecord): number {
    const position = this.journal.append(record, this.id);
    this.last = position;
    return position;
  }

  value(source = 'date', value: unknown = this.journal.clock): number {
    return this.add({ kind: 'value', session: this.id, prev: this.last, source, value });
  }

  checkpoint(label: string): number {
    return this.add({ kind: 'checkpoint', session: this.id, prev: this.last, at: this.journal.clock, label, state: { label }, randomDraws: 0 });
  }

  call(name: string): void {
    this.add({ kind: 'call-start', session: this.id, prev: this.last, call: 0, name, request: {}, idempotencyKey: `${this.id}-0`, at: this.journal.clock });
    this.add({ kind: 'call-result', session: this.id, prev: this.last, call: 0, ok: true, value: { ok: true }, at: this.journal.clock });
  }

  read(): number {
    return this.add({ kind: 'read-tx', session: this.id, prev: this.last, readAtTx: this.journal.lastTx, readDigest: new Uint8Array(4), result: null, error: null, write: false });
  }

  /** A write transaction; returns its tx id. */
  write(changes: RowChange[] = [{ table: 'accounts', key: this.id, before: null, after: { id: this.id, balance: 1 } }]): number {
    const tx = this.journal.lastTx + 1;
    this.add({
      kind: 'write-tx',
      session: this.id,
      prev: this.last,
      tx,
      committedAt: this.journal.clock,
      readAtTx: this.journal.lastTx,
      changes,
      readDigest: new Uint8Array(4),
      result: null,
      migration: null,
    });
    this.journal.lastTx = tx;
    return tx;
  }

  attempt(): number {
    return this.add({
      kind: 'session-attempt',
      session: this.id,
      prev: this.last,
      at: this.journal.clock,
      attempt: 2,
      reason: 'resume',
      fromCheckpoint: null,
      codeVersion: 'code-1',
    });
  }

  respond(status = 200): number {
    return this.add({ kind: 'response', session: this.id, prev: this.last, at: this.journal.clock, status, headers: {}, body: new Uint8Array(2) });
  }

  end(status: SessionStatus = 'ok'): number {
    return this.add({
      kind: 'session-end',
      session: this.id,
      prev: this.last,
      at: this.journal.clock,
      status,
      error: status === 'ok' ? null : { name: 'Error', message: status },
      randomDraws: 0,
    });
  }
}

export class JournalScript {
  clock = T0;
  lastTx = 0;
  nextSession = 1;
  readonly written: Written[] = [];
  /** The end of each committed batch (just past its batch commit). */
  readonly batchEnds: number[] = [];
  readonly sessions = new Map<number, ScriptSession>();

  private constructor(
    readonly dir: string,
    private writer: JournalWriter,
    private readonly options: OpenWriterOptions,
  ) {}

  static async create(dir: string, options: OpenWriterOptions = {}): Promise<JournalScript> {
    const opened = { durability: 'none' as const, ...options };
    const { writer } = await openJournalWriter(dir, opened);
    return new JournalScript(dir, writer, opened);
  }

  append(record: AppendableRecord, session: number | null = null): number {
    this.clock += 1000;
    if ('at' in record) (record as { at: number }).at = this.clock;
    if (record.kind === 'write-tx') record.committedAt = this.clock;
    const { position } = this.writer.append(record);
    this.written.push({
      kind: record.kind,
      position,
      session,
      at: this.clock,
      tx: record.kind === 'write-tx' ? record.tx : undefined,
      label: record.kind === 'checkpoint' ? record.label : undefined,
    });
    return position;
  }

  start(kind: string, options: { route?: string; idempotencyKey?: string | null } = {}): ScriptSession {
    const s = new ScriptSession(this, this.nextSession++, kind);
    this.sessions.set(s.id, s);
    s.last = this.append(
      {
        kind: 'session-start',
        session: s.id,
        prev: null,
        at: this.clock,
        sessionKind: kind,
        route: options.route ?? `/${kind}`,
        transport: 'json',
        input: { n: s.id },
        codeVersion: 'code-1',
        startedAfterTx: this.lastTx,
        idempotencyKey: options.idempotencyKey ?? null,
        meta: {},
      },
      s.id,
    );
    return s;
  }

  migration(name = '001-init'): number {
    const tx = this.lastTx + 1;
    this.append({
      kind: 'write-tx',
      session: null,
      prev: null,
      tx,
      committedAt: this.clock,
      readAtTx: this.lastTx,
      changes: [],
      readDigest: new Uint8Array(4),
      result: 'CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER)',
      migration: name,
    });
    this.lastTx = tx;
    return tx;
  }

  processStart(): number {
    return this.append({
      kind: 'process-start',
      at: this.clock,
      codeVersion: 'code-1',
      app: 'test-app',
      config: {},
      node: process.version,
      v8: process.versions.v8,
      timeZone: 'UTC',
      locale: 'en-US',
      pid: 4242,
      durability: 'none',
    });
  }

  snapshot(): number {
    return this.append({ kind: 'snapshot', at: this.clock, tx: this.lastTx, file: `snapshots/${this.lastTx}.sqlite`, bytes: 4096, sha256: '0'.repeat(64) });
  }

  duplicate(original: number, key: string): number {
    return this.append({ kind: 'duplicate-request', at: this.clock, originalSession: original, idempotencyKey: key, route: '/dup' });
  }

  /** End the current batch (its records become committed). */
  async commit(): Promise<void> {
    await this.writer.flush();
    this.batchEnds.push(this.writer.position);
  }

  get position(): number {
    return this.writer.position;
  }

  async close(): Promise<void> {
    await this.writer.close();
    if (this.writer.position > (this.batchEnds.at(-1) ?? 0)) this.batchEnds.push(this.writer.position);
  }

  /** Open the journal again to append more (after close). */
  async reopen(): Promise<void> {
    const { writer } = await openJournalWriter(this.dir, this.options);
    this.writer = writer;
  }

  /** Commit time of write transaction `tx`. */
  txAt(tx: number): number {
    const w = this.written.find((x) => x.tx === tx);
    if (!w) throw new Error(`no tx ${tx}`);
    return w.at;
  }

  startedAt(session: number): number {
    return this.written.find((x) => x.session === session && x.kind === 'session-start')!.at;
  }
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
