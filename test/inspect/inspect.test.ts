import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SourceMapConsumer, type RawSourceMap } from 'source-map';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { JournalReader } from '../../src/journal/index.js';
import type { CallResultRecord, SessionStartRecord } from '../../src/model/records.js';
import { BIN, ROOT } from '../helpers/cli.js';
import { recordBankJournal, type BankJournal } from '../tui/fixture.js';

// `replay run --inspect` through the inspector's own protocol: a debugger
// connects over WebSocket (Node 20 has no global WebSocket: the ws package),
// sets a breakpoint on a line of the app's TypeScript, and sees it hit with
// the recorded values in scope.

interface Paused {
  callFrames: { callFrameId: string; functionName: string; location: { scriptId: string; lineNumber: number; columnNumber: number } }[];
}

class Inspector {
  private nextId = 0;
  private readonly pending = new Map<number, (result: unknown) => void>();
  private readonly waiters: ((p: Paused) => void)[] = [];
  private readonly pauses: Paused[] = [];
  readonly scripts = new Map<string, string>();

  constructor(private readonly ws: WebSocket) {
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
}

let journal: BankJournal;
let tmp: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'windback-inspect-'));
  journal = await recordBankJournal(path.join(tmp, 'journal'));
}, 120_000);

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The bundle line and column of `text`'s first occurrence in the app's TypeScript, through the stored source map. */
async function generatedPosition(appFile: string, text: string): Promise<{ tsLine: number; line: number; column: number; map: RawSourceMap }> {
  const codeDir = path.join(journal.dir, 'code');
  const mapFile = fs.readdirSync(codeDir).find((f) => f.endsWith('.js.map'))!;
  const map = JSON.parse(fs.readFileSync(path.join(codeDir, mapFile), 'utf8')) as RawSourceMap;
  const tsLine = fs.readFileSync(appFile, 'utf8').split('\n').findIndex((l) => l.includes(text)) + 1;
  expect(tsLine, `"${text}" in ${appFile}`).toBeGreaterThan(0);
  const consumer = await new SourceMapConsumer(map);
  // The map's sources are relative; the consumer joins them with its sourceRoot.
  const source = (consumer as unknown as { sources: string[] }).sources.find((s) => s.endsWith('/bank/app.ts'));
  expect(source, `app.ts among ${map.sources.join(', ')}`).toBeDefined();
  const generated = consumer.generatedPositionFor({ source: source!, line: tsLine, column: 0, bias: SourceMapConsumer.LEAST_UPPER_BOUND });
  expect(generated.line, 'mapped to the bundle').not.toBeNull();
  return { tsLine, line: generated.line!, column: generated.column ?? 0, map };
}

describe('replay run --inspect', () => {
  it('waits for a debugger, pauses where the session begins, and a breakpoint in app.ts hits with the recorded values', async () => {
    const appFile = path.join(ROOT, 'fixtures', 'apps', 'bank', 'app.ts');
    const target = await generatedPosition(appFile, 'if (risk > 0.95)');
    const child = spawn(process.execPath, [BIN, 'run', String(journal.transfer.session), '--journal', journal.dir, '--inspect', '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    children.push(child);
    let stderr = '';
    let stdout = '';
    child.stdout!.on('data', (d) => (stdout += d));
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr!.on('data', (d) => {
        stderr += d;
        const match = /Debugger listening on (ws:\/\/\S+)/.exec(stderr);
        if (match && stderr.includes('Waiting for a debugger')) resolve(match[1]);
      });
      child.once('exit', (code) => reject(new Error(`replay run exited ${code} before listening: ${stderr}`)));
    });
    expect(stderr).toContain('devtools://devtools/bundled/js_app.html');

    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const inspector = new Inspector(ws);
    await inspector.send('Runtime.enable');
    await inspector.send('Debugger.enable');
    const breakpoint = await inspector.send<{ breakpointId: string }>('Debugger.setBreakpointByUrl', {
      urlRegex: '\\.windback-[0-9a-f]{12}\\.js$',
      lineNumber: target.line - 1,
      columnNumber: target.column,
    });
    expect(breakpoint.breakpointId).toBeTruthy();
    await inspector.send('Runtime.runIfWaitingForDebugger');

    // First stop: the session's start.
    const start = await inspector.paused();
    expect(start.callFrames[0].functionName).toBe('sessionStart');
    expect(inspector.scripts.get(start.callFrames[0].location.scriptId)).toBe('windback:session-start.js');
    await inspector.send('Debugger.resume');

    // Then the breakpoint set on the TypeScript line, in the app's bundle.
    const hit = await inspector.paused();
    const frame = hit.callFrames[0];
    expect(frame.functionName).toBe('transfer');
    const consumer = await new SourceMapConsumer(target.map);
    const original = consumer.originalPositionFor({ line: frame.location.lineNumber + 1, column: frame.location.columnNumber });
    expect(original.source).toMatch(/bank\/app\.ts$/);
    expect(original.line).toBe(target.tsLine);

    // The recorded values are in scope: the input the session was recorded with, and the risk the stub answered.
    const evaluate = async (expression: string): Promise<unknown> =>
      ((await inspector.send<{ result: { value: unknown } }>('Debugger.evaluateOnCallFrame', { callFrameId: frame.callFrameId, expression, returnByValue: true })).result.value);
    const recorded = [...JournalReader.open(journal.dir).records()].map((r) => r.record).filter((r) => 'session' in r && r.session === journal.transfer.session);
    const input = (recorded.find((r) => r.kind === 'session-start') as SessionStartRecord).input;
    const fraudCheck = recorded.find((r) => r.kind === 'call-result' && r.call === 0) as CallResultRecord;
    const recordedRisk = (JSON.parse((fraudCheck.value as { body: string }).body) as { risk: number }).risk;
    expect(JSON.parse(String(await evaluate('JSON.stringify({ from, to, amount })')))).toEqual(input);
    expect(await evaluate('risk')).toBe(recordedRisk);

    await inspector.send('Debugger.resume');
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    ws.close();
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ session: journal.transfer.session, equal: true });
  }, 120_000);

  it('refuses an address that is not host:port, with exit 2', () => {
    return new Promise<void>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'run', '1', '--journal', journal.dir, '--inspect', '--inspect-address', 'nowhere']);
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.once('exit', (code) => {
        expect(code).toBe(2);
        expect(stderr.trim().split('\n')).toHaveLength(1);
        expect(stderr).toContain('--inspect-address');
        resolve();
      });
    });
  });
});
