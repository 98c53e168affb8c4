import { expect } from 'vitest';
import { LoadClient, spawnRecorder, type RecorderProcess } from '../../scripts/load.js';
import { readJournal, type SessionView } from '../runtime/journal-view.js';
import { listenLocally } from './local-server.js';

// A crash while a session waits on an external call: the stub holds the first
// request open, the recorder is SIGKILLed meanwhile (the call is in doubt),
// and the restarted recorder resumes the session, whose call runs again.

export interface CrashedInCall {
  /** The restarted recorder. */
  recorder: RecorderProcess;
  /** The resumed session, ended. */
  session: SessionView;
  /** Every request body the stub received, in order (the held one first). */
  bodies: string[];
  /** Stop the recorder (its exit) and the stub. */
  close(): Promise<{ code: number | null }>;
}

/**
 * Record `app` in `dir` and send `POST /<kind>` with `{ hold: <stub url> }`;
 * kill the recorder while the stub holds that call, restart it, and wait
 * (at most 30 s) for the resumed session of `kind` to end. Later calls get
 * `answer` (a JSON body).
 */
export async function crashDuringCall(app: string, dir: string, kind: string, answer = '{}'): Promise<CrashedInCall> {
  const bodies: string[] = [];
  let held: () => void = () => {};
  const first = new Promise<void>((resolve) => (held = resolve));
  const stub = await listenLocally((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      bodies.push(body);
      if (bodies.length === 1) held();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(answer);
    });
  });
  const closeStub = stub.close;
  const hold = `${stub.url}/hold`;
  let recorder = await spawnRecorder(app, { journal: dir });
  try {
    const cutClient = new LoadClient(recorder.url);
    const cut = cutClient.json(`/${kind}`, { hold }).catch((error: unknown) => error);
    await first;
    await recorder.kill('SIGKILL');
    await cut;
    cutClient.close();

    recorder = await spawnRecorder(app, { journal: dir });
    let session: SessionView | undefined;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 100))) {
      session = [...readJournal(dir).sessions.values()].find((s) => s.start.sessionKind === kind);
      if (session?.end) break;
    }
    expect(session?.end, 'the resumed session ended').toBeTruthy();
    expect(session!.attempts.map((a) => a.record)).toEqual([expect.objectContaining({ attempt: 2, reason: 'resume' })]);
    expect(session!.end!.record.error, JSON.stringify(session!.end!.record.error)).toBeNull();
    const running = recorder;
    return {
      recorder,
      session: session!,
      bodies,
      async close() {
        try {
          return await running.stop();
        } finally {
          await closeStub();
        }
      },
    };
  } catch (error) {
    await recorder.kill('SIGKILL');
    await closeStub();
    throw error;
  }
}
