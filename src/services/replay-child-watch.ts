import * as fs from 'node:fs';
import { Session } from 'node:inspector';
import * as net from 'node:net';
import * as path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { originalPosition, registerSourceMap } from '../executor/source-maps.js';
import { CONTROL_FD, STATUS_FD, type StatusLine } from './replay-child.js';

// A worker thread of the `replay tui --inspect` child: an inspector session
// on the child's main thread that tells the TUI when a debugger pauses it and
// where (mapped to the app's sources through the bundle's inline source map),
// and when it resumes. It runs while the main thread is paused, so it writes
// straight to the status pipe, and reads `resume` from the control pipe.

const SESSION_START = 'windback:session-start.js';
const { ppid, waiting } = workerData as { ppid: number; waiting: Int32Array };

interface CallFrame {
  functionName: string;
  url: string;
  location: { scriptId: string; lineNumber: number; columnNumber: number };
}

const urls = new Map<string, string>();
/** Inline source maps by script URL, decoded on the first pause in that script. */
const maps = new Map<string, string>();
const registered = new Set<string>();

function status(line: StatusLine): void {
  try {
    fs.writeSync(STATUS_FD, `${JSON.stringify(line)}\n`);
  } catch {
    // the TUI is gone
  }
}

function decodeDataUrl(url: string): string | null {
  const comma = url.indexOf(',');
  if (!url.startsWith('data:') || comma < 0) return null;
  const body = url.slice(comma + 1);
  return url.slice(0, comma).endsWith(';base64') ? Buffer.from(body, 'base64').toString('utf8') : decodeURIComponent(body);
}

function shortPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

/** file:line:column of a paused frame, in the app's TypeScript when the bundle maps it. */
function where(frame: CallFrame): string {
  const url = urls.get(frame.location.scriptId) ?? frame.url;
  const line = frame.location.lineNumber + 1;
  const column = frame.location.columnNumber;
  const map = maps.get(url);
  if (map !== undefined && !registered.has(url)) {
    const decoded = decodeDataUrl(map);
    if (decoded) registerSourceMap(url, decoded);
    registered.add(url);
  }
  const original = registered.has(url) ? originalPosition(url, line, column) : null;
  if (original) return `${shortPath(original.file)}:${original.line}:${original.column + 1}`;
  return `${shortPath(url.replace(/^file:\/\//, ''))}:${line}:${column + 1}`;
}

const session = new Session();
session.connectToMainThread();
session.on('Debugger.scriptParsed', (message) => {
  const { scriptId, url, sourceMapURL } = message.params;
  urls.set(scriptId, url);
  if (sourceMapURL?.startsWith('data:')) maps.set(url, sourceMapURL);
});
session.on('Debugger.paused', (message) => {
  const frame = message.params.callFrames[0] as CallFrame | undefined;
  if (!frame) return;
  const url = urls.get(frame.location.scriptId) ?? frame.url;
  let at: string | null;
  try {
    at = where(frame);
  } catch {
    at = null;
  }
  status({ t: 'paused', at, function: frame.functionName, atSessionStart: url === SESSION_START });
});
session.on('Debugger.resumed', () => status({ t: 'resumed' }));

// `resume` from the TUI: go on without (or past) a debugger.
let control = '';
const commands = new net.Socket({ fd: CONTROL_FD, readable: true, writable: false });
commands.setEncoding('utf8');
commands.on('error', () => {});
commands.on('data', (chunk: string) => {
  control += chunk;
  let nl: number;
  while ((nl = control.indexOf('\n')) >= 0) {
    const command = control.slice(0, nl).trim();
    control = control.slice(nl + 1);
    if (command === 'resume') resume();
  }
});

/** Release the wait for a debugger, or resume a pause: whichever holds the main thread. */
function resume(): void {
  if (Atomics.load(waiting, 0) === 1) release();
  else session.post('Debugger.resume', () => {});
}

/** "run" is lost if it comes just before the main thread starts waiting: repeat it until the wait is over. */
function release(): void {
  if (Atomics.load(waiting, 0) === 0) return;
  session.post('Runtime.runIfWaitingForDebugger', () => {});
  setTimeout(release, 50);
}

// The TUI may die without closing us (SIGKILL); a paused main thread would not notice.
setInterval(() => {
  if (process.ppid !== ppid) process.kill(process.pid, 'SIGKILL');
}, 500);

session.post('Debugger.enable', () => parentPort?.postMessage('ready'));
// Keeps this thread alive: an inspector session alone does not.
parentPort?.on('message', () => {});
