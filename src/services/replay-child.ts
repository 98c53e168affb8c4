import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { EnvironmentError } from '../model/errors.js';
import type { SessionId } from '../model/records.js';
import { devtoolsUrl, inspectorHostPort, parseInspectAddress } from './inspect.js';
import type { ReplayEvent, ReplayTrace } from './tui-data.js';

// `replay tui --inspect`: the replays run in a child process under the Node
// inspector, because a thread paused in a debugger cannot draw. This is the
// TUI's side of it: it starts the child (replay-child-main.ts), asks it for
// replays over IPC, and follows the debugger through a status pipe (fd 3)
// that a worker thread in the child writes, since the child's main thread
// cannot speak while it is paused. fd 4 carries commands to that worker.

/** Where the debugger is, as the TUI shows it. */
export interface DebuggerStatus {
  /**
   * starting: the child is starting; waiting: for a debugger to attach
   * (replays wait too); ready: nothing replaying; running: a replay runs;
   * paused: a debugger holds it; failed: the child is gone (see message).
   */
  state: 'starting' | 'ready' | 'waiting' | 'running' | 'paused' | 'failed';
  /** ws://host:port/id once the inspector listens. */
  url: string | null;
  devtoolsUrl: string | null;
  /** host:port, what chrome://inspect and VS Code ask for. */
  address: string | null;
  /** The session the child is replaying (running, paused). */
  session: SessionId | null;
  /** Where it is paused: `app.ts:61:7` in the app's sources when the bundle maps it, else the script's own. */
  at: string | null;
  /** The paused function's name ('' for an anonymous one). */
  function: string | null;
  /** Paused at the session's start (the `debugger` statement before the handler). */
  atSessionStart: boolean;
  /** Why it failed. */
  message: string | null;
}

/** What the TUI follows and asks of the debugger. */
export interface DebuggerFeed {
  status(): DebuggerStatus;
  subscribe(listener: (status: DebuggerStatus) => void): () => void;
  /** Resume a paused replay as the debugger's resume would, or go on without waiting for one. */
  resume(): void;
}

// --- the protocol -------------------------------------------------------------

export interface ChildConfig {
  journal: string;
  code: string | null;
  host: string;
  port: number;
}

/** Parent → child, over IPC. */
export type ChildRequest = { type: 'replay'; id: number; session: SessionId };

/** Child main thread → parent, over IPC. */
export type ChildMessage =
  | { type: 'ready'; url: string }
  | { type: 'fatal'; message: string }
  | { type: 'event'; id: number; event: ReplayEvent }
  | { type: 'done'; id: number; trace: Omit<ReplayTrace, 'events' | 'cached'> }
  | { type: 'failed'; id: number; message: string };

/** Either thread of the child → parent, one JSON line each on fd 3 (short: one write is atomic). */
export type StatusLine =
  | { t: 'waiting'; session: SessionId | null }
  | { t: 'running'; session: SessionId }
  | { t: 'paused'; at: string | null; function: string; atSessionStart: boolean }
  | { t: 'resumed' }
  | { t: 'idle' };

export const STATUS_FD = 3;
export const CONTROL_FD = 4;

/** How to run a sibling module of this one: the built .js, or the .ts under tsx (tests run from src). */
export function siblingModule(name: string, from: string): { file: string; tsx: { loader: string; api: string } | null } {
  const here = fileURLToPath(from);
  if (!here.endsWith('.ts')) return { file: path.join(path.dirname(here), `${name}.js`), tsx: null };
  const tsxDir = path.dirname(createRequire(from).resolve('tsx/package.json'));
  return {
    file: path.join(path.dirname(here), `${name}.ts`),
    tsx: { loader: pathToFileURL(path.join(tsxDir, 'dist', 'loader.mjs')).href, api: pathToFileURL(path.join(tsxDir, 'dist', 'esm', 'api', 'index.mjs')).href },
  };
}

interface Pending {
  session: SessionId;
  event(event: ReplayEvent): void;
  resolve(trace: Omit<ReplayTrace, 'events' | 'cached'>): void;
  reject(error: Error): void;
}

const INITIAL: DebuggerStatus = { state: 'starting', url: null, devtoolsUrl: null, address: null, session: null, at: null, function: null, atSessionStart: false, message: null };

export interface ReplayChildOptions {
  journal: string;
  code: string | null;
  /** host:port; port 0 picks a free one. */
  address: string;
}

export class ReplayChild implements DebuggerFeed {
  private current: DebuggerStatus = INITIAL;
  private readonly listeners = new Set<(status: DebuggerStatus) => void>();
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private stderr: string[] = [];
  private failure: Error | null = null;
  private closed = false;
  private readonly started: Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    let ready!: () => void;
    let fail!: (error: Error) => void;
    this.started = new Promise<void>((resolve, reject) => {
      ready = resolve;
      fail = reject;
    });
    this.started.catch(() => {});
    child.on('message', (raw) => {
      const message = raw as ChildMessage;
      switch (message.type) {
        case 'ready':
          // The status pipe may already have said "waiting" (another channel, another order).
          this.update({ state: this.current.state === 'starting' ? 'ready' : this.current.state, url: message.url, devtoolsUrl: devtoolsUrl(message.url), address: inspectorHostPort(message.url) });
          ready();
          return;
        case 'fatal':
          this.fail(message.message);
          fail(this.failure!);
          return;
        case 'event':
          this.pending.get(message.id)?.event(message.event);
          return;
        case 'done':
          this.settle(message.id)?.resolve(message.trace);
          return;
        case 'failed':
          this.settle(message.id)?.reject(new Error(message.message));
      }
    });
    lines(child.stdio[STATUS_FD] as Readable, (line) => this.onStatus(line));
    (child.stderr as Readable).setEncoding('utf8').on('data', (chunk: string) => {
      // Kept for the one line an unexpected exit reports; the inspector's own notices are not errors.
      for (const l of chunk.split('\n')) if (l.trim() && !/^(Debugger (listening|attached|ending)|For help, see|Waiting for the debugger)/.test(l)) this.stderr.push(l.trim());
      this.stderr = this.stderr.slice(-20);
    });
    child.on('error', (error) => {
      this.fail(`cannot start the replay process: ${error.message}`);
      fail(this.failure!);
    });
    child.on('exit', (code, signal) => {
      if (!this.closed && !this.failure) {
        const why = this.stderr.find((l) => /error/i.test(l)) ?? this.stderr[this.stderr.length - 1];
        this.fail(`the replay process exited (${signal ?? `code ${code}`})${why ? `: ${why}` : ''}`);
      }
      fail(this.failure ?? new EnvironmentError('the replay process was closed', 'E_INSPECTOR'));
      for (const id of [...this.pending.keys()]) this.settle(id)?.reject(this.failure ?? new Error('the replay process was closed'));
    });
    // The control pipe: an EPIPE once the child is gone is not our error.
    (child.stdio[CONTROL_FD] as Writable | null)?.on('error', () => {});
  }

  /** Start the child. A bad address fails here; a port in use fails `ready()`. */
  static start(options: ReplayChildOptions): ReplayChild {
    const { host, port } = parseInspectAddress(options.address);
    const config: ChildConfig = { journal: options.journal, code: options.code, host, port };
    const entry = siblingModule('replay-child-main', import.meta.url);
    const args = [...(entry.tsx ? ['--import', entry.tsx.loader] : []), entry.file, JSON.stringify(config)];
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe', 'ipc'],
      // NODE_OPTIONS --inspect would open a second inspector in the child.
      env: { ...process.env, NODE_OPTIONS: stripInspect(process.env.NODE_OPTIONS) },
    });
    return new ReplayChild(child);
  }

  /** Resolves once the inspector listens; rejects with a one-line error (a port in use, a journal it cannot open). */
  ready(): Promise<void> {
    return this.started;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  status(): DebuggerStatus {
    return this.current;
  }

  subscribe(listener: (status: DebuggerStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  resume(): void {
    if (this.current.state !== 'paused' && this.current.state !== 'waiting') return;
    (this.child.stdio[CONTROL_FD] as Writable | null)?.write('resume\n');
  }

  /** Replay a session in the child, paused at its start; one at a time (the caller queues). */
  async replay(session: SessionId, event: (event: ReplayEvent) => void): Promise<Omit<ReplayTrace, 'events' | 'cached'>> {
    await this.started;
    if (this.failure) throw this.failure;
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { session, event, resolve, reject });
      const request: ChildRequest = { type: 'replay', id, session };
      this.child.send(request, (error) => {
        if (error) this.settle(id)?.reject(new Error(`cannot reach the replay process: ${error.message}`));
      });
    });
  }

  /** Kill the child: SIGKILL, since a paused main thread handles nothing. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    this.pending.delete(id);
    return p;
  }

  private onStatus(line: string): void {
    let s: StatusLine;
    try {
      s = JSON.parse(line) as StatusLine;
    } catch {
      return;
    }
    if (this.failure) return;
    switch (s.t) {
      case 'waiting':
      case 'running':
        this.update({ state: s.t, session: s.session, at: null, function: null, atSessionStart: false });
        return;
      case 'paused':
        this.update({ state: 'paused', at: s.at, function: s.function, atSessionStart: s.atSessionStart });
        return;
      case 'resumed':
        if (this.current.state === 'paused') this.update({ state: 'running', at: null, function: null, atSessionStart: false });
        return;
      case 'idle':
        this.update({ state: 'ready', session: null, at: null, function: null, atSessionStart: false });
    }
  }

  private fail(message: string): void {
    this.failure ??= new EnvironmentError(message, 'E_INSPECTOR');
    this.update({ state: 'failed', message: this.failure.message, at: null, function: null, atSessionStart: false });
  }

  private update(change: Partial<DebuggerStatus>): void {
    this.current = { ...this.current, ...change };
    for (const listener of [...this.listeners]) listener(this.current);
  }
}

/** Call `each` for every line of a stream. */
function lines(stream: Readable | null, each: (line: string) => void): void {
  if (!stream) return;
  let buffer = '';
  stream.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      each(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
  });
}

/** NODE_OPTIONS without --inspect flags, which would open a second inspector in the child. */
function stripInspect(options: string | undefined): string | undefined {
  if (!options) return options;
  return options
    .split(/\s+/)
    .filter((o) => !/^--inspect(-brk|-port|-wait)?(=|$)/.test(o))
    .join(' ');
}
