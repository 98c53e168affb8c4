import { UsageError } from '../model/errors.js';
import { RECORD_TYPE } from '../model/records.js';
import { BATCH_COMMIT_TYPE, HEAD_SIZE, JournalReader } from '../journal/index.js';

// `replay audit`: prove the journal is what was written. Every checksum and
// every link of the hash chain is checked, and the responses are counted. With
// --expect-head, a head anchored elsewhere must be in the chain, so a journal
// cut short is caught too.

export interface AuditOptions {
  journal: string;
  /** A chain head (64 hex digits) that must be one of the journal's batch heads. */
  expectHead?: string;
}

export interface AuditResult {
  ok: boolean;
  records: number;
  responses: number;
  batches: number;
  firstBadOffset: number | null;
  problem: string | null;
  chainHead: string;
  /** Unacknowledged bytes after the last intact batch commit (a crash's leftovers), or 0. */
  tornTail: number;
  /** With --expect-head: the batch whose head it is, or null when it is not in the chain. */
  expectedHeadSeq: number | null;
}

const RESPONSE = RECORD_TYPE.response;

export function audit(options: AuditOptions): AuditResult {
  const expected = options.expectHead?.trim().toLowerCase();
  if (expected !== undefined && !/^[0-9a-f]{64}$/.test(expected)) {
    throw new UsageError(`--expect-head must be a chain head: 64 hex digits, got "${options.expectHead}"`);
  }
  const reader = JournalReader.open(options.journal);
  let responses = 0;
  let expectedHeadSeq: number | null = null;
  const frames = reader.scanFrames({ verifyChain: true }).frames();
  let step = frames.next();
  for (; !step.done; step = frames.next()) {
    const frame = step.value;
    if (frame.type === RESPONSE) responses++;
    else if (frame.type === BATCH_COMMIT_TYPE && expected !== undefined && expectedHeadSeq === null) {
      const head = frame.payload.subarray(24 + HEAD_SIZE, 24 + 2 * HEAD_SIZE).toString('hex');
      if (head === expected) expectedHeadSeq = Number(frame.payload.readBigUInt64LE(0));
    }
  }
  const scan = step.value;
  const corruption = scan.corruption;
  const headMissing = expected !== undefined && expectedHeadSeq === null;
  const problem = corruption
    ? `${corruption.reason} at position ${corruption.position} (${corruption.path})`
    : headMissing
      ? `the expected head ${expected} is not in the chain: the journal was cut short or replaced`
      : null;
  return {
    ok: corruption === null && !headMissing,
    records: scan.records,
    responses,
    batches: scan.batches,
    firstBadOffset: corruption ? corruption.position : null,
    problem,
    chainHead: scan.chainHead.toString('hex'),
    tornTail: scan.tailBytes,
    expectedHeadSeq,
  };
}
