import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LoadClient, spawnRecorder, type CallOutcome, type RecorderProcess } from '../../scripts/load.js';
import { RealmCache, replaySession, type ReplayStep } from '../../src/replay/engine.js';
import { Stepper, type StepState } from '../../src/replay/stepper.js';
import { startServer, type RunningServer } from '../../src/runtime/server.js';
import { openJournal } from '../../src/services/journal-access.js';

// A journal recorded by the last recorder that journaled implicit
// checkpoints (a checkpoint 'start' before every handler, a checkpoint
// 'response' after it), and what that version's replay observed of it:
// fixtures/journal-implicit-checkpoints and
// fixtures/journal-implicit-checkpoints.json. Both were made once, at commit
// f2c9897, by this file run in a checkout of that commit (with
// fixtures/apps/checkpoints*/ and this file copied in):
//
//   npx tsx test/replay/implicit-fixture.ts record <empty dir> <app entry>
//   npx tsx test/replay/implicit-fixture.ts observe <that dir> > observed.json
//
// (only the segments, code/ and snapshots/ are kept: the catalog and the
// live database are rebuilt from them). test/replay/implicit-checkpoints.test.ts
// observes the same journal with today's code and expects the same.

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CHECKPOINTS_APP = path.join(ROOT, 'fixtures', 'apps', 'checkpoints', 'app.ts');
export const CHECKPOINTS_CHANGED_APP = path.join(ROOT, 'fixtures', 'apps', 'checkpoints-changed', 'app.ts');
export const IMPLICIT_JOURNAL = path.join(ROOT, 'fixtures', 'journal-implicit-checkpoints');
export const IMPLICIT_OBSERVED = path.join(ROOT, 'fixtures', 'journal-implicit-checkpoints.json');

// ---- the app's external service -------------------------------------------------------------

/** POST /hold answers {"ok":true,"key":...} at once, or, while `hold` is set, only once released. */
export interface Service {
  url: string;
  hold: boolean;
  /** Requests held open now. */
  held(): number;
  /** Resolves once `n` requests are held open. */
  whenHeld(n: number): Promise<void>;
  release(): void;
  close(): Promise<void>;
}

export function startService(): Promise<Service> {
  const waiting: (() => void)[] = [];
  let onHeld: (() => void) | null = null;
  const service: Omit<Service, 'url'> & { url: string } = {
    url: '',
    hold: false,
    held: () => waiting.length,
    whenHeld: (n) =>
      new Promise<void>((resolve) => {
        if (waiting.length >= n) return resolve();
        onHeld = () => {
          if (waiting.length >= n) resolve();
        };
      }),
    release: () => {
      for (const answer of waiting.splice(0)) answer();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const answer = (): void => {
        if (!res.destroyed) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, key: String(req.headers['idempotency-key'] ?? '') }));
      };
      if (!service.hold) return answer();
      waiting.push(answer);
      onHeld?.();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      service.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      resolve(service);
    }),
  );
}

/** A `remote` session through a recorder child, held open at its external call, and the child killed there: the session stays open. */
export async function crashInRemote(app: string, journal: string, service: Service, text: string): Promise<void> {
  const child: RecorderProcess = await spawnRecorder(app, { journal, config: { serviceUrl: service.url } });
  const client = new LoadClient(child.url);
  try {
    service.hold = true;
    const cut = client.json('/remote', { text }).then(
      () => {
        throw new Error('a held request was answered before the crash');
      },
      () => undefined,
    );
    await service.whenHeld(1);
    await child.kill('SIGKILL');
    await cut;
  } finally {
    service.hold = false;
    service.release();
    client.close();
    if (child.child.exitCode === null && child.child.signalCode === null) await child.kill('SIGKILL');
  }
}

function expectOk(r: CallOutcome, status = 200): CallOutcome {
  if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.body.toString('utf8')}`);
  return r;
}

/** The requests the fixture journal holds, and those a test sends again: every kind of the app, the ways they checkpoint, retry and fail. */
export async function sendMix(client: LoadClient, tag: string): Promise<void> {
  expectOk(await client.json('/note', { text: `${tag} a` }));
  expectOk(await client.json('/flaky', { text: `${tag} once`, failures: 1 })); // a retry before any checkpoint of its own
  expectOk(await client.json('/flaky', { text: `${tag} never`, failures: 3 }), 500); // three attempts, then given up
  expectOk(await client.json('/counted', { text: `${tag} counted` })); // a retry from its own checkpoint
  expectOk(await client.json('/restart', { text: `${tag} restart` })); // a retry from its own checkpoint 'start'
  expectOk(await client.json('/labelled', { text: `${tag} labelled` }));
  expectOk(await client.json('/stated', { text: `${tag} stated` }));
  expectOk(await client.json('/later', {}));
  expectOk(await client.json('/refuse', {}), 403);
  expectOk(await client.json('/wait', {}));
  expectOk(await client.json('/remote', { text: `${tag} remote` }));
}

/**
 * Record the fixture journal into `dir` with the code this file runs with:
 * a mix in process, a crash in a child while a `remote` session waits for its
 * service, the resume in process (and another mix), and a last crash that
 * leaves one session open.
 */
export async function recordFixture(dir: string, app: string): Promise<void> {
  const service = await startService();
  let server: RunningServer | null = null;
  const options = { journal: dir, config: { serviceUrl: service.url }, durability: 'batch' as const, timeZone: 'UTC', locale: 'en-US', log: () => {} };
  try {
    server = await startServer(app, options);
    let client = new LoadClient(server.url);
    await sendMix(client, 'one');
    client.close();
    await server.close();
    server = null;

    await crashInRemote(app, dir, service, 'cut');
    server = await startServer(app, options);
    if (server.startup.resumed !== 1) throw new Error(`expected 1 session to resume, got ${server.startup.resumed}`);
    await server.resumed;
    client = new LoadClient(server.url);
    expectOk(await client.json('/note', { text: 'after the resume' }));
    client.close();
    await server.close();
    server = null;

    await crashInRemote(app, dir, service, 'left open');
  } finally {
    await server?.close();
    await service.close();
  }
}

// ---- what a replay observes -----------------------------------------------------------------

export interface ReplayObserved {
  result: string;
  events: string[];
}

export interface SessionObserved {
  id: number;
  /** As `replay show` lists them. */
  steps: string[];
  replay: ReplayObserved;
  whatIf: ReplayObserved;
  /** Stepper.next() from before the first step to the last, with the recorded code, then with the changed code. */
  stepper: string[];
  whatIfStepper: string[];
}

/** A source location without the directory the app was in. */
function where(location: { file: string; line: number; column: number } | null | undefined): string {
  if (!location) return '-';
  const at = location.file.lastIndexOf('fixtures/');
  return `${at >= 0 ? location.file.slice(at) : path.basename(location.file)}:${location.line}:${location.column}`;
}

function digest(value: unknown): string {
  if (value === undefined || value === null) return '-';
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return `${v}n`;
    if (v && typeof v === 'object') {
      if (ArrayBuffer.isView(v)) return { bytes: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
      if ((v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) return { bytes: Buffer.from((v as { data: number[] }).data).toString('base64') };
      if (!Array.isArray(v)) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]));
    }
    return v;
  });
  return createHash('sha256').update(text ?? 'undefined').digest('hex').slice(0, 12);
}

function divergenceText(d: { step: number; kind: string; position: number | null; message: string }): string {
  return `${d.kind}@${d.step}${d.position === null ? '' : `(${d.position})`}: ${d.message}`;
}

async function observeReplay(journal: string, id: number, realms: RealmCache, code: string | undefined): Promise<ReplayObserved> {
  const access = openJournal(journal);
  const events: string[] = [];
  try {
    const result = await replaySession(
      access,
      id,
      {
        code,
        observer: {
          step: (s: ReplayStep) => events.push(`step ${s.step} a${s.attempt}${s.inherited ? ' inherited' : ''} ${s.kind} ${s.origin} @${s.position ?? '-'} ${where(s.location)} ${digest(s.actual)}`),
          divergence: (d, attempt) => events.push(`divergence a${attempt} ${divergenceText(d)} ${where(d.location)}`),
        },
      },
      realms,
    );
    return { result: `${result.equal ? 'equal' : 'diverged'} steps=${result.steps} attempts=${result.attempts} ${result.divergences.map(divergenceText).join(' | ')}`.trim(), events };
  } finally {
    access.close();
  }
}

function stateText(s: StepState): string {
  const checkpoint = s.checkpoint ? `${s.checkpoint.label}@${s.checkpoint.step}` : '-';
  return `${s.index} a${s.attempt} ${s.verdict} ${where(s.location)} checkpoint=${checkpoint} ${s.divergence ? divergenceText(s.divergence) : '-'} ${digest(s.actual)}`;
}

async function observeSteps(journal: string, id: number, realms: RealmCache, code: string | undefined): Promise<string[]> {
  const access = openJournal(journal);
  const stepper = Stepper.open(access, id, { code, realms });
  const out: string[] = [];
  try {
    for (let k = 0; k < stepper.steps.length; k++) out.push(stateText(await stepper.next()));
  } finally {
    stepper.close();
    access.close();
  }
  return out;
}

/** What replaying, verifying and stepping every session of `journal` observes, with the recorded code and with `changed`. */
export async function observeJournal(journal: string, changed = CHECKPOINTS_CHANGED_APP, only?: (id: number) => boolean): Promise<SessionObserved[]> {
  const access = openJournal(journal);
  const count = access.catalog.sessionCount();
  access.close();
  const realms = new RealmCache();
  const out: SessionObserved[] = [];
  try {
    for (let id = 1; id <= count; id++) {
      if (only && !only(id)) continue;
      const stepperAccess = openJournal(journal);
      let steps: string[];
      try {
        steps = Stepper.open(stepperAccess, id, { realms }).steps.map((s) => `${s.index} a${s.attempt} ${s.kind} @${s.position} ${s.summary}`);
      } finally {
        stepperAccess.close();
      }
      out.push({
        id,
        steps,
        replay: await observeReplay(journal, id, realms, undefined),
        whatIf: await observeReplay(journal, id, realms, changed),
        stepper: await observeSteps(journal, id, realms, undefined),
        whatIfStepper: await observeSteps(journal, id, realms, changed),
      });
    }
  } finally {
    realms.close();
  }
  return out;
}

// `npx tsx test/replay/implicit-fixture.ts record <dir> [app]` | `observe <dir> [changed app]`
if (import.meta.url === `file://${process.argv[1]}`) {
  const [command, dir, app] = process.argv.slice(2);
  const run = async (): Promise<void> => {
    if (command === 'record') {
      fs.mkdirSync(dir, { recursive: true });
      await recordFixture(path.resolve(dir), path.resolve(app ?? CHECKPOINTS_APP));
    } else if (command === 'observe') {
      process.stdout.write(`${JSON.stringify(await observeJournal(path.resolve(dir), app ? path.resolve(app) : undefined), null, 1)}\n`);
    } else {
      throw new Error('usage: implicit-fixture.ts record <dir> [app] | observe <dir> [changed app]');
    }
  };
  run().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
