// Types for app authors: what `import { defineApp } from 'windback'` gives,
// and the `ctx` every session handler receives. Types only; `ctx` itself is
// built by the host (the runtime), which may still refine it.

import type { Transport } from '../model/records.js';

export interface Migration {
  /** Unique within the app; migrations run once each, in array order. */
  name: string;
  sql: string;
}

/** A value SQLite accepts as a bound parameter. */
export type SqlParam = null | number | bigint | string | boolean | Uint8Array;

export interface RunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

/** Synchronous reads, inside a read transaction or a write transaction. */
export interface ReadDb {
  all<Row = Record<string, unknown>>(sql: string, ...params: SqlParam[]): Row[];
  get<Row = Record<string, unknown>>(sql: string, ...params: SqlParam[]): Row | undefined;
}

/** Synchronous reads and writes inside one write transaction. */
export interface WriteDb extends ReadDb {
  run(sql: string, ...params: SqlParam[]): RunResult;
}

export interface CallOptions {
  /** Defaults to one derived from the session and the call's index, stable across retries. */
  idempotencyKey?: string;
}

export interface SessionInfo {
  id: number;
  kind: string;
  /** 1 for the first run; more after a retry or a resume. */
  attempt: number;
  route: string;
}

/** The console a handler is given (the session's console). */
export interface AppConsole {
  log(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
  debug(...args: unknown[]): void;
}

/** The second argument of every session handler. */
export interface SessionContext<Config = unknown> {
  readonly session: SessionInfo;
  /**
   * The app's config as the process was started with it, secret fields
   * included. The journal holds placeholders in their place (docs/server.md,
   * "Secrets"), and a replay sees those.
   */
  readonly config: Readonly<Config>;
  readonly console: AppConsole;
  /**
   * Runs `body` in one write transaction and commits it; journaled with its
   * row changes. The body is synchronous: data access does not await.
   */
  tx<T>(body: (db: WriteDb) => T): Promise<T>;
  /** Runs `body` in a read-only transaction; journaled with a digest of what it read. */
  read<T>(body: (db: ReadDb) => T): Promise<T>;
  /**
   * A journaled external call named `name`: `fn` does the work (typically
   * fetch() with the idempotency key it is given) and its result is
   * journaled. On replay the journaled result is served and `fn` does not
   * run; after a crash that left the outcome in doubt, `fn` runs again with
   * the same key. `request` is journaled with the call, for comparison on
   * replay.
   */
  call<T>(name: string, fn: (idempotencyKey: string) => T | Promise<T>, request?: unknown, options?: CallOptions): Promise<T>;
  /**
   * Marks a consistent point; a retry winds back to the latest one (a
   * session that has taken none is retried from its start). `state` must be
   * serializable.
   */
  checkpoint(label?: string, state?: unknown): Promise<void>;
  /**
   * Not available yet: throws a TypeError. (Meant to declare data the session
   * needs loaded; if it is not, the session would be suspended, the data
   * fetched, and the session re-run from its checkpoint.)
   */
  need(what: unknown): void;
}

/** One kind of session: a request handler. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type KindHandler<Input = any, Output = any, Config = unknown> = (input: Input, ctx: SessionContext<Config>) => Promise<Output>;

/** A route maps a path to a kind, by name or with options. */
export type RouteDefinition = string | { kind: string; method?: string; transport?: Transport };

export interface AppDefinition<Config = unknown> {
  /** The app's name, as recorded in the journal. */
  name: string;
  /** Default configuration; the host may override it at start. */
  config?: Config;
  /**
   * Config fields (dotted paths) whose values the journal never holds: a
   * placeholder, `__redacted.<field>__`, takes their place in the config a
   * replay runs with and wherever they occur in what a session journals
   * (docs/server.md, "Secrets"). A non-empty value must have 8 characters at least.
   */
  secretFields?: readonly string[];
  migrations: readonly Migration[];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  kinds: Record<string, KindHandler<any, any, Config>>;
  /**
   * Paths of the app's own, to kinds: `'/orders': 'placeOrder'`, with a
   * method, `'GET /orders': 'listOrders'` or `'/orders': { kind: 'listOrders',
   * method: 'GET' }` (POST when none is given). One route per method and
   * path. A GET, HEAD or DELETE route's input is its query string as an
   * object; any other route's, its JSON body. Every kind is also served at
   * `POST /<kind>`, unless a route claims that path (docs/server.md,
   * "Which value is the input").
   */
  routes?: Record<string, RouteDefinition>;
}
