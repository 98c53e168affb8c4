// Load helpers shared by the demo, the runtime tests and the benchmarks:
// - spawnRecorder(): the real `replay record` binary as a child process, ready
//   once it prints "listening on http://...";
// - LoadClient: one HTTP client for the three transports (JSON routes,
//   JSON-RPC 2.0 at /rpc, XML-RPC at /RPC2) that keeps the exact bytes of
//   every response, so a test can compare them with the journal;
// - XML-RPC encoding and decoding, written here so that nothing else is needed;
// - a seeded random generator and a bank workload (fixtures/apps/bank).
import { spawn, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { XMLParser } from 'fast-xml-parser';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = path.join(ROOT, 'bin', 'replay.js');
export const BANK_APP = path.join(ROOT, 'fixtures', 'apps', 'bank', 'app.ts');

// ---- child processes -----------------------------------------------------------------------

const children = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Every child spawned here is SIGKILLed when this process exits, whatever the reason. */
function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', killAllChildren);
  }
}

/** SIGKILL every child process started by this module that is still running. */
export function killAllChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RecorderOptions {
  journal: string;
  /** Merged over the app's config (--config). */
  config?: Record<string, unknown>;
  /** More flags for `replay record` (e.g. ['--max-body', '64']). */
  args?: string[];
  env?: Record<string, string | undefined>;
  /** How long to wait for "listening on" (default 30 s). */
  startTimeoutMs?: number;
  /** Receives each line the server prints on stderr (and the process, to signal it while it starts). */
  onLine?: (line: string, child: ChildProcess) => void;
}

export interface RecorderProcess {
  url: string;
  port: number;
  pid: number;
  child: ChildProcess;
  /** Everything printed on stderr so far. */
  stderr(): string;
  stdout(): string;
  exited: Promise<Exit>;
  /** Send a signal and wait for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<Exit>;
  /** SIGTERM (drain and close), then SIGKILL if it has not exited after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<Exit>;
}

/** The argument vector of `replay record`, as a user would type it after `replay`. */
export function recordArgs(app: string, options: RecorderOptions): string[] {
  const args = ['record', app, '--port', '0', '--journal', options.journal];
  if (options.config) args.push('--config', JSON.stringify(options.config));
  return [...args, ...(options.args ?? [])];
}

/**
 * Start `node bin/replay.js record <app> --port 0 ...` and resolve once it
 * prints "listening on http://...". Rejects (and kills the child) if it exits
 * or stays silent first.
 */
export function spawnRecorder(app: string, options: RecorderOptions): Promise<RecorderProcess> {
  return spawnServer([BIN, ...recordArgs(app, options)], options);
}

/**
 * Start `node <argv>` and resolve once it prints "listening on http://..." on
 * stderr (the way `replay record` does): for `replay record` itself, or a
 * script that starts a server its own way.
 */
export function spawnServer(argv: string[], options: Pick<RecorderOptions, 'env' | 'startTimeoutMs' | 'onLine'> = {}): Promise<RecorderProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...options.env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const child = spawn(process.execPath, argv, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const name = argv
    .filter((a) => !a.startsWith('-') && a !== 'tsx')
    .slice(0, 2)
    .map((a) => path.basename(a))
    .join(' ');
  track(child);
  let stderr = '';
  let stdout = '';
  let partial = '';
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      fail(new Error(`${name} printed no "listening on" line within ${options.startTimeoutMs ?? 30_000} ms; stderr:\n${stderr}`));
    }, options.startTimeoutMs ?? 30_000);
    const fail = (error: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    child.once('error', fail);
    void exited.then((exit) => fail(new Error(`${name} exited (code ${exit.code}, signal ${exit.signal}) before listening; stderr:\n${stderr}`)));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        options.onLine?.(line, child);
        const match = /listening on (http:\/\/\S+)/.exec(line);
        if (match && !done) {
          done = true;
          clearTimeout(timer);
          const url = match[1];
          const kill = (signal: NodeJS.Signals = 'SIGKILL'): Promise<Exit> => {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          };
          resolve({
            url,
            port: Number(new URL(url).port),
            pid: child.pid!,
            child,
            stderr: () => stderr,
            stdout: () => stdout,
            exited,
            kill,
            async stop(timeoutMs = 15_000) {
              const force = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
              try {
                return await kill('SIGTERM');
              } finally {
                clearTimeout(force);
              }
            },
          });
        }
      }
    });
  });
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `replay <args>` to completion (asynchronously, so servers in this process keep serving). */
export function runReplay(args: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  const merged: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: merged, stdio: ['ignore', 'pipe', 'pipe'] });
    track(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

// ---- HTTP ------------------------------------------------------------------------------------

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The exact bytes of the response body. */
  body: Buffer;
  /** The Windback-Session header, as a number, or null. */
  session: number | null;
}

export type Transport = 'json' | 'json-rpc' | 'xml-rpc';

/** What one call through LoadClient came back with. */
export interface CallOutcome extends HttpResult {
  transport: Transport;
  /** The decoded result when the call succeeded, per transport. */
  ok: boolean;
  value: unknown;
  /** The error (JSON `error`, JSON-RPC `error`, XML-RPC fault) when it did not. */
  error: { code?: number; name?: string; message: string } | null;
}

export interface CallOptions {
  idempotencyKey?: string;
  headers?: Record<string, string>;
}

/** An HTTP client for the recording server's three transports. The base URL can change (a restart on port 0). */
export class LoadClient {
  readonly agent: http.Agent;

  constructor(
    public url: string,
    options: { maxSockets?: number } = {},
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 64 });
  }

  /** One request; the body is sent as given. Rejects on connection errors (a killed server). */
  request(method: string, pathname: string, body: string | Buffer | null = null, headers: Record<string, string> = {}): Promise<HttpResult> {
    const url = new URL(pathname, this.url);
    const payload = body === null ? null : Buffer.isBuffer(body) ? body : Buffer.from(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        url,
        {
          method,
          agent: this.agent,
          headers: { ...(payload ? { 'content-length': String(payload.length) } : {}), ...headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('aborted', () => reject(new Error('the response was cut off')));
          res.on('end', () => {
            if (!res.complete) return reject(new Error('the response was cut off'));
            const session = res.headers['windback-session'];
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks),
              session: typeof session === 'string' ? Number(session) : null,
            });
          });
        },
      );
      req.on('error', reject);
      req.end(payload ?? undefined);
    });
  }

  /** POST a JSON body to a route (POST /<kind>). */
  async json(route: string, input: unknown, options: CallOptions = {}): Promise<CallOutcome> {
    const r = await this.request('POST', route, JSON.stringify(input), { 'content-type': 'application/json', ...headersOf(options) });
    const parsed = parseJson(r.body);
    const failed = r.status >= 400 || parsed === undefined;
    const error = failed ? ((parsed as { error?: { name?: string; message?: string } } | undefined)?.error ?? { message: r.body.toString('utf8') }) : null;
    return { ...r, transport: 'json', ok: !failed, value: failed ? undefined : parsed, error: error ? { name: error.name, message: String(error.message) } : null };
  }

  /** A JSON-RPC 2.0 call at POST /rpc. */
  async rpc(method: string, params: unknown, options: CallOptions & { id?: string | number | null } = {}): Promise<CallOutcome> {
    const id = options.id === undefined ? 1 : options.id;
    const r = await this.request('POST', '/rpc', JSON.stringify({ jsonrpc: '2.0', method, params, id }), {
      'content-type': 'application/json',
      ...headersOf(options),
    });
    const parsed = parseJson(r.body) as { result?: unknown; error?: { code: number; message: string } } | undefined;
    const ok = parsed !== undefined && 'result' in parsed && !parsed.error;
    return {
      ...r,
      transport: 'json-rpc',
      ok,
      value: ok ? parsed!.result : undefined,
      error: ok ? null : parsed?.error ? { code: parsed.error.code, message: parsed.error.message } : { message: r.body.toString('utf8') },
    };
  }

  /** An XML-RPC call at POST /RPC2. */
  async xmlRpc(method: string, params: unknown[], options: CallOptions = {}): Promise<CallOutcome> {
    const r = await this.request('POST', '/RPC2', xmlRpcRequest(method, params), { 'content-type': 'text/xml', ...headersOf(options) });
    let decoded: XmlRpcResponse;
    try {
      decoded = parseXmlRpcResponse(r.body.toString('utf8'));
    } catch (error) {
      decoded = { ok: false, fault: { faultCode: r.status, faultString: (error as Error).message } };
    }
    return {
      ...r,
      transport: 'xml-rpc',
      ok: decoded.ok,
      value: decoded.ok ? decoded.value : undefined,
      error: decoded.ok ? null : { code: decoded.fault.faultCode, message: decoded.fault.faultString },
    };
  }

  /** Call a session kind over one transport (JSON: POST /<kind>). */
  call(transport: Transport, kind: string, input: Record<string, unknown>, options: CallOptions = {}): Promise<CallOutcome> {
    switch (transport) {
      case 'json':
        return this.json(`/${kind}`, input, options);
      case 'json-rpc':
        return this.rpc(kind, input, options);
      case 'xml-rpc':
        return this.xmlRpc(kind, [input], options);
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

function headersOf(options: CallOptions): Record<string, string> {
  return { ...(options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {}), ...options.headers };
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

// ---- XML-RPC ---------------------------------------------------------------------------------

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A JavaScript value as an XML-RPC <value>. */
export function xmlRpcValue(value: unknown): string {
  if (value === null || value === undefined) return '<value><nil/></value>';
  switch (typeof value) {
    case 'boolean':
      return `<value><boolean>${value ? 1 : 0}</boolean></value>`;
    case 'number':
      return Number.isInteger(value) && Math.abs(value) < 2 ** 31 ? `<value><int>${value}</int></value>` : `<value><double>${value}</double></value>`;
    case 'bigint':
      return `<value><i8>${value}</i8></value>`;
    case 'string':
      return `<value><string>${escapeXml(value)}</string></value>`;
    default:
      break;
  }
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `<value><base64>${Buffer.from(value).toString('base64')}</base64></value>`;
  if (Array.isArray(value)) return `<value><array><data>${value.map(xmlRpcValue).join('')}</data></array></value>`;
  const members = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .map(([name, v]) => `<member><name>${escapeXml(name)}</name>${xmlRpcValue(v)}</member>`)
    .join('');
  return `<value><struct>${members}</struct></value>`;
}

/** A <methodCall> document. */
export function xmlRpcRequest(method: string, params: unknown[]): string {
  return `<?xml version="1.0"?><methodCall><methodName>${escapeXml(method)}</methodName><params>${params
    .map((p) => `<param>${xmlRpcValue(p)}</param>`)
    .join('')}</params></methodCall>`;
}

export type XmlRpcResponse = { ok: true; value: unknown } | { ok: false; fault: { faultCode: number; faultString: string } };

const xmlParser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  isArray: (name) => name === 'member' || name === 'value' || name === 'param',
});

/** Decode a <methodResponse>: its value, or its fault. */
export function parseXmlRpcResponse(text: string): XmlRpcResponse {
  const doc = xmlParser.parse(text, true) as { methodResponse?: { params?: { param?: { value?: unknown[] }[] }; fault?: { value?: unknown[] } } };
  const response = doc.methodResponse;
  if (!response || typeof response !== 'object') throw new Error(`not an XML-RPC methodResponse: ${text.slice(0, 80)}`);
  if (response.fault) {
    const fault = decodeXmlRpc(response.fault.value?.[0]) as { faultCode: number; faultString: string };
    return { ok: false, fault };
  }
  return { ok: true, value: decodeXmlRpc(response.params?.param?.[0]?.value?.[0]) };
}

function decodeXmlRpc(node: unknown): unknown {
  if (node === undefined || node === null || node === '') return '';
  if (typeof node === 'string') return node;
  const [type] = Object.keys(node as object);
  const body = (node as Record<string, unknown>)[type];
  const text = typeof body === 'string' ? body : '';
  switch (type) {
    case 'int':
    case 'i4':
    case 'i8':
    case 'double':
      return Number(text);
    case 'boolean':
      return text.trim() === '1';
    case 'string':
      return text;
    case 'nil':
      return null;
    case 'base64':
      return Buffer.from(text, 'base64');
    case 'dateTime.iso8601':
      return text;
    case 'array': {
      const values = (body as { data?: { value?: unknown[] } } | '')?.valueOf();
      return typeof values === 'object' && values !== null ? ((values as { data?: { value?: unknown[] } }).data?.value ?? []).map(decodeXmlRpc) : [];
    }
    case 'struct': {
      const members = typeof body === 'object' && body !== null ? ((body as { member?: { name?: unknown; value?: unknown[] }[] }).member ?? []) : [];
      return Object.fromEntries(members.map((m) => [String(m.name ?? ''), decodeXmlRpc(m.value?.[0])]));
    }
    default:
      throw new Error(`unknown XML-RPC type <${type}>`);
  }
}

// ---- workload --------------------------------------------------------------------------------

/** A small seeded generator (mulberry32), so that a workload can be replayed from its seed. */
export function seededRandom(seed: number): { next(): number; int(n: number): number; pick<T>(items: readonly T[]): T; chance(p: number): boolean } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (items) => items[Math.floor(next() * items.length)],
    chance: (p) => next() < p,
  };
}

export const TRANSPORTS: readonly Transport[] = ['json', 'json-rpc', 'xml-rpc'];

/** One request of the bank workload. */
export interface BankOp {
  transport: Transport;
  kind: 'open' | 'deposit' | 'transfer' | 'balance' | 'statement';
  input: Record<string, unknown>;
  idempotencyKey?: string;
  /** What the workload meant by it, for the summary ('insufficient funds', 'unknown account', ...). */
  label: string;
}

/**
 * The next request of a bank workload over `accounts` (ids of open
 * accounts): a mix of every kind and transport, with business errors
 * (insufficient funds, unknown account, too large) and Idempotency-Keys.
 */
export function bankOp(random: ReturnType<typeof seededRandom>, accounts: readonly string[], keyPrefix: string, index: number): BankOp {
  const transport = random.pick(TRANSPORTS);
  const account = (): string => (accounts.length ? random.pick(accounts) : 'acc_none');
  const two = (): [string, string] => {
    const from = account();
    let to = account();
    for (let i = 0; i < 4 && to === from; i++) to = account();
    return [from, to];
  };
  const keyed = random.chance(0.3) ? `${keyPrefix}-${index}` : undefined;
  const roll = random.next();
  if (roll < 0.1 || accounts.length < 2) {
    return { transport, kind: 'open', input: { owner: `owner-${index}`, initial: 10_000 + random.int(90_000) }, idempotencyKey: keyed, label: 'open' };
  }
  if (roll < 0.3) return { transport, kind: 'deposit', input: { account: account(), amount: 1 + random.int(5_000) }, idempotencyKey: keyed, label: 'deposit' };
  if (roll < 0.6) {
    const [from, to] = two();
    const variant = random.next();
    if (variant < 0.08) return { transport, kind: 'transfer', input: { from, to: 'acc_missing', amount: 100 }, idempotencyKey: keyed, label: 'unknown account' };
    if (variant < 0.14) return { transport, kind: 'transfer', input: { from, to, amount: 5_000_000 }, idempotencyKey: keyed, label: 'too large' };
    // The stub scores 150 000 cents at 0.79 (accepted), more than any account here holds.
    if (variant < 0.24) return { transport, kind: 'transfer', input: { from, to, amount: 150_000 }, idempotencyKey: keyed, label: 'insufficient funds' };
    if (variant < 0.28) return { transport, kind: 'transfer', input: { from, to, amount: 196_000 }, idempotencyKey: keyed, label: 'risk too high' };
    return { transport, kind: 'transfer', input: { from, to, amount: 1 + random.int(3_000) }, idempotencyKey: keyed, label: 'transfer' };
  }
  if (roll < 0.85) {
    return random.chance(0.05)
      ? { transport, kind: 'balance', input: { account: 'acc_missing' }, label: 'unknown account' }
      : { transport, kind: 'balance', input: { account: account() }, label: 'balance' };
  }
  return { transport, kind: 'statement', input: { account: account(), limit: 1 + random.int(5) }, label: 'statement' };
}

/** Send one workload request. */
export function sendOp(client: LoadClient, op: BankOp): Promise<CallOutcome> {
  return client.call(op.transport, op.kind, op.input, { idempotencyKey: op.idempotencyKey });
}

/** Run `task` over `items` with at most `concurrency` at a time, in order of start. */
export async function pool<T>(items: readonly T[], concurrency: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await task(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
