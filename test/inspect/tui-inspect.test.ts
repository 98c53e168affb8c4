import * as net from 'node:net';
import * as path from 'node:path';
import { SourceMapConsumer } from 'source-map';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DebuggerStatus } from '../../src/services/replay-child.js';
import { TuiData, type ReplayEvent } from '../../src/services/tui-data.js';
import { ROOT, tempDirs } from '../helpers/cli.js';
import { recordBankJournal, type BankJournal } from '../tui/fixture.js';
import { BUNDLE_URL_REGEX, generatedPosition, Inspector } from './devtools.js';

// The replays of `replay tui --inspect`, run by the real child process
// (TuiData with `inspect`): a debugger attaches over WebSocket, a breakpoint
// on a line of the app's TypeScript hits with the recorded values in scope,
// and the status the TUI draws from says "paused" at that line, then the
// session's steps arrive once it resumes.

const tmp = tempDirs('windback-tui-inspect');
let journal: BankJournal;
const opened: TuiData[] = [];
const clients: Inspector[] = [];

beforeAll(async () => {
  journal = await recordBankJournal(tmp());
}, 120_000);

afterEach(() => {
  while (clients.length) clients.pop()!.close();
  while (opened.length) opened.pop()!.close();
});

afterAll(() => {
  while (opened.length) opened.pop()!.close();
});

function open(address = '127.0.0.1:0'): TuiData {
  const data = TuiData.open({ journal: journal.dir, inspect: address });
  opened.push(data);
  return data;
}

/** Every status the feed reports, and a way to wait for one. */
function follow(data: TuiData): { seen: DebuggerStatus[]; until(check: (s: DebuggerStatus) => boolean, what: string): Promise<DebuggerStatus> } {
  const feed = data.debugger!;
  const seen: DebuggerStatus[] = [feed.status()];
  const waiters: { check: (s: DebuggerStatus) => boolean; resolve: (s: DebuggerStatus) => void }[] = [];
  feed.subscribe((s) => {
    seen.push(s);
    for (const w of [...waiters]) {
      if (w.check(s)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(s);
      }
    }
  });
  return {
    seen,
    until(check, what) {
      const now = feed.status();
      if (check(now)) return Promise.resolve(now);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`gave up waiting for ${what}; the status was ${JSON.stringify(feed.status())}`)), 30_000);
        waiters.push({ check, resolve: (s) => (clearTimeout(timer), resolve(s)) });
      });
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pid: number): Promise<void> {
  const started = Date.now();
  while (alive(pid)) {
    if (Date.now() - started > 10_000) throw new Error(`process ${pid} is still alive`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const steps = (events: ReplayEvent[]): number => events.filter((e) => e.type === 'step').length;

describe('replay tui --inspect: the child runner', () => {
  it('waits for a debugger; once one attached, a replay pauses at the session start, then at a breakpoint in app.ts with the recorded values, and the steps arrive after resume', async () => {
    const appFile = path.join(ROOT, 'fixtures', 'apps', 'bank', 'app.ts');
    const target = await generatedPosition(journal.dir, appFile, 'if (risk > 0.95)');
    const data = open();
    const status = follow(data);
    await data.ready();
    // It waits for a debugger from the start: a debugger sends its "run" only when it attaches.
    const ready = await status.until((s) => s.state === 'waiting', 'waiting for a debugger');
    expect(ready).toMatchObject({ session: null });
    expect(ready.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/[0-9a-f-]+$/);
    expect(ready.devtoolsUrl).toBe(`devtools://devtools/bundled/js_app.html?experiments=true&v8only=true&ws=${ready.url!.slice('ws://'.length)}`);
    expect(ready.address).toMatch(/^127\.0\.0\.1:\d+$/);

    // The debugger attaches before any session is picked (its "run" comes now, once).
    const inspector = await Inspector.connect(ready.url!);
    clients.push(inspector);
    await inspector.send('Runtime.enable');
    await inspector.send('Debugger.enable');
    const breakpoint = await inspector.send<{ breakpointId: string }>('Debugger.setBreakpointByUrl', { urlRegex: BUNDLE_URL_REGEX, lineNumber: target.line - 1, columnNumber: target.column });
    expect(breakpoint.breakpointId).toBeTruthy();
    await inspector.send('Runtime.runIfWaitingForDebugger');
    await status.until((s) => s.state === 'ready', 'ready once a debugger attached');

    const session = journal.transfer.session;
    const events: ReplayEvent[] = [];
    const replay = data.replay(session, { event: (e) => events.push(e) });

    // The session's start: the debugger and the TUI's status agree.
    const start = await inspector.paused();
    expect(start.callFrames[0].functionName).toBe('sessionStart');
    const atStart = await status.until((s) => s.state === 'paused', 'paused at the session start');
    expect(atStart).toMatchObject({ session, atSessionStart: true, function: 'sessionStart' });
    expect(atStart.at).toMatch(/^windback:session-start\.js:\d+:\d+$/);
    await inspector.send('Debugger.resume');

    // The breakpoint on the TypeScript line.
    const hit = await inspector.paused();
    const frame = hit.callFrames[0];
    expect(frame.functionName).toBe('transfer');
    const original = (await new SourceMapConsumer(target.map)).originalPositionFor({ line: frame.location.lineNumber + 1, column: frame.location.columnNumber });
    expect(original.line).toBe(target.tsLine);
    const paused = await status.until((s) => s.state === 'paused' && !s.atSessionStart, 'paused at the breakpoint');
    expect(paused.at).toMatch(new RegExp(`^fixtures/apps/bank/app\\.ts:${target.tsLine}:\\d+$`));
    expect(paused).toMatchObject({ session, function: 'transfer' });

    // Recorded values in scope: the fraud service's risk as the journal holds it.
    const riskEvent = events.find((e) => e.type === 'step' && e.kind === 'call-result');
    expect(riskEvent, 'the fraud check result arrived before the pause').toBeDefined();
    const recordedRisk = (JSON.parse(String((data.steps(session).rows.find((r) => r.kind === 'call-result')!.record.value as { body: string }).body)) as { risk: number }).risk;
    expect(await inspector.evaluate(frame.callFrameId, 'risk')).toBe(recordedRisk);
    expect(await inspector.evaluate(frame.callFrameId, 'amount')).toBe(1_200);

    // The rest of the session runs once resumed; its steps arrive and it replays equal.
    const before = steps(events);
    await inspector.send('Debugger.resume');
    const trace = await replay;
    expect(trace.error).toBeNull();
    expect(trace.equal, JSON.stringify(trace.divergences)).toBe(true);
    expect(steps(trace.events)).toBeGreaterThan(before);
    expect(steps(events)).toBe(steps(trace.events));
    expect(events.map((e) => (e.type === 'step' ? e.kind : e.type))).toContain('tx');
    await status.until((s) => s.state === 'ready' && s.session === null, 'ready again');
    expect(status.seen.map((s) => s.state)).toEqual(expect.arrayContaining(['starting', 'waiting', 'running', 'paused', 'ready']));
  }, 120_000);

  it('resume from the TUI goes on without a debugger, and close kills the child', async () => {
    const data = open();
    const status = follow(data);
    await data.ready();
    const pid = (data.debugger as unknown as { pid: number }).pid;
    expect(alive(pid)).toBe(true);
    await status.until((s) => s.state === 'waiting', 'waiting for a debugger');
    const replay = data.replay(4, {});
    data.debugger!.resume();
    // No debugger of ours is attached, but the session still pauses at its start; resume again.
    await status.until((s) => s.state === 'paused' && s.atSessionStart, 'paused at the session start');
    data.debugger!.resume();
    const trace = await replay;
    expect(trace).toMatchObject({ error: null, equal: true });
    data.close();
    await gone(pid);
  }, 60_000);

  it('a replay process that dies becomes a one-line error, not a hang', async () => {
    const data = open();
    const status = follow(data);
    await data.ready();
    const pid = (data.debugger as unknown as { pid: number }).pid;
    const replay = data.replay(4, {});
    await status.until((s) => s.state === 'waiting', 'waiting for a debugger');
    process.kill(pid, 'SIGKILL');
    const trace = await replay;
    expect(trace.error).toMatch(/^the replay process exited \(SIGKILL\)/);
    expect(trace.error).not.toContain('\n');
    expect(data.debugger!.status()).toMatchObject({ state: 'failed' });
    expect((await data.replay(5, {}, { fresh: true })).error).toMatch(/the replay process exited/);
  }, 60_000);

  it('steps in this process while the child waits for a debugger: the diff does not wait for it', async () => {
    const data = open();
    const status = follow(data);
    await data.ready();
    await status.until((s) => s.state === 'waiting', 'waiting for a debugger');
    const session = journal.transfer.session;
    const records = data.steps(session).rows;
    const tx = records.findIndex((r) => r.kind === 'write-tx');
    const state = await data.stepTo(session, tx);
    expect(state).toMatchObject({ index: tx, verdict: 'equal', divergence: null });
    expect((state.actual as { changes: unknown[] }).changes).toHaveLength((records[tx].record.changes as unknown[]).length);
    // Nothing ran in the child: it still waits, and never ran a session.
    expect(data.debugger!.status().state).toBe('waiting');
    expect(status.seen.some((s) => s.state === 'running')).toBe(false);
  }, 60_000);

  it('a port in use fails ready() with one line', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as net.AddressInfo).port;
      const data = open(`127.0.0.1:${port}`);
      await expect(data.ready()).rejects.toThrow(/cannot start the inspector on 127\.0\.0\.1:\d+/);
      expect(data.debugger!.status().state).toBe('failed');
    } finally {
      server.close();
    }
  }, 60_000);

  it('refuses an address that is not host:port before starting anything', () => {
    expect(() => TuiData.open({ journal: journal.dir, inspect: 'nowhere' })).toThrow(/--inspect-address must be host:port/);
  });
});
