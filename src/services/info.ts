
import { RECORD_TYPE, type WriteTxRecord } from '../model/records.js';
import { FORMAT_VERSION, JournalReader, decodeFrame } from '../journal/index.js';

// `replay info`: what a journal holds and whether it is intact. It verifies
// every checksum and the hash chain itself; nothing is taken from a cache.

export type Integrity = 'ok' | 'torn-tail' | 'corrupt';

export interface InfoOptions {
  journal: string;
}

export interface InfoResult {
  journal: string;
  formatVersion: number;
  /** Committed records, batch commits excluded. */
  records: number;
  batches: number;
  /** Logical bytes present, segment headers excluded (the committed end plus any tail). */
  bytes: number;
  segments: number;
  sessions: number;
  openSessions: number;
  /** Write transactions only; null when there are none. */
  transactions: { first: number | null; last: number | null };
  integrity: Integrity;
  /** First damaged position (the corruption, or the start of a torn tail), else null. */
  firstBadOffset: number | null;
  tornTailBytes: number;
  damage: string | null;
  /** Head of the last intact batch commit, 64 lowercase hex digits. */
  chainHead: string;
}

const SESSION_START = RECORD_TYPE['session-start'];
const SESSION_END = RECORD_TYPE['session-end'];
const WRITE_TX = RECORD_TYPE['write-tx'];

export function info(options: InfoOptions): InfoResult {
  const reader = JournalReader.open(options.journal);
  let sessions = 0;
  let ended = 0;
  let firstTx: number | null = null;
  let lastTxPosition: number | null = null;
  const frames = reader.scanFrames({ verifyChain: true }).frames();
  let step = frames.next();
  for (; !step.done; step = frames.next()) {
    const frame = step.value;
    if (frame.type === SESSION_START) sessions++;
    else if (frame.type === SESSION_END) ended++;
    else if (frame.type === WRITE_TX) {
      if (firstTx === null) firstTx = (decodeFrame(frame) as WriteTxRecord).tx;
      lastTxPosition = frame.position;
    }
  }
  const scan = step.value;
  const lastTx = lastTxPosition === null ? null : (reader.readAt(lastTxPosition).record as WriteTxRecord).tx;
  const integrity: Integrity = scan.corruption ? 'corrupt' : scan.tailBytes > 0 || scan.tail ? 'torn-tail' : 'ok';
  const damage = scan.corruption ?? scan.tail;
  return {
    journal: reader.dir,
    formatVersion: FORMAT_VERSION,
    records: scan.records,
    batches: scan.batches,
    bytes: scan.committedEnd + scan.tailBytes,
    segments: reader.layout.segments.length + (reader.layout.tornSegment ? 1 : 0),
    sessions,
    openSessions: sessions - ended,
    transactions: { first: firstTx, last: lastTx },
    integrity,
    firstBadOffset: damage ? damage.position : null,
    tornTailBytes: scan.tailBytes,
    damage: damage ? `${damage.reason} (${damage.path})` : null,
    chainHead: scan.chainHead.toString('hex'),
  };
}

