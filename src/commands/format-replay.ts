import chalk from 'chalk';
import type { AuditResult } from '../services/audit.js';
import type { RunResult } from '../services/run.js';
import type { Step } from '../services/show.js';
import type { SessionErrorBrief } from '../executor/types.js';
import type { RestoreResult, StateResult } from '../services/state.js';
import { formatTable } from './format.js';

// Human renderings of the replay commands' results.

export function formatRun(r: RunResult): string {
  if (r.equal) return `${chalk.green('equal')}: session ${r.session} replays as recorded (${r.steps} steps compared)`;
  const all = r.divergences !== undefined && r.divergences.length > 0 ? r.divergences : [r.divergence!];
  const blocks = all.map((d, i) => formatDivergence(r, d, all.length > 1 ? ` (${i + 1} of ${all.length})` : ''));
  return [...blocks, chalk.dim(`  see the steps with: replay show ${r.session}`)].join('\n');
}

function formatDivergence(r: RunResult, d: NonNullable<RunResult['divergence']>, count: string): string {
  const where = d.location ? ` at ${d.location.file}:${d.location.line}:${d.location.column}` : '';
  const lines = [
    `${chalk.red('DIVERGED')}: session ${r.session} at step ${d.step} (${d.kind})${where}${count}`,
    `  ${d.message}`,
  ];
  if (d.construct) lines.push(`  construct: ${d.construct}`);
  // A failed session's response only says that it failed: its errors, recorded and replayed.
  if (d.errors) {
    lines.push(`  recorded error: ${d.errors.recorded ? describeError(d.errors.recorded) : 'none (the session did not fail)'}`);
    lines.push(`  replayed error: ${d.errors.replayed ? describeError(d.errors.replayed) : 'none (the replay did not fail)'}`);
  }
  const [expected, actual] = contrast(d.expected, d.actual);
  lines.push(`  expected: ${expected}`, `  actual:   ${actual}`);
  return lines.join('\n');
}

function describeError(e: SessionErrorBrief): string {
  const at = e.location ? ` at ${e.location.file}:${e.location.line}:${e.location.column}` : '';
  const message = e.message.split('\n')[0];
  return `${e.name}: ${message.length > 200 ? `${message.slice(0, 197)}...` : message}${at}`;
}

export function formatSteps(steps: Step[]): string {
  const rows = steps.map((s) => [String(s.index), String(s.attempt), s.kind, s.at ?? '', s.tx === null ? '' : String(s.tx), String(s.bytes), s.summary]);
  return formatTable(['#', 'ATT', 'KIND', 'AT', 'TX', 'BYTES', 'SUMMARY'], rows, new Set([0, 1, 4, 5]));
}

export function formatState(r: StateResult): string {
  if ('tables' in r) {
    if (r.tables.length === 0) return `as of tx ${r.tx}: no tables`;
    return `as of tx ${r.tx}\n${formatTable(['TABLE', 'ROWS'], r.tables.map((t) => [t.name, String(t.rows)]), new Set([1]))}`;
  }
  const rows = r.rows.map((row) => row.map(cell));
  return `as of tx ${r.tx}: ${r.rows.length} row${r.rows.length === 1 ? '' : 's'}\n${formatTable(r.columns, rows)}`;
}

export function formatRestore(r: RestoreResult): string {
  const total = r.tables.reduce((n, t) => n + t.rows, 0);
  return `wrote ${r.out}: the database as of tx ${r.tx}, ${r.tables.length} tables, ${total} rows${r.fromSnapshot !== null ? ` (from the snapshot at tx ${r.fromSnapshot})` : ''}`;
}

export function formatAudit(r: AuditResult): string {
  const lines = [
    r.ok ? `${chalk.green('ok')}: ${r.records.toLocaleString('en-US')} records in ${r.batches.toLocaleString('en-US')} batches, every checksum and hash-chain link verified` : `${chalk.red('TAMPERED OR DAMAGED')}: ${r.problem}`,
    `responses   ${r.responses.toLocaleString('en-US')}`,
    `chain head  ${r.chainHead}`,
  ];
  if (r.expectedHeadSeq !== null) lines.push(`expected head found at batch ${r.expectedHeadSeq}`);
  if (r.tornTail > 0) lines.push(chalk.yellow(`torn tail: ${r.tornTail} unacknowledged bytes after the last batch commit (left by a crash)`));
  return lines.join('\n');
}

function cell(value: unknown): string {
  if (value === null) return 'NULL';
  if (value instanceof Uint8Array) return `x'${Buffer.from(value).toString('hex')}'`;
  return String(value);
}

const SHOWN = 160;

function brief(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > SHOWN ? `${text.slice(0, SHOWN - 3)}...` : text;
}

/**
 * The expected and actual values, each cut to one line: when they are long,
 * both are shown from a little before their first difference, so that the
 * difference is on screen (a response body that differs in one number deep
 * inside, say).
 */
export function contrast(expected: unknown, actual: unknown): [string, string] {
  const e = JSON.stringify(expected) ?? String(expected);
  const a = JSON.stringify(actual) ?? String(actual);
  if (e.length <= SHOWN && a.length <= SHOWN) return [e, a];
  let first = 0;
  while (first < e.length && first < a.length && e[first] === a[first]) first++;
  const from = first < SHOWN - 40 ? 0 : first - 40;
  const cut = (text: string): string => {
    const head = from > 0 ? `...${text.slice(from, from + SHOWN - 6)}` : text.slice(0, SHOWN - 3);
    return from + SHOWN - 6 < text.length || (from === 0 && text.length > SHOWN) ? `${head}...` : head;
  };
  return [cut(e), cut(a)];
}
