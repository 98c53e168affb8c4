import { NotFoundError, UsageError } from '../model/errors.js';
import type { Divergence } from '../executor/types.js';
import { replaySession } from '../replay/engine.js';
import { openKeptOpenReader, type KeptOpenReader } from '../replay/reader.js';
import { openJournal, parseSessionId } from './journal-access.js';

// `replay run <session>`: re-execute one recorded session and say whether it
// does what the journal says it did.

export interface RunOptions {
  journal: string;
  session: string | number;
  /** Run other code (a what-if replay); default: the recorded code version. */
  code?: string;
  /** Compare every value, digest and checkpoint; default on for recorded code. */
  strict?: boolean;
  keepGoing?: boolean;
  /** Pause an attached debugger where the session begins. */
  pauseAtStart?: boolean;
}

export interface RunResult {
  session: number;
  equal: boolean;
  steps: number;
  /** The first divergence (null when equal). */
  divergence: PublicDivergence | null;
  /** Every divergence found: one without --keep-going, all that the replay could reach with it (`replay run`). */
  divergences?: PublicDivergence[];
}

export type PublicDivergence = Omit<Divergence, 'position' | 'message'> & { message: string };

export async function run(options: RunOptions): Promise<RunResult> {
  const id = parseSessionId(options.session);
  if (Number.isNaN(id)) throw new UsageError(`session must be a session id (a whole number from 1), got "${options.session}"`);
  const journal = openJournal(options.journal);
  let files: KeptOpenReader | null = null;
  try {
    if (!journal.catalog.session(id)) {
      const corrupt = journal.catalog.corruptionError(`cannot find session ${id}`);
      if (corrupt) throw corrupt;
      throw new NotFoundError(`unknown session ${id}: the journal holds ${journal.catalog.sessionCount()} sessions`);
    }
    files = openKeptOpenReader(journal.journalDir);
    const access = { journalDir: journal.journalDir, catalog: journal.catalog, reader: files.reader };
    const result = await replaySession(access, id, { code: options.code, strict: options.strict, keepGoing: options.keepGoing, pauseAtStart: options.pauseAtStart });
    const divergences = result.divergences.map(publicDivergence);
    return { session: id, equal: result.equal, steps: result.steps, divergence: divergences[0] ?? null, divergences };
  } finally {
    files?.close();
    journal.close();
  }
}

/** Binary values as base64 (the JSON contract), positions dropped. */
export function publicDivergence(d: Divergence): PublicDivergence {
  const { position: _position, ...rest } = d;
  return JSON.parse(
    JSON.stringify(rest, (_key, value) => {
      if (typeof value === 'bigint') return value.toString();
      if (value && typeof value === 'object' && value.type === 'Buffer' && Array.isArray(value.data)) return Buffer.from(value.data).toString('base64');
      if (value && typeof value === 'object' && ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
      return value;
    }),
  ) as PublicDivergence;
}
