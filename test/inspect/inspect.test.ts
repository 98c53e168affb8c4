import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SourceMapConsumer } from 'source-map';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JournalReader } from '../../src/journal/index.js';
import type { CallResultRecord, SessionStartRecord } from '../../src/model/records.js';
import { BIN, ROOT } from '../helpers/cli.js';
import { recordBankJournal, type BankJournal } from '../tui/fixture.js';
import { BUNDLE_URL_REGEX, generatedPosition, Inspector } from './devtools.js';

// `replay run --inspect` through the inspector's own protocol: a debugger
// connects over WebSocket (devtools.ts), sets a breakpoint on a line of the
// app's TypeScript, and sees it hit with the recorded values in scope.

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

describe('replay run --inspect', () => {
  it('waits for a debugger, pauses where the session begins, and a breakpoint in app.ts hits with the recorded values', async () => {
    const appFile = path.join(ROOT, 'fixtures', 'apps', 'bank', 'app.ts');
    const target = await generatedPosition(journal.dir, appFile, 'if (risk > 0.95)');
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
    // Node prints where it listens; replay adds how to attach, without saying it twice.
    expect(stderr.match(/Debugger listening on/g)).toHaveLength(1);

    const inspector = await Inspector.connect(url);
    await inspector.send('Runtime.enable');
    await inspector.send('Debugger.enable');
    const breakpoint = await inspector.send<{ breakpointId: string }>('Debugger.setBreakpointByUrl', {
      urlRegex: BUNDLE_URL_REGEX,
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
    const evaluate = (expression: string): Promise<unknown> => inspector.evaluate(frame.callFrameId, expression);
    const recorded = [...JournalReader.open(journal.dir).records()].map((r) => r.record).filter((r) => 'session' in r && r.session === journal.transfer.session);
    const input = (recorded.find((r) => r.kind === 'session-start') as SessionStartRecord).input;
    const fraudCheck = recorded.find((r) => r.kind === 'call-result' && r.call === 0) as CallResultRecord;
    const recordedRisk = (JSON.parse((fraudCheck.value as { body: string }).body) as { risk: number }).risk;
    expect(JSON.parse(String(await evaluate('JSON.stringify({ from, to, amount })')))).toEqual(input);
    expect(await evaluate('risk')).toBe(recordedRisk);

    await inspector.send('Debugger.resume');
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    inspector.close();
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
