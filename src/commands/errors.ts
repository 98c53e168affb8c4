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
    return { code: 'E_USAGE', message: firstLine(e.message ?? 'usage error'), exitCode: EXIT.usage };
  }
  const errno = e?.code;
  if (errno === 'EACCES' || errno === 'EPERM') return { code: 'E_PERMISSION', message: firstLine(e.message ?? ''), exitCode: EXIT.environment };
  if (errno === 'ENOSPC') return { code: 'E_DISK_FULL', message: firstLine(e.message ?? ''), exitCode: EXIT.environment };
  if (errno === 'EADDRINUSE') return { code: 'E_PORT_IN_USE', message: firstLine(e.message ?? ''), exitCode: EXIT.environment };
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'E_INTERNAL', message: `internal error: ${firstLine(message)} (a bug; rerun with --debug for the stack)`, exitCode: EXIT.internal };
}

function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? text;
  return line.replace(/^\s*Error:\s*/, '').trim();
}
