import type { ReactElement } from 'react';
import { render as inkRender } from 'ink-testing-library';
import { App, type AppProps } from '../../src/tui/App.js';
import type { TuiSource } from '../../src/services/tui-data.js';

// The shared test renderer: ink-testing-library with a fixed screen size (80x24
// unless told), a fake stdin, and helpers that send a key and wait for the
// next frame, so that no test asserts on a stale lastFrame(). Waits are
// bounded by a generous limit and fail with the last frame; nothing asserts
// on time.

export const KEYS = {
  up: '\x1b[A',
  down: '\x1b[B',
  right: '\x1b[C',
  left: '\x1b[D',
  enter: '\r',
  escape: '\x1b',
  tab: '\t',
  shiftTab: '\x1b[Z',
  home: '\x1b[H',
  end: '\x1b[F',
  pageUp: '\x1b[5~',
  pageDown: '\x1b[6~',
  backspace: '\x7f',
  ctrlC: '\x03',
} as const;

export type KeyName = keyof typeof KEYS;

const LIMIT_MS = 15_000;

export interface Rendered {
  /** The last frame, or '' before the first. */
  frame(): string;
  /** Lines of the last frame. */
  lines(): string[];
  /**
   * Send a key (a name from KEYS, or literal text) and wait for the next frame
   * that has settled (no pane still loading) and satisfies `until`, if given.
   */
  press(key: KeyName | string, until?: (frame: string) => boolean): Promise<string>;
  /** Send a key without waiting (for keys that must change nothing). */
  send(key: KeyName | string): void;
  /** Wait until the frame has settled (see `settled`; not with `unsettled`) and satisfies `check`. */
  waitFor(check: (frame: string) => boolean, what?: string, options?: { unsettled?: boolean }): Promise<string>;
  /** Every frame written so far. */
  frames(): string[];
  unmount(): void;
}

/**
 * React runs passive effects (where ink's useInput subscribes a pane that
 * just got the focus) in a task queued at commit, after the frame is written:
 * let those tasks run before the next key, as a person's next keystroke would.
 */
async function effectsFlushed(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

function sequenceOf(key: string): string {
  return key in KEYS ? KEYS[key as KeyName] : key;
}

/**
 * No pane is still loading: the transaction, the sessions alive at it, the
 * selected session's records, and the selected step's re-execution (the
 * diff pane's title says `re-executing…` or `→ step N…` until it arrives).
 */
export function settled(frame: string): boolean {
  return frame !== '' && !/winding to tx|loading…|reading session|re-executing…|→ step \d+…/.test(frame);
}

export function renderElement(element: ReactElement): Rendered {
  const r = inkRender(element);
  const frame = (): string => r.lastFrame() ?? '';
  const waitFor = async (check: (frame: string) => boolean, what = 'the expected frame', options: { unsettled?: boolean } = {}): Promise<string> => {
    const started = Date.now();
    for (;;) {
      const f = frame();
      if ((options.unsettled ? f !== '' : settled(f)) && check(f)) {
        await effectsFlushed();
        return f;
      }
      if (Date.now() - started > LIMIT_MS) throw new Error(`gave up waiting for ${what}; the last frame was:\n${f}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  return {
    frame,
    lines: () => frame().split('\n'),
    frames: () => r.frames.slice(),
    async press(key, until) {
      const count = r.frames.length;
      r.stdin.write(sequenceOf(key));
      // ink writes a frame per commit (debug mode); an Esc waits a tick to be told from a sequence.
      return waitFor((f) => r.frames.length > count && (until ? until(f) : true), `a settled frame after ${JSON.stringify(key)}`);
    },
    send(key) {
      r.stdin.write(sequenceOf(key));
    },
    waitFor,
    unmount: () => r.unmount(),
  };
}

/** The whole TUI over a source, at a fixed size (80x24 by default), colours off unless asked. */
export function renderTui(source: TuiSource, props: Partial<Omit<AppProps, 'source'>> = {}): Rendered {
  return renderElement(<App source={source} color={props.color ?? false} size={props.size ?? { columns: 80, rows: 24 }} tx={props.tx} session={props.session} />);
}

/** The first line of the frame that contains `text`, or undefined. */
export function lineWith(frame: string, text: string | RegExp): string | undefined {
  return frame.split('\n').find((l) => (typeof text === 'string' ? l.includes(text) : text.test(l)));
}
