import * as fs from 'node:fs';
import * as path from 'node:path';
import { SourceMapConsumer, type RawSourceMap } from 'source-map';
import WebSocket from 'ws';

// A debugger client for the tests: the inspector's own protocol over
// WebSocket (Node 20 has no global WebSocket: the ws package), as DevTools
// and VS Code speak it.

export interface Paused {
  reason: string;
  hitBreakpoints?: string[];
  callFrames: { callFrameId: string; functionName: string; location: { scriptId: string; lineNumber: number; columnNumber: number } }[];
}

export class Inspector {
  private nextId = 0;
  private readonly pending = new Map<number, (result: unknown) => void>();
  private readonly waiters: ((p: Paused) => void)[] = [];
  private readonly pauses: Paused[] = [];
  readonly scripts = new Map<string, string>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as { id?: number; method?: string; params?: unknown; result?: unknown; error?: { message: string } };
      if (message.id !== undefined) {
        this.pending.get(message.id)?.(message.error ? { error: message.error.message } : message.result);
        this.pending.delete(message.id);
      } else if (message.method === 'Debugger.scriptParsed') {
        const p = message.params as { scriptId: string; url: string };
        this.scripts.set(p.scriptId, p.url);
      } else if (message.method === 'Debugger.paused') {
        const waiter = this.waiters.shift();
        if (waiter) waiter(message.params as Paused);
        else this.pauses.push(message.params as Paused);
      }
    });
  }

  static async connect(url: string): Promise<Inspector> {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return new Inspector(ws);
  }

  send<T = unknown>(method: string, params: object = {}): Promise<T> {
    const id = ++this.nextId;
    this.ws.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve) => this.pending.set(id, resolve as (r: unknown) => void));
  }

  paused(): Promise<Paused> {
    const queued = this.pauses.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Evaluate in a paused frame, by value. */
  async evaluate(callFrameId: string, expression: string): Promise<unknown> {
    return (await this.send<{ result: { value: unknown } }>('Debugger.evaluateOnCallFrame', { callFrameId, expression, returnByValue: true })).result.value;
  }

  close(): void {
    this.ws.close();
  }
}

/** The bundle line and column of `text`'s first occurrence in the app's TypeScript, through the journal's stored source map. */
export async function generatedPosition(journalDir: string, appFile: string, text: string): Promise<{ tsLine: number; line: number; column: number; map: RawSourceMap }> {
  const codeDir = path.join(journalDir, 'code');
  const mapFile = fs.readdirSync(codeDir).find((f) => f.endsWith('.js.map'))!;
  const map = JSON.parse(fs.readFileSync(path.join(codeDir, mapFile), 'utf8')) as RawSourceMap;
  const tsLine = fs.readFileSync(appFile, 'utf8').split('\n').findIndex((l) => l.includes(text)) + 1;
  if (tsLine < 1) throw new Error(`"${text}" is not in ${appFile}`);
  const consumer = await new SourceMapConsumer(map);
  // The map's sources are relative; the consumer joins them with its sourceRoot.
  const source = (consumer as unknown as { sources: string[] }).sources.find((s) => s.endsWith('/bank/app.ts'));
  if (!source) throw new Error(`no app.ts among the map's sources: ${map.sources.join(', ')}`);
  const generated = consumer.generatedPositionFor({ source, line: tsLine, column: 0, bias: SourceMapConsumer.LEAST_UPPER_BOUND });
  if (generated.line === null) throw new Error(`${appFile}:${tsLine} is not in the bundle's source map`);
  return { tsLine, line: generated.line!, column: generated.column ?? 0, map };
}

/** Where the app bundle's scripts are: the vm filename ends in .windback-<12 hex>.js. */
export const BUNDLE_URL_REGEX = '\\.windback-[0-9a-f]{12}\\.js$';
