import chalk from 'chalk';
import { render, type Instance } from 'ink';
import type { SessionId, TxId } from '../model/records.js';
import { isAppRejection, reportStrayRejections } from '../services/stray-rejections.js';
import { openTui, type TuiSource, type TuiStartOptions } from '../services/tui-data.js';
import { App } from './App.js';
import { colorFromEnv } from './theme.js';

// Starting and stopping the TUI: the alternate screen, raw mode, signals and
// errors. Whatever happens (q, Ctrl-C, SIGTERM, an exception anywhere), the
// terminal is handed back as it was: raw mode off, cursor shown, the main
// screen restored. This module imports ink and react: load it lazily.

export interface TuiStreams {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

export async function runTui(options: TuiStartOptions, streams: TuiStreams = process): Promise<void> {
  const { source, tx, session } = openTui(options);
  try {
    // Under --inspect: the replay process must listen before the screen changes (a port in use fails here).
    await source.ready();
    await showTui({ source, tx, session, color: colorFromEnv() }, streams);
  } finally {
    source.close();
  }
}

export interface ShowTuiOptions {
  source: TuiSource;
  tx?: TxId;
  session?: SessionId;
  color: boolean;
}

const ALT_SCREEN_ON = '\x1b[?1049h\x1b[H';
const ALT_SCREEN_OFF = '\x1b[?1049l';
const SHOW_CURSOR = '\x1b[?25h';
const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGINT'];
const SIGNAL_NUMBER: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/** Run the TUI until it quits; resolves after the terminal is restored, rejects with what went wrong. */
export async function showTui(options: ShowTuiOptions, streams: TuiStreams): Promise<void> {
  const { stdin, stdout, stderr } = streams;
  let instance: Instance | null = null;
  let restored = false;
  // NO_COLOR turned chalk off altogether (commands/format.ts), bold, dim and
  // inverse with the colours; but they are not colours (no-color.org), and
  // here they carry meaning: the cursor's row, a prompt's caret, the steps not
  // reached yet, a paused debugger. The theme leaves the colours out.
  const chalkLevel = chalk.level;
  if (!options.color && chalk.level === 0 && stdout.isTTY && process.env.TERM !== 'dumb') chalk.level = 1;
  let fail: (error: unknown) => void = () => {};
  const failed = new Promise<never>((_resolve, reject) => {
    fail = reject;
  });
  failed.catch(() => {});
  const restore = (): void => {
    if (restored) return;
    restored = true;
    try {
      instance?.unmount();
    } catch {
      // already gone
    }
    try {
      if (stdin.isTTY && typeof stdin.setRawMode === 'function') stdin.setRawMode(false);
    } catch {
      // a closed tty
    }
    stdout.write(SHOW_CURSOR + ALT_SCREEN_OFF);
    chalk.level = chalkLevel;
  };
  const onError = (error: unknown): void => {
    restore();
    fail(error);
  };
  // A promise the replayed app left rejected is the app's, not the TUI's: it
  // must neither end the TUI nor write over the screen.
  const onRejection = (reason: unknown, promise: Promise<unknown>): void => {
    if (!isAppRejection(reason, promise)) onError(reason);
  };
  const previousReporter = reportStrayRejections(() => {});
  const onSignal = (signal: NodeJS.Signals): void => {
    process.exitCode = 128 + (SIGNAL_NUMBER[signal] ?? 0);
    restore();
  };
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onRejection);
  for (const signal of SIGNALS) process.on(signal, onSignal);
  try {
    stdout.write(ALT_SCREEN_ON);
    instance = render(<App source={options.source} tx={options.tx} session={options.session} color={options.color} />, {
      stdin,
      stdout,
      stderr,
      exitOnCtrlC: false,
      patchConsole: false,
    });
    await Promise.race([instance.waitUntilExit(), failed]);
  } finally {
    restore();
    process.off('uncaughtException', onError);
    process.off('unhandledRejection', onRejection);
    reportStrayRejections(previousReporter);
    for (const signal of SIGNALS) process.off(signal, onSignal);
  }
}
