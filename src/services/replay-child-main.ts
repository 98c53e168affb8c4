import * as fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { openInspector, type InspectorHandle } from './inspect.js';
import { siblingModule, STATUS_FD, type ChildConfig, type ChildMessage, type ChildRequest, type StatusLine } from './replay-child.js';
import { TuiData } from './tui-data.js';

// The child process of `replay tui --inspect` (started by ReplayChild): it
// opens the inspector, waits for a debugger to attach (at once, as `replay
// run --inspect` does: a debugger sends its "run" only when it attaches),
// then replays the sessions the TUI asks for, each paused at its start. A worker
// thread (replay-child-watch.ts) reports the debugger's pauses, which this
// thread cannot do while it is the one paused.

const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;

function send(message: ChildMessage): void {
  process.send?.(message);
}

function status(line: StatusLine): void {
  try {
    fs.writeSync(STATUS_FD, `${JSON.stringify(line)}\n`);
  } catch {
    // the TUI is gone; the disconnect handler ends us
  }
}

function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split('\n').find((l) => l.trim() !== '') ?? message).trim();
}

/** 1 while this thread waits for a debugger (shared with the watcher, which cannot ask a blocked thread). */
const waiting = new Int32Array(new SharedArrayBuffer(4));

/** The watcher, with the Debugger domain enabled on this thread before any session can pause. */
async function startWatcher(): Promise<Worker> {
  const entry = siblingModule('replay-child-watch', import.meta.url);
  const url = pathToFileURL(entry.file).href;
  const worker = entry.tsx
    ? new Worker(`import(${JSON.stringify(entry.tsx.api)}).then((m) => { m.register(); return import(${JSON.stringify(url)}); })`, { eval: true, workerData: { ppid: process.ppid, waiting } })
    : new Worker(entry.file, { workerData: { ppid: process.ppid, waiting } });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the debugger watcher exited (code ${code})`)));
  });
  return worker;
}

async function main(): Promise<void> {
  let data: TuiData;
  let inspector: InspectorHandle;
  let worker: Worker;
  try {
    data = TuiData.open({ journal: config.journal, code: config.code ?? undefined, pauseAtStart: true });
    inspector = openInspector(`${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`);
    worker = await startWatcher();
  } catch (error) {
    send({ type: 'fatal', message: oneLine(error) });
    process.disconnect?.();
    process.exitCode = 1;
    return;
  }
  const shutdown = (): void => {
    // A connected inspector session would hold the exit ("Waiting for the debugger to disconnect").
    void worker.terminate().finally(() => {
      inspector.close();
      data.close();
      process.exit(0);
    });
  };
  process.on('disconnect', shutdown);

  let attached!: () => void;
  // Replays start once a debugger has attached (or R went on without one).
  let queue: Promise<unknown> = new Promise<void>((resolve) => (attached = resolve));
  process.on('message', (raw) => {
    const request = raw as ChildRequest;
    if (request.type !== 'replay') return;
    queue = queue.then(async () => {
      try {
        status({ t: 'running', session: request.session });
        const trace = await data.replay(request.session, { event: (event) => send({ type: 'event', id: request.id, event }) }, { fresh: true });
        send({ type: 'done', id: request.id, trace: { session: trace.session, equal: trace.equal, divergences: trace.divergences, error: trace.error, ms: trace.ms } });
      } catch (error) {
        send({ type: 'failed', id: request.id, message: oneLine(error) });
      } finally {
        status({ t: 'idle' });
      }
    });
  });
  // Block only once `ready` is out: a blocked thread sends nothing.
  process.send?.({ type: 'ready', url: inspector.url } satisfies ChildMessage, () => {
    Atomics.store(waiting, 0, 1);
    status({ t: 'waiting', session: null });
    inspector.waitForDebugger();
    Atomics.store(waiting, 0, 0);
    status({ t: 'idle' });
    attached();
  });
}

void main();
