import { EXIT, isWindbackError, type ExitCode } from '../model/errors.js';

// How any thrown value becomes what the user sees: one line, a code, an exit
// status. Everything that is not a known kind is a bug (exit 70).

export interface ErrorReport {
  code: string;
  message: string;
  exitCode: ExitCode;
}

interface OclifLikeError {
  oclif?: { exit?: number };
  code?: string;
  message?: string;
}

export function reportError(error: unknown): ErrorReport {
  if (isWindbackError(error)) return { code: error.code, message: error.message, exitCode: error.exitCode };
  const e = error as OclifLikeError;
  // oclif's own parse and usage errors (unknown flag, missing value, unknown command).
  if (e && typeof e === 'object' && e.oclif && typeof e.oclif.exit === 'number' && e.oclif.exit !== 0) {
    return { code: 'E_USAGE', message: usageLine(e.message ?? 'usage error'), exitCode: EXIT.usage };
  }
  const errno = e?.code;
  if (errno === 'EACCES' || errno === 'EPERM') return { code: 'E_PERMISSION', message: firstLine(e.message ?? ''), exitCode: EXIT.environment };
  if (errno === 'ENOSPC' || errno === 'EDQUOT') return { code: 'E_DISK_FULL', message: firstLine(e.message ?? ''), exitCode: EXIT.environment };
  if (errno === 'EROFS') return { code: 'E_READ_ONLY', message: firstLine(e.message ?? ''), exitCode: EXIT.environment };
  if (errno === 'EADDRINUSE') return { code: 'E_PORT_IN_USE', message: firstLine(e.message ?? ''), exitCode: EXIT.environment };
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'E_INTERNAL', message: `internal error: ${firstLine(message)} (a bug; rerun with --debug for the stack)`, exitCode: EXIT.internal };
}

function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? text;
  return line.replace(/^\s*Error:\s*/, '').trim();
}

const ANSI = /\x1b\[[0-9;]*m/g;

/**
 * One line from an oclif parse error, whose first line is often only a
 * heading ("The following error occurred:", "Missing 1 required arg:",
 * "Parsing --jobs") with what is wrong on the lines below it.
 */
export function usageLine(text: string): string {
  const lines = text
    .replace(ANSI, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && l !== 'See more help with --help' && !/^Note: /.test(l) && !/^Alternatively, you can use "--"/.test(l));
  if (lines.length === 0) return 'usage error';
  const [head, ...rest] = [lines[0].replace(/^Error:\s*/, ''), ...lines.slice(1)];
  // "Parsing --jobs" / "Expected an integer greater than or equal to 1 but received: 0"
  const parsing = /^Parsing (--[^\s]+)$/.exec(head);
  if (parsing) return rest.length > 0 ? `${parsing[1]}: ${lowerFirst(rest.join('; '))}` : `cannot parse ${parsing[1]}`;
  // "The following errors occurred:" / "Missing required flag tx" / "Missing required flag out"
  if (/^The following errors? occurred:$/.test(head)) {
    return rest.length > 0 ? rest.map((r) => r.replace(/^Missing required flag (\S+)$/, 'missing required flag --$1')).join('; ') : 'invalid flags';
  }
  // "Missing 1 required arg:" / "session  The session id."
  if (/^Missing \d+ required args?:?$/.test(head)) {
    const names = rest.map((r) => {
      const [name, ...description] = r.split(/\s{2,}/);
      return description.length > 0 ? `<${name}> (${lowerFirst(description.join(' ').replace(/\.$/, ''))})` : `<${name}>`;
    });
    return names.length > 0 ? `missing required argument${names.length === 1 ? '' : 's'} ${names.join(', ')}` : lowerFirst(head.replace(/:$/, ''));
  }
  return [head, ...rest].join('; ');
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
