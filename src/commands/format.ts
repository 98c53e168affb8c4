import chalk from 'chalk';
import type { InfoResult } from '../services/info.js';

// Human-readable renderings of service results. JSON output never goes
// through here. chalk honours NO_COLOR and non-TTY output by itself.

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
  return lines.join('\n');
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
