import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, Flags } from '@oclif/core';
import { reportError } from './errors.js';

// Every replay command: the global --journal and --debug flags, --json, and
// one way of turning errors into a line and an exit code.

export const DEFAULT_JOURNAL = '.windback';

export abstract class ReplayCommand<T> extends Command {
  static override enableJsonFlag = true;

  static override baseFlags = {
    journal: Flags.string({
      char: 'j',
      summary: 'Journal directory.',
      description: `Defaults to ${DEFAULT_JOURNAL} in the current directory.`,
      env: 'REPLAY_JOURNAL',
      default: DEFAULT_JOURNAL,
      helpGroup: 'GLOBAL',
    }),
    debug: Flags.boolean({ summary: 'Print stack traces on errors.', helpGroup: 'GLOBAL' }),
  };

  /** Set by a command whose result reports a difference (exit 1). */
  protected exitCode = 0;

  abstract override run(): Promise<T>;

  protected journalDir(flags: { journal: string }): string {
    return path.resolve(flags.journal);
  }

  protected override async catch(error: Error & { exitCode?: number }): Promise<unknown> {
    let report = reportError(error);
    // No journal where none was named: say where the default is and how to name one.
    if (report.code === 'E_NOT_A_JOURNAL' && this.journalDefaulted()) {
      report = { ...report, message: `${report.message} (the default, ./${DEFAULT_JOURNAL}: give --journal <dir> or set REPLAY_JOURNAL)` };
    }
    process.exitCode = report.exitCode;
    // A flag error means parse() threw; oclif would then also warn that the
    // command "did not parse its arguments" (outside production). One line is enough.
    this.parsed = true;
    if (this.jsonRequested()) {
      this.logJson({ error: report });
    } else {
      process.stderr.write(`replay: ${report.message}\n`);
    }
    if (this.argv.includes('--debug') && error instanceof Error && error.stack) {
      process.stderr.write(`${error.stack}\n`);
    }
    return undefined;
  }

  protected override async finally(error: Error | undefined): Promise<unknown> {
    if (!error && this.exitCode !== 0) process.exitCode = this.exitCode;
    return super.finally(error);
  }

  /**
   * Colour JSON only for a person at a terminal. oclif tokenizes the whole
   * document to colour it even when nothing will be coloured, which made
   * `sessions --json` on 500,000 sessions take 19 s instead of a few.
   */
  override logJson(json: unknown): void {
    if (process.stdout.isTTY) {
      super.logJson(JSON.parse(JSON.stringify(json, jsonValue)));
      return;
    }
    process.stdout.write(`${JSON.stringify(json, jsonValue, 2)}\n`);
  }

  /** Neither --journal (-j) nor REPLAY_JOURNAL was given. */
  private journalDefaulted(): boolean {
    if (process.env.REPLAY_JOURNAL !== undefined && process.env.REPLAY_JOURNAL !== '') return false;
    return !this.argv.some((a) => a === '--journal' || a.startsWith('--journal=') || /^-j/.test(a));
  }

  /** --json even when parsing failed before oclif knew about it. */
  private jsonRequested(): boolean {
    return this.argv.includes('--json') || this.jsonEnabled();
  }
}

/**
 * Whether `file` is this process's standard output: `--out /dev/stdout`, or
 * the very file stdout is redirected to. A command that writes its result
 * there says what it did on stderr, so that the output stays what was asked
 * for (`replay export --out /dev/stdout | jq`).
 */
export function isStandardOutput(file: string): boolean {
  try {
    const out = fs.fstatSync(1);
    const target = fs.statSync(file);
    return out.dev === target.dev && out.ino === target.ino;
  } catch {
    return false;
  }
}

/**
 * Values JSON has no form for, as every --json output writes them: integers
 * beyond 2^53 - 1 (SQLite's 64-bit INTEGERs, read exactly as bigints) as
 * decimal strings, binary values (BLOBs) as base64 strings. Safe integers
 * stay numbers.
 */
export function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) && BigInt(Number(value)) === value ? Number(value) : value.toString();
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  // A Buffer has already been through its toJSON().
  if (value && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return Buffer.from((value as { data: number[] }).data).toString('base64');
  }
  return value;
}
