import chalk from 'chalk';
import type { InfoResult, SnapshotsInfo } from '../services/info.js';
import type { RepairResult } from '../services/repair.js';
import type { SessionListing } from '../services/sessions.js';
import type { WindResult } from '../services/wind.js';

// Human-readable renderings of service results. JSON output never goes
// through here. chalk turns colour off for non-TTY output and FORCE_COLOR=0;
// NO_COLOR (https://no-color.org) it does not know, so it is honoured here,
// over FORCE_COLOR.
if (process.env.NO_COLOR) chalk.level = 0;

export function formatInfo(r: InfoResult): string {
  const integrity =
    r.integrity === 'ok'
      ? chalk.green('ok')
      : r.integrity === 'torn-tail'
        ? chalk.yellow(`torn tail: ${r.tornTailBytes} unacknowledged bytes at position ${r.firstBadOffset}`)
        : chalk.red(`CORRUPT at position ${r.firstBadOffset}`);
  const tx = r.transactions.first === null ? 'none' : `${r.transactions.first} .. ${r.transactions.last}`;
  const lines = [
    `${chalk.bold('journal')}       ${r.journal}`,
    `format        version ${r.formatVersion}`,
    `records       ${r.records.toLocaleString('en-US')} in ${r.batches.toLocaleString('en-US')} batches, ${formatBytes(r.bytes)}, ${r.segments} segment${r.segments === 1 ? '' : 's'}`,
    `sessions      ${r.sessions.toLocaleString('en-US')} (${r.openSessions.toLocaleString('en-US')} open)`,
    `transactions  ${tx}`,
    `integrity     ${integrity}`,
  ];
  if (r.damage && r.integrity !== 'ok') lines.push(`              ${chalk.dim(r.damage)}`);
  lines.push(`chain head    ${r.chainHead}`);
  lines.push(`snapshots     ${formatSnapshots(r.snapshots)}`);
  // A journal whose old snapshot files were deleted by hand can have thousands: the latest few tell.
  const passedOver = r.snapshots.passedOver;
  for (const p of passedOver.slice(0, 5)) lines.push(`              ${chalk.yellow(`passed over: ${p.file} (tx ${p.tx}): ${p.why}`)}`);
  if (passedOver.length > 5) lines.push(`              ${chalk.yellow(`and ${passedOver.length - 5} earlier ones passed over (--json lists them)`)}`);
  return lines.join('\n');
}

function formatSnapshots(s: SnapshotsInfo): string {
  const removed = s.removed > 0 ? `; ${s.removed.toLocaleString('en-US')} older ones removed by retention` : '';
  if (s.count === 0) return `none${removed}`;
  const start = s.intact
    ? `a rebuild starts from tx ${s.intact.tx} (${s.intact.file}, ${formatBytes(s.intact.bytes)})`
    : chalk.yellow('none intact: a rebuild starts from an empty database');
  return `${s.count.toLocaleString('en-US')}; ${start}${removed}`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

// --- tables -------------------------------------------------------------------

const ANSI = /\x1b\[[0-9;]*m/g;

function visibleLength(text: string): number {
  return text.replace(ANSI, '').length;
}

/** An aligned table: a bold header row, then the rows; columns in `right` are right-aligned. */
export function formatTable(headers: string[], rows: string[][], right: ReadonlySet<number> = new Set()): string {
  const widths = columnWidths(headers, rows);
  return [chalk.bold(tableLine(widths, headers, right)), ...rows.map((r) => tableLine(widths, r, right))].join('\n');
}

/** The width of each column: its widest cell, header included. */
function columnWidths(headers: string[], rows: Iterable<string[]>): number[] {
  // A loop, not Math.max(...column): spreading 500,000 rows overflows the stack.
  const widths = headers.map(visibleLength);
  for (const r of rows) for (let i = 0; i < widths.length; i++) widths[i] = Math.max(widths[i], visibleLength(r[i] ?? ''));
  return widths;
}

function tableLine(widths: number[], cells: string[], right: ReadonlySet<number>): string {
  return cells
    .map((cell, i) => {
      const pad = ' '.repeat(widths[i] - visibleLength(cell));
      if (i === cells.length - 1 && !right.has(i)) return cell;
      return right.has(i) ? pad + cell : cell + pad;
    })
    .join('  ')
    .trimEnd();
}

/**
 * A table written line by line, in constant memory: `rows()` is read twice,
 * for the column widths and then for the lines. Returns the number of rows.
 */
export function writeTable(headers: string[], rows: () => Iterable<string[]>, right: ReadonlySet<number>, write: (text: string) => void): number {
  const widths = columnWidths(headers, rows());
  write(`${chalk.bold(tableLine(widths, headers, right))}\n`);
  let count = 0;
  for (const r of rows()) {
    write(`${tableLine(widths, r, right)}\n`);
    count++;
  }
  return count;
}

/** The text of JSON.stringify([...items], null, 2), written item by item. */
export function writeJsonArray(items: Iterable<unknown>, write: (text: string) => void): void {
  let first = true;
  for (const item of items) {
    write(`${first ? '[\n  ' : ',\n  '}${JSON.stringify(item, null, 2).replaceAll('\n', '\n  ')}`);
    first = false;
  }
  write(first ? '[]\n' : '\n]\n');
}

/** Gathers small writes into chunks of about 64 KiB for `sink`. */
export function chunkedWriter(sink: (chunk: string) => void): { write: (text: string) => void; flush: () => void } {
  let pending: string[] = [];
  let size = 0;
  const flush = (): void => {
    if (size === 0) return;
    sink(pending.join(''));
    pending = [];
    size = 0;
  };
  return {
    write(text) {
      pending.push(text);
      size += text.length;
      if (size >= 1 << 16) flush();
    },
    flush,
  };
}

export function formatStatus(status: string): string {
  switch (status) {
    case 'ok':
      return chalk.green(status);
    case 'error':
      return chalk.red(status);
    case 'aborted':
      return chalk.magenta(status);
    case 'open':
      return chalk.yellow(status);
    default:
      return status;
  }
}

// --- sessions -----------------------------------------------------------------

/** The session listing as a table, written row by row; a count and a legend after it. */
export function writeSessions(listing: SessionListing, write: (text: string) => void): void {
  const cells = function* (): Generator<string[]> {
    for (const s of listing.rows()) {
      yield [String(s.id), s.kind, formatStatus(s.status), s.route, s.startedAt, s.endedAt ?? chalk.dim('-'), `${s.startedAfterTx}..${s.endedAtTx ?? ''}`];
    }
  };
  const rows = cells();
  if (rows.next().done) {
    write(`${chalk.dim('no sessions match')}\n`);
    return;
  }
  rows.return(undefined);
  const count = writeTable(['ID', 'KIND', 'STATUS', 'ROUTE', 'STARTED', 'ENDED', 'TX'], cells, new Set([0]), write);
  write(`${chalk.dim(`${count.toLocaleString('en-US')} session${count === 1 ? '' : 's'}; TX is the last transaction committed at start..at end`)}\n`);
}

// --- wind ---------------------------------------------------------------------

export function formatWind(r: WindResult): string {
  const lines = [`${chalk.bold(`tx ${r.tx}`)} committed at ${r.at}`];
  if (r.alive.length === 0) {
    lines.push(chalk.dim('no session was in flight'));
  } else {
    lines.push(`${r.alive.length} session${r.alive.length === 1 ? '' : 's'} in flight:`, '');
    lines.push(
      formatTable(
        ['ID', 'KIND', 'STATUS', 'STARTED', 'AFTER TX', 'LAST CHECKPOINT', 'TXS'],
        r.alive.map((s) => [
          String(s.id),
          s.kind,
          formatStatus(s.status),
          s.startedAt,
          String(s.startedAfterTx),
          // No checkpoint of its own yet: a retry would have run it from its start.
          s.lastCheckpoint ? `${s.lastCheckpoint.label} @${s.lastCheckpoint.position}` : chalk.dim('(start)'),
          s.txs.length === 0 ? chalk.dim('-') : s.txs.map((t) => (t === r.tx ? chalk.bold(`${t}*`) : String(t))).join(','),
        ]),
        new Set([0, 4]),
      ),
    );
    if (r.alive.some((s) => s.txs.includes(r.tx))) lines.push(chalk.dim(`* committed tx ${r.tx}`));
  }
  const example = r.alive.find((s) => s.txs.includes(r.tx)) ?? r.alive[0];
  lines.push(
    '',
    chalk.dim('next:'),
    ...hints([
      [`replay show ${example ? example.id : '<id>'}`, "the session's records"],
      [`replay state --tx ${Math.max(0, r.tx - 1)}`, `the database just before tx ${r.tx}`],
      [`replay wind --tx ${r.tx > 1 ? r.tx - 1 : r.tx + 1}`, `one transaction ${r.tx > 1 ? 'earlier' : 'later'}`],
    ]),
  );
  return lines.join('\n');
}

/** Commands to try next, their explanations in one column. */
function hints(rows: [string, string][]): string[] {
  const width = Math.max(...rows.map(([command]) => command.length));
  return rows.map(([command, what]) => chalk.dim(`  ${command.padEnd(width)}   ${what}`));
}

// --- repair -------------------------------------------------------------------

export function formatRepair(r: RepairResult): string {
  const lines = [`${chalk.bold('journal')}     ${r.journal}`];
  if (r.damage) {
    const what = r.damage.kind === 'corruption' ? chalk.red('corruption') : chalk.yellow('torn tail');
    lines.push(`damage      ${what} at position ${r.damage.position}: ${r.damage.reason} (${r.damage.path})`);
  } else {
    lines.push(`damage      ${chalk.green('none')}`);
  }
  lines.push(
    r.newEnd === r.truncateAt
      ? `cut at      position ${r.newEnd}`
      : `cut at      position ${r.newEnd} (the start of the batch holding position ${r.truncateAt}; batches are cut whole)`,
  );
  const l = r.lost;
  const txs = l.transactions === 0 ? 'no write transactions' : `${l.transactions} write transaction${l.transactions === 1 ? '' : 's'} (tx ${l.firstTx} to ${l.lastTx})`;
  const lose = `${l.records.toLocaleString('en-US')} readable record${l.records === 1 ? '' : 's'} of ${l.sessions.toLocaleString('en-US')} session${l.sessions === 1 ? '' : 's'}, ${txs}, ${formatBytes(l.bytes)} in all (${formatBytes(l.unreadableBytes)} unreadable)`;
  lines.push(`${(r.truncated ? 'lost' : 'would lose').padEnd(10)}  ${l.bytes === 0 ? 'nothing' : lose}`);
  if (r.truncated) {
    lines.push(chalk.green(`Truncated the journal at position ${r.newEnd}.`));
    if (r.removedSegments.length > 0) lines.push(`removed     ${r.removedSegments.join(', ')}`);
    lines.push(chalk.dim('The catalog is rebuilt on next use.'));
  } else if (l.bytes === 0) {
    lines.push(chalk.dim('Nothing to cut.'));
  } else {
    lines.push(chalk.yellow(`Nothing was changed. Rerun with --yes to truncate the journal at position ${r.newEnd}.`));
  }
  return lines.join('\n');
}
