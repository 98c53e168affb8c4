import { fork, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';

// A small closed-loop HTTP/1.1 load generator for benchmarks, meant to run in
// a process of its own (startLoadProcess), so that it never shares an event
// loop with the server it measures. `concurrency` keep-alive connections, each
// with one request in flight: send, read the whole response, send the next.
// It writes prebuilt request bytes on plain sockets and parses only the status
// line and Content-Length, which costs the client a few microseconds of CPU a
// request (node:http's client costs several times that). Bodies are taken
// round-robin across connections from the list given. Latency is measured
// from the first byte written to the last byte read; requests that complete
// during the warm-up are not counted. Every response must carry a
// Content-Length (chunked responses are refused as errors).

export interface LoadSpec {
  /** http://host:port */
  url: string;
  path: string;
  /** Request bodies (JSON text), used round-robin. */
  bodies: string[];
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** Extra request headers. */
  headers?: Record<string, string>;
}

export interface LoadResult {
  /** Requests completed inside the measured window. */
  requests: number;
  /** Requests completed in all, warm-up included (to divide a server's CPU time by). */
  totalRequests: number;
  /** Of those, responses with a status outside 200..299. */
  errors: number;
  statuses: Record<string, number>;
  /** The measured window, ms. */
  elapsedMs: number;
  requestsPerSec: number;
  /** Latency percentiles, ms. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** CPU time the generator used in the window, µs per request. */
  clientCpuUsPerRequest: number;
  /** A response body seen (the last), for sanity checks. */
  sample: string;
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const url = new URL(spec.url);
  const port = Number(url.port);
  const host = url.hostname;
  const head = (body: Buffer): Buffer =>
    Buffer.from(
      `POST ${spec.path} HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n` +
        Object.entries(spec.headers ?? {})
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join('') +
        '\r\n',
    );
  const requests = spec.bodies.map((b) => {
    const body = Buffer.from(b);
    return Buffer.concat([head(body), body]);
  });
  let nextBody = 0;

  const t0 = performance.now();
  const warmEnd = t0 + spec.warmupMs;
  const end = warmEnd + spec.durationMs;
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  let total = 0;
  let errors = 0;
  const statuses: Record<string, number> = {};
  let sample = '';
  let cpuAtWarmEnd: NodeJS.CpuUsage | null = null;
  let measuredStart = 0;
  let measuredEnd = 0;

  const record = (ms: number, status: number, body: string | null): void => {
    if (count === latencies.length) {
      const bigger = new Float64Array(latencies.length * 2);
      bigger.set(latencies);
      latencies = bigger;
    }
    latencies[count++] = ms;
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (status < 200 || status > 299) errors++;
    if (body !== null) sample = body;
  };

  const connection = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const socket = net.connect(port, host);
      socket.setNoDelay(true);
      let pending: Buffer | null = null;
      let sentAt = 0;
      const send = (): void => {
        const now = performance.now();
        if (now >= end) {
          socket.end();
          resolve();
          return;
        }
        if (cpuAtWarmEnd === null && now >= warmEnd) {
          cpuAtWarmEnd = process.cpuUsage();
          measuredStart = now;
        }
        sentAt = now;
        socket.write(requests[nextBody]);
        nextBody = nextBody + 1 === requests.length ? 0 : nextBody + 1;
      };
      socket.on('connect', send);
      socket.on('error', reject);
      socket.on('data', (chunk: Buffer) => {
        pending = pending === null ? chunk : Buffer.concat([pending, chunk]);
        for (;;) {
          const headEnd: number = pending.indexOf('\r\n\r\n');
          if (headEnd < 0) return;
          const headText = pending.toString('latin1', 0, headEnd);
          const status = Number(headText.slice(9, 12));
          const match = /\r\ncontent-length:\s*(\d+)/i.exec(headText);
          if (!match) {
            socket.destroy();
            reject(new Error(`response without content-length: ${headText.slice(0, 200)}`));
            return;
          }
          const size: number = headEnd + 4 + Number(match[1]);
          if (pending.length < size) return;
          const now = performance.now();
          total++;
          if (sentAt >= warmEnd && now < end) {
            measuredEnd = now;
            record(now - sentAt, status, count % 1024 === 0 ? pending.toString('utf8', headEnd + 4, size) : null);
          }
          pending = pending.length === size ? null : pending.subarray(size);
          send();
          if (pending === null) return;
        }
      });
    });

  await Promise.all(Array.from({ length: spec.concurrency }, connection));
  const cpu = cpuAtWarmEnd === null ? { user: 0, system: 0 } : process.cpuUsage(cpuAtWarmEnd);
  const elapsedMs = measuredEnd > measuredStart ? measuredEnd - measuredStart : spec.durationMs;
  const sorted = latencies.subarray(0, count).sort();
  const at = (p: number): number => (count === 0 ? NaN : sorted[Math.min(count - 1, Math.floor((count * p) / 100))]);
  return {
    requests: count,
    totalRequests: total,
    errors,
    statuses,
    elapsedMs,
    requestsPerSec: count / (elapsedMs / 1000),
    p50: at(50),
    p90: at(90),
    p99: at(99),
    max: count === 0 ? NaN : sorted[count - 1],
    clientCpuUsPerRequest: count === 0 ? NaN : (cpu.user + cpu.system) / count,
    sample,
  };
}

// ---- the generator's own process -------------------------------------------------------------

export interface LoadProcess {
  run(spec: LoadSpec): Promise<LoadResult>;
  close(): void;
}

/** Start the generator in a child process (node --import tsx), driven over IPC. */
export function startLoadProcess(): LoadProcess {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--load-worker'], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  let next = 0;
  const waiting = new Map<number, { resolve: (r: LoadResult) => void; reject: (e: Error) => void }>();
  child.on('message', (message: { id: number; result?: LoadResult; error?: string }) => {
    const w = waiting.get(message.id);
    if (!w) return;
    waiting.delete(message.id);
    if (message.error !== undefined) w.reject(new Error(message.error));
    else w.resolve(message.result!);
  });
  child.on('exit', (code, signal) => {
    for (const w of waiting.values()) w.reject(new Error(`the load generator exited (code ${code}, signal ${signal})`));
    waiting.clear();
  });
  return {
    run(spec) {
      const id = next++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        child.send({ id, spec });
      });
    },
    close() {
      child.disconnect();
      child.kill();
    },
  };
}

if (process.argv.includes('--load-worker') && process.send) {
  process.on('message', (message: { id: number; spec: LoadSpec }) => {
    runLoad(message.spec).then(
      (result) => process.send!({ id: message.id, result }),
      (error: Error) => process.send!({ id: message.id, error: error.message }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}
