import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { Catalog } from '../catalog/index.js';
import { openJournalWriter, type FileLayer, type JournalReader, type JournalWriter, type Recovery } from '../journal/index.js';
import { EnvironmentError, isFailStop, JournalFailedError, StoreFailedError, UsageError, type FailStopError } from '../model/errors.js';
import type { Durability, ErrorInfo, Position, ResponseRecord, SessionId, SessionStartRecord, SessionStatus, Transport } from '../model/records.js';
import { sessionHistory, type Positioned } from '../executor/history.js';
import { InputNotJournalableError, journalableInput } from './input-check.js';
import { fault, json, methodResponse, parseMethodCall, RPC_ID_META, rpcIdOf, stableJson, xml, XmlRpcParseError, type RenderedResponse } from '../executor/transports.js';
import { keepApp, loadApp, loadRecordedApp, type LoadedApp } from './app-host.js';
import { redactConfig } from './secrets.js';
import { IdempotencyKeys, type EarlierKeyedSession, type IdempotencyEntry } from './idempotency-keys.js';
import { LiveStore, type StoreRecovery } from './live-store.js';
import { SessionAbandonedError, SessionRunner, type SessionRequest, type SessionResult } from './sessions.js';
import { performCall } from './calls.js';
import { formatStrayRejection, reportStrayRejections } from '../executor/stray-rejections.js';

// The recording application server: HTTP in, sessions through the executor,
// every response durable in the journal before its first byte is sent.

export interface ServerOptions {
  journal: string;
  port?: number;
  host?: string;
  durability?: Durability;
  /** Snapshot the database every this many write transactions (default 1000; 0 never). */
  snapshotEvery?: number;
  /**
   * ...once the journal has also grown by this fraction of the database's
   * size since the last snapshot (default 0.5; 0: every snapshotEvery exactly).
   */
  snapshotGrowth?: number;
  /** Keep at most this many snapshots, thinning out older ones (default 32; 0: keep all). */
  snapshotKeep?: number;
  /** Largest request body accepted, in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** Config overrides merged over the app's defaults. */
  config?: Record<string, unknown>;
  /** Journal Authorization and Cookie headers too (off by default). */
  journalSecrets?: boolean;
  /**
   * Resume a crashed session at most this many times in a row (default 5);
   * after that it ends `aborted`, so that a session which takes the process
   * down with it cannot crash every restart.
   */
  maxResumes?: number;
  /** How long shutdown waits for in-flight sessions, in ms (default 10 s). */
  drainTimeoutMs?: number;
  /** How long an external call (fetch) may take, in ms (default 30 s; 0: no limit of Windback's own). */
  callTimeoutMs?: number;
  timeZone?: string;
  locale?: string;
  segmentBytes?: number;
  /** Called once when the journal stops accepting records (fail-stop). */
  onFatal?: (error: FailStopError) => void;
  log?: (line: string) => void;
  /** The journal writer's file layer (tests inject faults through it). */
  layer?: FileLayer;
}

export interface StartupReport {
  journal: string;
  codeVersion: string;
  recovery: Recovery;
  store: StoreRecovery;
  migrations: string[];
  resumed: number;
  aborted: number;
}

export interface RunningServer {
  url: string;
  port: number;
  startup: StartupReport;
  /** Sessions resumed at start, settled. */
  resumed: Promise<void>;
  /** Stop accepting, drain in-flight sessions, flush and close the journal. */
  close(): Promise<void>;
  readonly failed: FailStopError | null;
}

const DEFAULT_BODY_LIMIT = 1 << 20;
const DEFAULT_MAX_RESUMES = 5;
const DEFAULT_CALL_TIMEOUT_MS = 30_000;

export async function startServer(appEntry: string, options: ServerOptions): Promise<RunningServer> {
  try {
    return await start(appEntry, options);
  } catch (error) {
    throw startFailure(error, path.resolve(options.journal));
  }
}

/** A full disk at start, said as such, whichever file met it; any other error as it is. */
function startFailure(error: unknown, journalDir: string): unknown {
  const cause = error instanceof StoreFailedError || error instanceof JournalFailedError ? error.cause : error;
  const e = cause as { code?: unknown; syscall?: unknown; path?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const where = typeof e?.path === 'string' ? ` writing ${e.path}` : error instanceof StoreFailedError ? ` writing ${error.path}` : '';
  const intact = 'the journal and everything it acknowledged are intact';
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL') {
    return new EnvironmentError(`cannot start: the disk holding ${journalDir} is full (${code}${where}); free space and start again: ${intact}`, 'E_DISK_FULL', { cause: error });
  }
  if (code === 'EFBIG') {
    return new EnvironmentError(
      `cannot start: a file in ${journalDir} would pass this process's file-size limit (EFBIG${where}; see ulimit -f); raise it and start again: ${intact}`,
      'E_FILE_TOO_LARGE',
      { cause: error },
    );
  }
  return error;
}

async function start(appEntry: string, options: ServerOptions): Promise<RunningServer> {
  const journalDir = path.resolve(options.journal);
  const durability = options.durability ?? 'batch';
  const log = options.log ?? (() => {});
  const timeZone = options.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC';
  const locale = options.locale ?? Intl.DateTimeFormat().resolvedOptions().locale ?? 'en-US';
  // A port in use (or a host that is not this machine's) fails the start
  // before anything is created or changed: the journal directory, its files, a rebuilt database.
  await checkPortFree(options.port ?? 0, options.host ?? '127.0.0.1');
  // So does an app entry that is missing or does not load (a typo in its path, a
  // syntax error, a short secret): bundled and loaded before the journal is opened.
  const app = await loadApp(appEntry, { timeZone, locale, config: options.config });
  const { writer, recovery } = await openJournalWriter(journalDir, { durability, segmentBytes: options.segmentBytes, layer: options.layer });
  let catalog: Catalog | null = null;
  let store: LiveStore | null = null;
  try {
    if (recovery.truncatedBytes > 0) log(`recovered: cut ${recovery.truncatedBytes} unacknowledged bytes from the journal tail (${recovery.reason})`);
    catalog = Catalog.open(journalDir);
    const corrupt = catalog.corruptionError('cannot record');
    if (corrupt) throw corrupt;
    const reader = catalog.reader;
    keepApp(journalDir, app);
    void writer.append({
      kind: 'process-start',
      at: Date.now(),
      codeVersion: app.bundle.codeVersion,
      app: app.name,
      config: redactConfig(app.config, app.secretFields),
      node: process.version,
      v8: process.versions.v8,
      timeZone,
      locale,
      pid: process.pid,
      durability,
    }).durable.catch(() => {}); // awaited by the flush() below
    store = LiveStore.open({ journalDir, catalog, reader, snapshotEvery: options.snapshotEvery ?? 1000, snapshotGrowth: options.snapshotGrowth, snapshotKeep: options.snapshotKeep, now: Date.now, log });
    store.attach(writer);
    for (const line of store.recovery.passedOver) log(`warning: ${line}`);
    if (store.recovery.action !== 'up-to-date') log(recoveryLine(store.recovery));
    const applied = catalog.db.prepare('SELECT migration, tx, position FROM write_txs WHERE migration IS NOT NULL').all() as { migration: string; tx: number; position: number }[];
    const appliedMigrations = new Set(applied.map((r) => r.migration));
    // A migration runs once, by name: one whose SQL was edited since it ran is not run again. Say so.
    for (const row of applied) {
      const now = app.migrations.find((m) => m.name === row.migration);
      if (now === undefined) continue;
      const ran = reader.readAt(row.position).record as { result?: unknown };
      if (typeof ran.result === 'string' && ran.result !== now.sql) {
        log(`warning: migration "${row.migration}" was edited after it ran (transaction ${row.tx}); migrations run once, by name, so the edit is not applied: add a new migration instead`);
      }
    }
    const migrations = store.migrate(app.migrations, appliedMigrations, (name, tx) => log(`migrated: ${name} (transaction ${tx})`));
    await writer.flush();
    await writer.preallocated();

    const lastSessionId = (catalog.db.prepare('SELECT coalesce(max(id), 0) AS id FROM sessions').get() as { id: number }).id;
    const keyPrefix = reader.layout.segments[0].header.journalId.toString('hex').slice(0, 8);
    const idempotency = new IdempotencyKeys(
      catalog.db.prepare('SELECT id, idempotencyKey, route, lastPosition FROM sessions WHERE idempotencyKey IS NOT NULL ORDER BY id').iterate() as Iterable<EarlierKeyedSession>,
    );
    const open = catalog.sessions({ status: 'open' });
    catalog.close();
    catalog = null;

    // Calls still running when the server has closed its journal are aborted,
    // so that a callee that never answers cannot keep the process alive; their
    // sessions stay open in the journal and resume at the next start.
    const calls = new AbortController();
    const callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    const counts = new Map<SessionStatus | 'resumed' | 'stray', number>();
    const bump = (key: SessionStatus | 'resumed' | 'stray'): void => void counts.set(key, (counts.get(key) ?? 0) + 1);
    const runner = new SessionRunner(
      app,
      writer,
      store,
      {
        call: (name, request, key) => performCall(name, request, key, calls.signal, callTimeoutMs),
        log: (session, level, text) => log(`[session ${session}] ${level}: ${text}`),
        // The app gets it as an error, which may say nothing of it ("TypeError: fetch failed"), and may catch it.
        nondeterminism: (_session, message) => log(`warning: ${message}`),
        ended: (session, status, failure) => {
          bump(status);
          // A 5xx is worth a line in the log: the client saw only that it failed.
          if (failure !== undefined) log(failureLine(session, failure));
        },
      },
      { lastSessionId, keyPrefix, timeZone, locale },
    );

    const server = new RecordingServer(app, writer, store, runner, reader, idempotency, counts, {
      maxBodyBytes: options.maxBodyBytes ?? DEFAULT_BODY_LIMIT,
      journalSecrets: options.journalSecrets ?? false,
      drainTimeoutMs: options.drainTimeoutMs ?? 10_000,
      afterClose: () => calls.abort(new Error('the server closed its journal while this call was running')),
      maxResumes: options.maxResumes ?? DEFAULT_MAX_RESUMES,
      onFatal: options.onFatal,
      log,
    });
    // App promises rejected and left unhandled are logged and counted, never fatal.
    const previousReporter = reportStrayRejections((stray) => {
      bump('stray');
      const line = formatStrayRejection(stray, runner.runningSessions());
      if (line !== null) log(`warning: ${line}`);
    });
    const resumedCount = { resumed: 0, aborted: 0 };
    const resumed = server.resumeAll(open, { journalDir, timeZone, locale, config: options.config }, resumedCount, bump);
    let address: AddressInfo;
    try {
      address = await server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
    } catch (error) {
      reportStrayRejections(previousReporter);
      throw error;
    }
    return {
      url: `http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`,
      port: address.port,
      // resumeAll decides, for every open session, before its first await.
      startup: { journal: journalDir, codeVersion: app.bundle.codeVersion, recovery, store: store.recovery, migrations, resumed: resumedCount.resumed, aborted: resumedCount.aborted },
      resumed,
      close: () => server.close().finally(() => reportStrayRejections(previousReporter)),
      get failed() {
        return server.failed;
      },
    };
  } catch (error) {
    catalog?.close();
    store?.close();
    await writer.close().catch(() => {});
    throw error;
  }
}

interface ServerSettings {
  maxBodyBytes: number;
  journalSecrets: boolean;
  drainTimeoutMs: number;
  maxResumes: number;
  /** Runs once the journal and the store are closed. */
  afterClose: () => void;
  onFatal?: (error: FailStopError) => void;
  log: (line: string) => void;
}

class RecordingServer {
  private readonly http: http.Server;
  private readonly inFlight = new Set<Promise<unknown>>();
  private closing = false;
  failed: FailStopError | null = null;

  constructor(
    private readonly app: LoadedApp,
    private readonly writer: JournalWriter,
    private readonly store: LiveStore,
    private readonly runner: SessionRunner,
    private readonly reader: JournalReader,
    private readonly idempotency: IdempotencyKeys,
    private readonly counts: Map<SessionStatus | 'resumed' | 'stray', number>,
    private readonly settings: ServerSettings,
  ) {
    this.http = http.createServer((req, res) => {
      const work = this.handle(req, res).catch((error) => this.internalError(res, error));
      this.inFlight.add(work);
      void work.finally(() => this.inFlight.delete(work));
    });
    this.http.keepAliveTimeout = 5_000;
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => reject(listenError(error, port, host));
      this.http.once('error', onError);
      this.http.listen(port, host, () => {
        this.http.off('error', onError);
        resolve(this.http.address() as AddressInfo);
      });
    });
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const stopped = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeIdleConnections();
    const drained = Promise.allSettled([...this.inFlight]);
    // Not unref'd: a session that waits on nothing (a promise nothing
    // resolves, its client gone or resumed without one) holds no handle of
    // its own, and the process would end here with an unsettled await (exit
    // 13) instead of waiting, stopping it and closing the journal.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise((resolve) => (timer = setTimeout(resolve, this.settings.drainTimeoutMs)));
    await Promise.race([drained, timeout]);
    clearTimeout(timer);
    const left = this.runner.runningSessions();
    if (left.length > 0) {
      const ids = left.length <= 5 ? left.join(', ') : `${left.slice(0, 5).join(', ')} and ${left.length - 5} more`;
      this.settings.log(
        `shutting down: ${left.length} session(s) still running after the ${this.settings.drainTimeoutMs} ms drain timeout (${ids}) stopped where they were; the next start resumes them`,
      );
    }
    // Sessions still running are left open in the journal for the next start
    // to resume. Stop them where they are: otherwise a timer of theirs keeps
    // the process alive, and when it fires the session goes on (a
    // transaction in the database, a call made) with its journal closed.
    this.runner.abandon();
    this.http.closeAllConnections();
    await stopped;
    // A snapshot being copied finishes, and its record goes into the journal.
    await this.store.idle();
    this.journalClosing = true;
    try {
      await this.writer.close();
    } finally {
      this.store.close();
      this.settings.afterClose();
    }
  }

  // ---- crash resume ------------------------------------------------------------------------

  async resumeAll(
    open: { id: SessionId; lastPosition: number }[],
    loadOptions: { journalDir: string; timeZone: string; locale: string; config?: Record<string, unknown> },
    report: { resumed: number; aborted: number },
    bump: (key: 'resumed') => void,
  ): Promise<void> {
    const apps = new Map<string, LoadedApp>([[this.app.bundle.codeVersion, this.app]]);
    /** End a session `aborted`; a duplicate of its Idempotency-Key reads that end from there on. */
    const aborted = async (id: SessionId, lastPosition: Position, reason: string, key: string | null): Promise<void> => {
      const end = await this.runner.abort(id, lastPosition, reason);
      const entry = key === null ? undefined : this.idempotency.get(key);
      if (entry !== undefined && entry.session === id) entry.lastPosition = end;
    };
    await Promise.all(
      open.map(async (row) => {
        const records = this.reader.sessionRecords(row.lastPosition);
        const history = sessionHistory(records);
        const start = history.start.record;
        const last = history.attempts[history.attempts.length - 1];
        const resumes = resumesInARow(history.attempts);
        if (resumes >= this.settings.maxResumes) {
          report.aborted++;
          const reason =
            `the process ended during each of its last ${resumes + 1} attempts (resumed ${resumes} ${resumes === 1 ? 'time' : 'times'} in a row, the limit); ` +
            `not resumed again, so that it cannot take the server down at every restart`;
          this.settings.log(`session ${row.id} aborted: ${reason}; replay it with: replay run ${row.id}`);
          await aborted(row.id, row.lastPosition, reason, start.idempotencyKey);
          return;
        }
        const codeVersion = last.codeVersion;
        let app = apps.get(codeVersion);
        if (!app) {
          try {
            app = loadRecordedApp(codeVersion, loadOptions);
            apps.set(codeVersion, app);
          } catch (error) {
            report.aborted++;
            const reason = `cannot resume: code version ${codeVersion.slice(0, 12)} is not loadable (${(error as Error).message})`;
            this.settings.log(`session ${row.id} aborted: ${reason}`);
            await aborted(row.id, row.lastPosition, reason, start.idempotencyKey);
            return;
          }
        }
        const request = requestOf(start);
        report.resumed++;
        bump('resumed');
        const retried = history.attempts.filter((a) => a.reason === 'retry').length;
        const resuming = this.runner.resume(row.id, app, request, row.lastPosition, last.attempt + 1, last.effects, retried);
        // A duplicate of a resumed request waits for the resumed session's response.
        const entry = start.idempotencyKey ? this.idempotency.get(start.idempotencyKey) : undefined;
        if (entry) {
          entry.result = resuming.then((r) => r.response);
          entry.result.catch(() => {});
          // Once it is over, a duplicate reads the response back from the journal.
          resuming.then(
            (r) => {
              entry.result = null;
              entry.lastPosition = r.endPosition;
            },
            () => {},
          );
        }
        const work = resuming.catch((error) => {
          if (error instanceof SessionAbandonedError) return; // shutdown left it open: the next start resumes it again
          this.settings.log(`session ${row.id} could not resume: ${(error as Error).message}`);
          if (isFailStop(error)) this.fatal(error);
        });
        this.inFlight.add(work);
        await work;
        this.inFlight.delete(work);
      }),
    );
  }

  // ---- requests ------------------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const pathname = url.pathname;
    const method = (req.method ?? 'GET').toUpperCase();
    if (pathname === '/_windback/health') return this.send(res, json(this.failed ? 503 : 200, this.health()));
    if (pathname === '/_windback/metrics') return this.sendText(res, 200, this.metrics(), 'text/plain; version=0.0.4; charset=utf-8');
    if (this.failed || this.closing) {
      return this.send(res, json(503, { error: { name: 'Unavailable', message: this.failed ? unavailableBecause(this.failed) : 'the server is shutting down' } }));
    }
    if (pathname === '/rpc') return this.jsonRpc(req, res, method);
    if (pathname === '/RPC2') return this.xmlRpc(req, res, method);
    const methods = this.app.routes.get(pathname);
    if (!methods) return this.send(res, json(404, { error: { name: 'NotFound', message: `no route ${pathname}; routes: ${[...this.app.routes.keys()].join(', ')}` } }));
    const route = methods.get(method);
    if (!route) {
      const allowed = [...methods.keys()].join(', ');
      res.setHeader('allow', allowed);
      return this.send(res, json(405, { error: { name: 'MethodNotAllowed', message: `${pathname} takes ${allowed}, not ${method}` } }));
    }
    const body = await this.body(req, res);
    if (body === null) return;
    let input: unknown = null;
    const fromQuery = QUERY_METHODS.has(method);
    if (fromQuery) {
      if (body.length > 0) return this.send(res, json(400, { error: { name: 'BadRequest', message: `a ${method} request takes its input from the query string, not a body` } }));
      input = queryInput(url.searchParams);
    } else if (body.length > 0) {
      try {
        input = JSON.parse(body.toString('utf8'));
      } catch (error) {
        return this.send(res, json(400, { error: { name: 'BadRequest', message: `malformed JSON: ${(error as Error).message}` } }));
      }
    }
    try {
      input = journalableInput(input, fromQuery ? 'query' : 'body');
    } catch (error) {
      if (!(error instanceof InputNotJournalableError)) throw error;
      return this.send(res, json(400, { error: { name: 'BadRequest', message: `input not accepted: ${error.message}` } }));
    }
    return this.session(req, res, { kind: route.kind, route: pathname, transport: route.transport, input }, body);
  }

  private async jsonRpc(req: http.IncomingMessage, res: http.ServerResponse, method: string): Promise<void> {
    const rpcError = (status: number, code: number, message: string, id: unknown = null): void =>
      this.send(res, json(status, { jsonrpc: '2.0', error: { code, message }, id }));
    if (method !== 'POST') return rpcError(405, -32600, 'JSON-RPC takes POST');
    const body = await this.body(req, res);
    if (body === null) return;
    let call: unknown;
    try {
      call = JSON.parse(body.toString('utf8'));
    } catch (error) {
      return rpcError(400, -32700, `parse error: ${(error as Error).message}`);
    }
    // A batch (even an empty one) is answered with one error object, as the spec has it for an invalid request.
    if (Array.isArray(call)) return rpcError(400, -32600, 'invalid request: batch requests are not supported; send one call per request');
    const shape = 'expected {"jsonrpc": "2.0", "method": "...", "params": [...] or {...}, "id": ...}';
    if (call === null || typeof call !== 'object') return rpcError(400, -32600, `invalid request: ${shape}`);
    const c = call as { jsonrpc?: unknown; method?: unknown; params?: unknown; id?: unknown };
    // No `id` member: a notification, which the server must not answer (it still runs, and is journaled).
    const notification = !Object.hasOwn(c, 'id');
    const idValid = notification || c.id === null || typeof c.id === 'string' || typeof c.id === 'number';
    const id = idValid && !notification ? c.id : null;
    if (c.jsonrpc !== '2.0' || typeof c.method !== 'string') return rpcError(400, -32600, `invalid request: ${shape}`, id);
    if (!idValid) return rpcError(400, -32600, 'invalid request: "id" must be a string, a number or null');
    if (c.params !== undefined && (c.params === null || typeof c.params !== 'object')) {
      return rpcError(400, -32600, `invalid request: "params" must be an array or an object, not ${c.params === null ? 'null' : typeof c.params}`, id);
    }
    // Nothing is sent for a notification, an error neither (JSON-RPC 2.0, section 4.1): 204, no body.
    if (!this.app.kinds.includes(c.method)) {
      if (notification) return this.send(res, NO_CONTENT);
      return rpcError(404, -32601, `method not found: ${c.method}; methods: ${this.app.kinds.join(', ')}`, id);
    }
    let input: unknown;
    try {
      input = journalableInput(c.params ?? null, 'params');
    } catch (error) {
      if (!(error instanceof InputNotJournalableError)) throw error;
      if (notification) return this.send(res, NO_CONTENT);
      return rpcError(400, -32602, `invalid params: ${error.message}`, id);
    }
    return this.session(req, res, { kind: c.method, route: '/rpc', transport: 'json-rpc', input, rpcId: notification ? undefined : id }, body);
  }

  private async xmlRpc(req: http.IncomingMessage, res: http.ServerResponse, method: string): Promise<void> {
    if (method !== 'POST') return this.send(res, { ...xml(fault(405, 'XML-RPC takes POST')), status: 405 });
    const body = await this.body(req, res);
    if (body === null) return;
    // A body that is no methodCall is an HTTP 400. Anything wrong with the call
    // itself is a fault over HTTP 200, which XML-RPC clients raise as a Fault.
    let call: { method: string; params: unknown[] };
    try {
      call = parseMethodCall(body.toString('utf8'));
    } catch (error) {
      if (!(error instanceof XmlRpcParseError)) throw error;
      if (error.invalidParams) return this.send(res, xml(fault(-32602, error.message)));
      return this.send(res, { ...xml(fault(400, error.message)), status: 400 });
    }
    if (call.method === 'system.listMethods') return this.send(res, xml(methodResponse(['system.listMethods', ...this.app.kinds])));
    if (!this.app.kinds.includes(call.method)) {
      return this.send(res, xml(fault(-32601, `method not found: ${call.method}; methods: ${['system.listMethods', ...this.app.kinds].join(', ')}`)));
    }
    let params: unknown[];
    try {
      params = journalableInput(call.params, 'params') as unknown[];
    } catch (error) {
      if (!(error instanceof InputNotJournalableError)) throw error;
      return this.send(res, xml(fault(-32602, `invalid params: ${error.message}`)));
    }
    const input = params.length === 1 && params[0] && typeof params[0] === 'object' && !Array.isArray(params[0]) ? params[0] : params;
    return this.session(req, res, { kind: call.method, route: '/RPC2', transport: 'xml-rpc', input }, body);
  }

  private async session(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    partial: { kind: string; route: string; transport: Transport; input: unknown; rpcId?: unknown },
    _body: Buffer,
  ): Promise<void> {
    const key = header(req, 'idempotency-key');
    // Only a keyed request is ever compared with another: hash the body then, not for every request.
    // Compared with the journaled input after a restart, where secrets hold their placeholders: hashed so here too.
    const bodyHash = key === null ? '' : requestHash(partial.route, partial.kind, this.app.secrets === null ? partial.input : this.app.secrets.redactValue(partial.input));
    if (key !== null) {
      const existing = this.idempotency.get(key);
      if (existing) return this.duplicate(res, key, existing, bodyHash, partial);
    }
    const meta = this.meta(req);
    // The id a JSON-RPC response carries, for a resume or a replay to render
    // the same; none for a notification (whatever a client's header says).
    if (partial.transport === 'json-rpc') delete meta[RPC_ID_META];
    if (partial.rpcId !== undefined) meta[RPC_ID_META] = JSON.stringify(partial.rpcId);
    const request: SessionRequest = { ...partial, idempotencyKey: key, meta };
    let resolveResult!: (r: RenderedResponse) => void;
    let rejectResult!: (e: unknown) => void;
    if (key !== null) {
      const result = new Promise<RenderedResponse>((resolve, reject) => {
        resolveResult = resolve;
        rejectResult = reject;
      });
      result.catch(() => {});
      this.idempotency.set(key, { session: 0, bodyHash, route: partial.route, result, lastPosition: null });
    }
    let outcome: SessionResult;
    try {
      // The session's id is known as it starts: a conflicting reuse of the key meanwhile names it.
      outcome = await this.runner.run(request, (session) => {
        if (key !== null) this.idempotency.get(key)!.session = session;
      });
    } catch (error) {
      if (key !== null) {
        this.idempotency.delete(key);
        rejectResult(error);
      }
      // Shutdown stopped waiting for it and closed its connection: it stays open in the journal.
      if (error instanceof SessionAbandonedError) return;
      if (isFailStop(error)) {
        this.fatal(error);
        return this.send(res, json(503, { error: { name: 'Unavailable', message: `${unavailableBecause(error)}; nothing was acknowledged` } }));
      }
      throw error;
    }
    if (key !== null) {
      const entry = this.idempotency.get(key)!;
      entry.session = outcome.session;
      resolveResult(outcome.response);
      // Duplicates waiting now have the response. Later ones read it back
      // from the journal, as for a key from before this process: a server
      // whose clients key every request must not keep every response body.
      entry.result = null;
      entry.lastPosition = outcome.endPosition;
    }
    this.send(res, outcome.response);
  }

  private async duplicate(
    res: http.ServerResponse,
    key: string,
    entry: IdempotencyEntry,
    bodyHash: string,
    request: { route: string; transport: Transport; rpcId?: unknown },
  ): Promise<void> {
    const { route } = request;
    if (entry.bodyHash === null) entry.bodyHash = this.originalBodyHash(entry);
    if (entry.bodyHash !== bodyHash) {
      return this.send(res, json(422, { error: { name: 'IdempotencyKeyReused', message: `Idempotency-Key ${key} was used for a different request (session ${entry.session})` } }));
    }
    let response: RenderedResponse;
    try {
      const journaled = entry.result ? await entry.result : this.journaledResponse(entry);
      if ('aborted' in journaled) {
        // It will never have one: saying "retry" would have clients retry for ever.
        const answer = json(500, {
          error: {
            name: 'Aborted',
            message: `the original request with Idempotency-Key ${key} (session ${entry.session}) ended aborted, without a response: ${journaled.aborted}; it is not run again`,
          },
        });
        answer.headers['windback-session'] = String(entry.session);
        return this.send(res, answer);
      }
      response = journaled;
    } catch {
      return this.send(res, json(503, { error: { name: 'Unavailable', message: `the original request with Idempotency-Key ${key} failed; retry` } }));
    }
    // JSON-RPC: a client matches a response to its request by id, so a retry
    // under a new id gets the original's response with its own id (the
    // duplicate-request record holds that id); a notification gets nothing.
    let rpcId: string | undefined;
    if (request.transport === 'json-rpc') {
      const answer = duplicateRpcResponse(response, request.rpcId);
      if (answer === null) {
        return this.send(res, json(422, { error: { name: 'IdempotencyKeyReused', message: `Idempotency-Key ${key} was used for a notification (session ${entry.session}), which has no response to send; use a new key` } }));
      }
      response = answer.response;
      rpcId = answer.rpcId;
    }
    try {
      const appended = this.writer.append({ kind: 'duplicate-request', at: Date.now(), originalSession: entry.session, idempotencyKey: key, route, ...(rpcId !== undefined ? { rpcId } : {}) });
      await appended.durable;
    } catch (error) {
      if (!(error instanceof JournalFailedError)) throw error;
      this.fatal(error);
      return this.send(res, json(503, { error: { name: 'Unavailable', message: 'the journal stopped accepting records; nothing was acknowledged' } }));
    }
    this.send(res, response);
  }

  /**
   * The response a finished session journaled (for a key from before this
   * process), or the reason it ended aborted without one (a session no
   * restart could resume: --max-resumes, or its code not loadable).
   */
  private journaledResponse(entry: IdempotencyEntry): RenderedResponse | { aborted: string } {
    const records = this.reader.sessionRecords(entry.lastPosition!);
    const found = [...records].reverse().find((r) => r.record.kind === 'response') as Positioned<ResponseRecord> | undefined;
    if (!found) {
      const end = records[records.length - 1].record;
      if (end.kind === 'session-end' && end.status === 'aborted') return { aborted: end.error?.message ?? 'aborted' };
      throw new Error(`session ${entry.session} has no response`);
    }
    // The journal holds placeholders where the original response had secrets: the duplicate gets what the original did.
    const r = this.app.secrets === null ? found.record : this.app.secrets.restore(found.record);
    return { status: r.status, headers: { ...r.headers }, body: r.body };
  }

  private originalBodyHash(entry: IdempotencyEntry): string {
    if (entry.lastPosition === null) return '';
    const start = this.reader.sessionRecords(entry.lastPosition)[0].record as SessionStartRecord;
    return requestHash(start.route, start.sessionKind, start.input);
  }

  private meta(req: http.IncomingMessage): Record<string, string> {
    const meta: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined) continue;
      if (!this.settings.journalSecrets && (name === 'authorization' || name === 'cookie' || name === 'proxy-authorization')) continue;
      meta[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    return meta;
  }

  private body(req: http.IncomingMessage, res: http.ServerResponse): Promise<Buffer | null> {
    const limit = this.settings.maxBodyBytes;
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > limit) {
      this.send(res, json(413, { error: { name: 'PayloadTooLarge', message: `the body is ${declared} bytes; the limit is ${limit}` } }), true);
      return Promise.resolve(null);
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) {
          req.removeAllListeners('data');
          req.resume();
          this.send(res, json(413, { error: { name: 'PayloadTooLarge', message: `the body exceeds the limit of ${limit} bytes` } }), true);
          resolve(null);
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => resolve(size > limit ? null : Buffer.concat(chunks)));
      req.on('error', reject);
    });
  }

  private send(res: http.ServerResponse, response: RenderedResponse, close = false): void {
    if (res.headersSent) return;
    const headers: Record<string, string | number> = { ...response.headers };
    // A 204 (a JSON-RPC notification) has no body, and no Content-Length (RFC 9110, 8.6).
    if (response.status !== 204) headers['content-length'] = response.body.byteLength;
    if (close) headers.connection = 'close';
    res.writeHead(response.status, headers);
    res.end(response.body);
  }

  private sendText(res: http.ServerResponse, status: number, text: string, type: string): void {
    this.send(res, { status, headers: { 'content-type': type }, body: Buffer.from(text) });
  }

  private internalError(res: http.ServerResponse, error: unknown): void {
    this.settings.log(`internal error: ${(error as Error)?.stack ?? String(error)}`);
    if (error instanceof UsageError) return this.send(res, json(400, { error: { name: 'BadRequest', message: error.message } }));
    this.send(res, json(500, { error: { name: 'InternalError', message: 'internal error; see the server log' } }));
  }

  /** Set once shutdown closes the journal: appends refused after that are not a failure of the journal. */
  private journalClosing = false;

  private fatal(error: FailStopError): void {
    if (this.failed || this.journalClosing) return;
    this.failed = error;
    const next = error instanceof JournalFailedError ? '' : '; the journal holds everything acknowledged, and the next start brings the database up to date from it';
    this.settings.log(`fatal: ${error.message}${next}`);
    this.settings.onFatal?.(error);
  }

  private health(): unknown {
    return {
      status: this.failed ? 'failed' : this.closing ? 'closing' : 'ok',
      app: this.app.name,
      codeVersion: this.app.bundle.codeVersion,
      durability: this.writer.durability,
      journalBytes: this.writer.position,
      chainHead: this.writer.chainHead,
      lastTx: this.store.lastTx,
      inFlight: this.inFlight.size,
    };
  }

  private metrics(): string {
    const stats = this.writer.stats;
    const snapshots = this.store.snapshotStats;
    const lines = [
      '# HELP windback_sessions_total Sessions ended, by status.',
      '# TYPE windback_sessions_total counter',
      ...(['ok', 'error', 'aborted'] as const).map((s) => `windback_sessions_total{status="${s}"} ${this.counts.get(s) ?? 0}`),
      '# HELP windback_sessions_resumed_total Sessions resumed after a crash.',
      '# TYPE windback_sessions_resumed_total counter',
      `windback_sessions_resumed_total ${this.counts.get('resumed') ?? 0}`,
      '# HELP windback_sessions_in_flight Requests being handled.',
      '# TYPE windback_sessions_in_flight gauge',
      `windback_sessions_in_flight ${this.inFlight.size}`,
      '# HELP windback_unhandled_rejections_total Promises rejected by app code that nothing handled (logged, not fatal).',
      '# TYPE windback_unhandled_rejections_total counter',
      `windback_unhandled_rejections_total ${this.counts.get('stray') ?? 0}`,
      '# HELP windback_transactions_total The last write transaction id.',
      '# TYPE windback_transactions_total counter',
      `windback_transactions_total ${this.store.lastTx}`,
      '# HELP windback_journal_bytes Logical size of the journal.',
      '# TYPE windback_journal_bytes gauge',
      `windback_journal_bytes ${this.writer.position}`,
      ...diskFreeLines(this.writer.dir),
      '# HELP windback_journal_records_total Records appended by this process.',
      '# TYPE windback_journal_records_total counter',
      `windback_journal_records_total ${stats.records}`,
      '# HELP windback_fsync_seconds fdatasync latency.',
      '# TYPE windback_fsync_seconds summary',
      `windback_fsync_seconds_sum ${(stats.syncNanos / 1e9).toFixed(9)}`,
      `windback_fsync_seconds_count ${stats.syncs}`,
      '# HELP windback_fsync_seconds_max Worst fdatasync latency.',
      '# TYPE windback_fsync_seconds_max gauge',
      `windback_fsync_seconds_max ${(stats.maxSyncNanos / 1e9).toFixed(9)}`,
      '# HELP windback_fsync_thread_pool_total fdatasyncs run on the thread pool rather than the event loop (slow disk, or another sync in flight).',
      '# TYPE windback_fsync_thread_pool_total counter',
      `windback_fsync_thread_pool_total ${stats.threadPoolSyncs}`,
      '# HELP windback_snapshots_total Database snapshots this process took, by result.',
      '# TYPE windback_snapshots_total counter',
      `windback_snapshots_total{result="ok"} ${snapshots.taken}`,
      `windback_snapshots_total{result="failed"} ${snapshots.failed}`,
      '# HELP windback_snapshot_seconds Time to take a snapshot (start to journaled record).',
      '# TYPE windback_snapshot_seconds summary',
      `windback_snapshot_seconds_sum ${(snapshots.millis / 1e3).toFixed(6)}`,
      `windback_snapshot_seconds_count ${snapshots.taken}`,
      '# HELP windback_snapshot_last_tx The transaction of the latest snapshot this process took (0: none yet).',
      '# TYPE windback_snapshot_last_tx gauge',
      `windback_snapshot_last_tx ${snapshots.lastTx ?? 0}`,
      '# HELP windback_snapshots_removed_total Old database snapshots this process removed (--snapshot-keep).',
      '# TYPE windback_snapshots_removed_total counter',
      `windback_snapshots_removed_total ${snapshots.removed}`,
      '# HELP windback_chain_head The journal hash chain head, as a label.',
      '# TYPE windback_chain_head gauge',
      `windback_chain_head{head="${this.writer.chainHead}",seq="${this.writer.lastSeq}"} 1`,
      '',
    ];
    return lines.join('\n');
  }
}

/**
 * What an Idempotency-Key is bound to: the route, the kind and the decoded
 * input, canonically, so that a request journaled before a restart compares
 * equal to the same request sent again (whatever its transport or spacing).
 */
/** Free space on the journal's file system, for the metrics (none when the file system cannot tell). */
function diskFreeLines(dir: string): string[] {
  let free: number;
  try {
    const stats = fs.statfsSync(dir);
    free = stats.bavail * stats.bsize;
  } catch {
    return [];
  }
  return [
    "# HELP windback_journal_disk_free_bytes Free bytes on the journal's file system (for unprivileged users); at 0 the server fail-stops.",
    '# TYPE windback_journal_disk_free_bytes gauge',
    `windback_journal_disk_free_bytes ${free}`,
  ];
}

/** Why the server cannot listen on host:port, as one line (exit 74). */
function listenError(error: NodeJS.ErrnoException, port: number, host: string): unknown {
  if (error.code === 'EADDRINUSE') return new EnvironmentError(`port ${port} on ${host} is in use`, 'E_PORT_IN_USE');
  if (error.code === 'EACCES') return new EnvironmentError(`permission denied to listen on ${host}:${port}`, 'E_PERMISSION');
  if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') {
    return new EnvironmentError(`cannot listen on ${host}:${port}: the address is not one of this machine's (${error.code})`, 'E_ADDRESS');
  }
  return error;
}

/**
 * Listen on the port and let it go at once, before the start creates or
 * changes anything: the usual reasons a start fails there (in use, a
 * privileged port, a host that is not this machine's) fail it first.
 */
function checkPortFree(port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => reject(listenError(error, port, host)));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/** The startup line that says how the live database was brought to the journal's last transaction. */
function recoveryLine(recovery: StoreRecovery): string {
  const from = recovery.action === 'rebuilt' ? (recovery.fromSnapshot !== null ? ` after the snapshot at transaction ${recovery.fromSnapshot}` : ', from an empty database') : '';
  return `database ${recovery.action}: ${recovery.applied} transactions from the journal${from}${recovery.reason ? ` (${recovery.reason})` : ''}`;
}

const NO_CONTENT: RenderedResponse = { status: 204, headers: {}, body: new Uint8Array(0) };

/**
 * What a JSON-RPC duplicate is answered with: the original's response with
 * the duplicate's id, and that id as JSON text when it differs from the
 * original's (undefined when the response goes out as journaled); 204 and
 * an empty id for a notification. Null when the original was a notification and the duplicate
 * expects a response: there is none to give.
 */
function duplicateRpcResponse(original: RenderedResponse, rpcId: unknown): { response: RenderedResponse; rpcId?: string } | null {
  if (rpcId === undefined) {
    if (original.status === 204) return { response: original };
    const session = original.headers['windback-session'];
    return { response: { ...NO_CONTENT, headers: session === undefined ? {} : { 'windback-session': session } }, rpcId: '' };
  }
  if (original.status === 204) return null;
  const body = JSON.parse(Buffer.from(original.body).toString('utf8')) as { id?: unknown };
  const id = stableJson(rpcId);
  if (stableJson(body.id ?? null) === id) return { response: original };
  body.id = rpcId;
  return { response: { ...json(original.status, body), headers: { ...original.headers } }, rpcId: id };
}

function requestHash(route: string, kind: string, input: unknown): string {
  return createHash('sha256').update(route).update('\0').update(kind).update('\0').update(stableJson(input ?? null)).digest('hex');
}

function header(req: http.IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  if (value === undefined) return null;
  return Array.isArray(value) ? value[0] : value;
}

function requestOf(start: SessionStartRecord): SessionRequest {
  return {
    kind: start.sessionKind,
    route: start.route,
    transport: start.transport,
    input: start.input,
    idempotencyKey: start.idempotencyKey,
    meta: start.meta,
    rpcId: rpcIdOf(start.meta),
  };
}

/**
 * How many times in a row an open session has been resumed: each trailing
 * `resume` attempt means the attempt before it ended with the process.
 */
export function resumesInARow(attempts: readonly { reason: 'first' | 'retry' | 'resume' }[]): number {
  let n = 0;
  for (let i = attempts.length - 1; i >= 0 && attempts[i].reason === 'resume'; i--) n++;
  return n;
}

/** Why a fail-stopped server answers 503, in a client's words. */
function unavailableBecause(error: FailStopError): string {
  return error instanceof JournalFailedError ? 'the journal stopped accepting records' : 'the live database failed';
}

/** The log line for a session that answered 5xx: what failed, where, and how to look. */
export function failureLine(session: SessionId, failure: ErrorInfo): string {
  const at = failure.location ? ` at ${failure.location.file}:${failure.location.line}:${failure.location.column}` : '';
  const message = failure.message.split('\n')[0];
  return `[session ${session}] failed: ${failure.name}: ${message}${at} (replay show ${session})`;
}

/** Methods whose requests carry their input in the query string (and no body). */
const QUERY_METHODS = new Set(['GET', 'HEAD', 'DELETE']);

/** A query string as a route's input: each name to its value, or to its values in order when it repeats. */
function queryInput(params: URLSearchParams): Record<string, string | string[]> {
  const input: Record<string, string | string[]> = {};
  for (const [name, value] of params) {
    const seen = Object.hasOwn(input, name) ? input[name] : undefined;
    if (seen === undefined) Object.defineProperty(input, name, { value, enumerable: true, writable: true, configurable: true });
    else if (Array.isArray(seen)) seen.push(value);
    else input[name] = [seen, value];
  }
  return input;
}
