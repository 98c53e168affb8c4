import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Catalog } from '../catalog/index.js';
import { UsageError } from '../model/errors.js';
import { reportStrayRejections, strayToStderr } from '../executor/stray-rejections.js';
import { RealmCache, replaySession } from '../replay/engine.js';
import { openKeptOpenReader, type KeptOpenReader } from '../replay/reader.js';
import { openJournal } from './journal-access.js';
import { forwardedError, type ForwardedFailure } from './forwarded-error.js';
import { checkOutputPath, writeOutputFile } from './output-path.js';
import { publicDivergence, type RunResult } from './run.js';
import { parseWholeNumber } from './time.js';

// `replay verify`: the CI job. Replays every selected session and fails on
// the first one whose writes or response would change.

export interface VerifyOptions {
  journal: string;
  kind?: string;
  fromTx?: number | string;
  toTx?: number | string;
  code?: string;
  strict?: boolean;
  /** Worker threads (default 1: in this thread). */
  jobs?: number;
  /** "i/n": this machine's share, 1-based. */
  shard?: string;
  junit?: string;
  /** Print GitHub Actions error annotations. */
  githubAnnotations?: boolean;
}

export interface SessionVerdict extends RunResult {
  kind: string;
  millis: number;
}

export interface VerifyResult {
  sessions: number;
  passed: number;
  diverged: number;
  failures: RunResult[];
}

export interface VerifyReport extends VerifyResult {
  verdicts: SessionVerdict[];
  annotations: string[];
}

export async function verify(options: VerifyOptions): Promise<VerifyReport> {
  const shard = parseShard(options.shard);
  const jobs = options.jobs ?? 1;
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw new UsageError(`--jobs must be a whole number from 1 to 64, got ${options.jobs}`);
  const fromTx = options.fromTx === undefined ? null : parseWholeNumber(options.fromTx, '--from-tx', 'a transaction id');
  const toTx = options.toTx === undefined ? null : parseWholeNumber(options.toTx, '--to-tx', 'a transaction id');
  if (fromTx !== null && toTx !== null && fromTx > toTx) throw new UsageError(`--from-tx ${fromTx} is after --to-tx ${toTx}`);
  // Before replaying anything: a report that cannot be written is found out now, not after an hour.
  const junit = options.junit === undefined ? undefined : checkOutputPath(options.junit, { flag: '--junit', journal: options.journal, replaced: false });

  const journal = openJournal(options.journal);
  let ids: { id: number; kind: string }[];
  try {
    const corrupt = journal.catalog.corruptionError('cannot verify every session');
    if (corrupt) throw corrupt;
    const selected = selectSessions(journal.catalog, options.kind, fromTx, toTx);
    if (selected.length === 0) refuseEmptySelection(journal.catalog, options.kind, fromTx, toTx);
    ids = selected
      .filter((s) => (s.id - 1) % shard.count === shard.index - 1)
      // In the order of the states they need (their first write, or their start): consecutive
      // sessions then need states a few transactions apart, which the state pool serves cheaply.
      .sort((a, b) => (a.firstTx ?? a.startedAfterTx) - (b.firstTx ?? b.startedAfterTx) || a.id - b.id)
      .map(({ id, kind }) => ({ id, kind }));
  } finally {
    journal.close();
  }

  const verdicts = jobs === 1 || ids.length < 2 ? await verifyHere(options, ids) : await verifyInWorkers(options, ids, jobs);
  verdicts.sort((a, b) => a.session - b.session);
  const failures = verdicts.filter((v) => !v.equal).map(({ session, equal, steps, divergence }) => ({ session, equal, steps, divergence }));
  const report: VerifyReport = {
    sessions: verdicts.length,
    passed: verdicts.length - failures.length,
    diverged: failures.length,
    failures,
    verdicts,
    annotations: options.githubAnnotations ? failures.map(annotation) : [],
  };
  if (junit !== undefined) writeJunit(junit, verdicts);
  return report;
}

/**
 * The sessions to verify: of the kind (any when undefined), not open, started
 * after a transaction in [fromTx, toTx], with their first write transaction.
 * The same rows as Catalog.sessions({kind}) filtered, in one narrow query
 * (the catalog's escape hatch): on a million sessions, building every row of
 * the kind and asking txsOf() for each took several times longer.
 */
function selectSessions(
  catalog: Catalog,
  kind: string | undefined,
  fromTx: number | null,
  toTx: number | null,
): { id: number; kind: string; startedAfterTx: number; firstTx: number | null }[] {
  const where = ["s.status <> 'open'"];
  if (kind !== undefined) where.push('s.kind = @kind');
  if (fromTx !== null) where.push('s.startedAfterTx >= @fromTx');
  if (toTx !== null) where.push('s.startedAfterTx <= @toTx');
  return catalog.db
    .prepare(
      `SELECT s.id, s.kind, s.startedAfterTx, (SELECT min(w.tx) FROM write_txs w WHERE w.session = s.id) AS firstTx
       FROM sessions s JOIN code_versions cv ON cv.id = s.codeVersion WHERE ${where.join(' AND ')} ORDER BY s.id`,
    )
    .all({ ...(kind !== undefined ? { kind } : {}), ...(fromTx !== null ? { fromTx } : {}), ...(toTx !== null ? { toTx } : {}) }) as {
    id: number;
    kind: string;
    startedAfterTx: number;
    firstTx: number | null;
  }[];
}

/**
 * A filter that selects nothing is most often a typo (a kind misspelled, a
 * transaction past the end), and a CI job that replays nothing must not pass
 * for it. Without filters an empty selection is a journal without finished
 * sessions, which passes.
 */
function refuseEmptySelection(catalog: Catalog, kind: string | undefined, fromTx: number | null, toTx: number | null): void {
  if (kind !== undefined) {
    const kinds = catalog.db.prepare('SELECT DISTINCT kind FROM sessions ORDER BY kind').pluck().all() as string[];
    if (!kinds.includes(kind)) {
      throw new UsageError(`--kind ${kind}: the journal has no session of that kind (its kinds: ${kinds.join(', ') || 'none'})`);
    }
  }
  if (fromTx !== null && fromTx > catalog.lastTx) throw new UsageError(`--from-tx ${fromTx} is after the journal's last transaction, ${catalog.lastTx}`);
  if (kind !== undefined || fromTx !== null || toTx !== null) {
    throw new UsageError('no finished session matches --kind, --from-tx and --to-tx as given');
  }
}

/** Replay a list of sessions in this thread (also what each worker runs). */
export async function verifyHere(options: Pick<VerifyOptions, 'journal' | 'code' | 'strict'>, ids: { id: number; kind: string }[]): Promise<SessionVerdict[]> {
  const journal = openJournal(options.journal);
  const realms = new RealmCache();
  let files: KeptOpenReader | null = null;
  const verdicts: SessionVerdict[] = [];
  // A stray rejection names the session being replayed when it surfaced.
  let replaying: number[] = [];
  const previousReporter = reportStrayRejections(strayToStderr(() => replaying));
  try {
    files = openKeptOpenReader(journal.journalDir);
    const access = { journalDir: journal.journalDir, catalog: journal.catalog, reader: files.reader };
    for (const { id, kind } of ids) {
      replaying = [id];
      const started = performance.now();
      const r = await replaySession(access, id, { code: options.code, strict: options.strict }, realms);
      verdicts.push({ session: id, kind, equal: r.equal, steps: r.steps, divergence: r.divergence ? publicDivergence(r.divergence) : null, millis: performance.now() - started });
      // Node reports a rejection nobody handled once the task that made it
      // ends; a replay can run to its end within one, so give it a turn
      // while this session is still the one named.
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    reportStrayRejections(previousReporter);
    realms.close();
    files?.close();
    journal.close();
  }
  return verdicts;
}

async function verifyInWorkers(options: VerifyOptions, ids: { id: number; kind: string }[], jobs: number): Promise<SessionVerdict[]> {
  const workerFile = new URL('./verify-worker.js', import.meta.url);
  // Contiguous runs of the list (it is in state order), so that each worker's sessions need nearby states.
  const count = Math.min(jobs, ids.length);
  const parts: { id: number; kind: string }[][] = Array.from({ length: count }, (_, i) => ids.slice(Math.floor((i * ids.length) / count), Math.floor(((i + 1) * ids.length) / count)));
  const results = await Promise.all(
    parts.map(
      (part) =>
        new Promise<SessionVerdict[]>((resolve, reject) => {
          const worker = new Worker(workerFile, { workerData: { options: { journal: options.journal, code: options.code, strict: options.strict }, ids: part } });
          worker.once('message', (message: { verdicts?: SessionVerdict[]; error?: ForwardedFailure }) => {
            if (message.error) reject(forwardedError(message.error));
            else resolve(message.verdicts!);
          });
          worker.once('error', reject);
          worker.once('exit', (code) => {
            if (code !== 0) reject(new Error(`a verify worker exited with code ${code}`));
          });
        }),
    ),
  );
  return results.flat();
}

function parseShard(shard: string | undefined): { index: number; count: number } {
  if (shard === undefined) return { index: 1, count: 1 };
  const match = /^(\d+)\/(\d+)$/.exec(shard.trim());
  const index = match ? Number(match[1]) : NaN;
  const count = match ? Number(match[2]) : NaN;
  if (!match || count < 1 || index < 1 || index > count) throw new UsageError(`--shard must be i/n with 1 <= i <= n, such as 2/4, got "${shard}"`);
  return { index, count };
}

function annotation(failure: RunResult): string {
  const d = failure.divergence!;
  const where = d.location ? `file=${path.relative(process.cwd(), d.location.file)},line=${d.location.line},col=${d.location.column}` : '';
  const message = `session ${failure.session} diverged at step ${d.step} (${d.kind}): ${d.message}`.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  return `::error ${where ? `${where},` : ''}title=replay diverged::${message}`;
}

function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** JUnit XML: one test case per session (validated against test/fixtures' JUnit XSD in the tests). */
function writeJunit(file: string, verdicts: SessionVerdict[]): void {
  const failures = verdicts.filter((v) => !v.equal).length;
  const seconds = verdicts.reduce((t, v) => t + v.millis, 0) / 1000;
  const cases = verdicts.map((v) => {
    const head = `    <testcase classname="windback.replay.${xmlEscape(v.kind)}" name="session ${v.session}" time="${(v.millis / 1000).toFixed(3)}"`;
    if (v.equal) return `${head}/>`;
    const d = v.divergence!;
    const where = d.location ? ` at ${d.location.file}:${d.location.line}:${d.location.column}` : '';
    return `${head}>\n      <failure message="${xmlEscape(`step ${d.step} (${d.kind}): ${d.message}`)}" type="${d.kind}">${xmlEscape(
      `step ${d.step} (${d.kind})${where}\n${d.message}\nexpected: ${JSON.stringify(d.expected)}\nactual: ${JSON.stringify(d.actual)}`,
    )}</failure>\n    </testcase>`;
  });
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="replay verify" tests="${verdicts.length}" failures="${failures}" errors="0" time="${seconds.toFixed(3)}">\n  <testsuite name="windback replay" tests="${verdicts.length}" failures="${failures}" errors="0" skipped="0" time="${seconds.toFixed(3)}">\n${cases.join('\n')}\n  </testsuite>\n</testsuites>\n`;
  writeOutputFile(file, xml, '--junit');
}
