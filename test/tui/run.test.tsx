import { EventEmitter } from 'node:events';
import chalk from 'chalk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TuiData, type TuiSource } from '../../src/services/tui-data.js';
import { showTui, type TuiStreams } from '../../src/tui/run.js';
import { tempDirs } from '../helpers/cli.js';
import { recordBankJournal } from './fixture.js';

// Starting and stopping the TUI on a fake terminal: whatever ends it (q,
// Ctrl-C, SIGTERM, a render error), raw mode is switched off, the cursor
// shown again and the main screen restored.

const ALT_ON = '\x1b[?1049h';
const ALT_OFF = '\x1b[?1049l';
const SHOW_CURSOR = '\x1b[?25h';

class FakeStdin extends EventEmitter {
  isTTY = true;
  readonly rawModes: boolean[] = [];
  private data: string | null = null;
  setRawMode(mode: boolean): this {
    this.rawModes.push(mode);
    return this;
  }
  get isRaw(): boolean {
    return this.rawModes[this.rawModes.length - 1] ?? false;
  }
  setEncoding(): void {}
  ref(): void {}
  unref(): void {}
  resume(): void {}
  pause(): void {}
  read(): string | null {
    const d = this.data;
    this.data = null;
    return d;
  }
  type(text: string): void {
    this.data = text;
    this.emit('readable');
  }
}

class FakeStdout extends EventEmitter {
  isTTY = true;
  columns = 80;
  rows = 24;
  out = '';
  write(text: string, callback?: () => void): boolean {
    this.out += text;
    callback?.();
    return true;
  }
}

function terminal(): { stdin: FakeStdin; stdout: FakeStdout; streams: TuiStreams } {
  const stdin = new FakeStdin();
  const stdout = new FakeStdout();
  return { stdin, stdout, streams: { stdin, stdout, stderr: new FakeStdout() } as unknown as TuiStreams };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > 15_000) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const tmp = tempDirs('windback-tui-run');
let data: TuiData;

beforeAll(async () => {
  data = TuiData.open({ journal: (await recordBankJournal(tmp())).dir });
});

afterAll(() => data?.close());

function expectRestored(stdin: FakeStdin, stdout: FakeStdout): void {
  expect(stdout.out.startsWith(ALT_ON)).toBe(true);
  expect(stdin.rawModes).toContain(true);
  expect(stdin.isRaw).toBe(false);
  expect(stdout.out.endsWith(SHOW_CURSOR + ALT_OFF)).toBe(true);
}

describe('showTui', () => {
  it('q quits: raw mode off, the cursor shown, the main screen back', async () => {
    const { stdin, stdout, streams } = terminal();
    const done = showTui({ source: data, color: false }, streams);
    await until(() => stdout.out.includes('Sessions at tx 8 (1)'), 'the first frame');
    expect(stdin.isRaw).toBe(true);
    stdin.type('q');
    await done;
    expectRestored(stdin, stdout);
  });

  it('Ctrl-C quits the same way', async () => {
    const { stdin, stdout, streams } = terminal();
    const done = showTui({ source: data, color: false }, streams);
    await until(() => stdout.out.includes('Sessions at tx 8 (1)'), 'the first frame');
    stdin.type('\x03');
    await done;
    expectRestored(stdin, stdout);
  });

  it('SIGTERM restores the terminal and exits 143', async () => {
    const { stdin, stdout, streams } = terminal();
    const done = showTui({ source: data, color: false }, streams);
    await until(() => stdout.out.includes('Sessions at tx 8 (1)'), 'the first frame');
    const before = process.exitCode;
    try {
      process.emit('SIGTERM', 'SIGTERM');
      await done;
      expect(process.exitCode).toBe(143);
    } finally {
      process.exitCode = before;
    }
    expectRestored(stdin, stdout);
  });

  it('without colour (NO_COLOR) still draws bold, dim and inverse: the cursor row shows, and no colour does', async () => {
    const { stdin, stdout, streams } = terminal();
    const level = chalk.level;
    chalk.level = 0; // as NO_COLOR leaves it (commands/format.ts)
    try {
      const done = showTui({ source: data, color: false }, streams);
      await until(() => stdout.out.includes('Sessions at tx 8 (1)'), 'the first frame');
      // The sessions cursor row, focused: inverse; the filter's caret too.
      expect(stdout.out).toMatch(/\x1b\[7m▸ 5 transfer/);
      stdin.type('/');
      await until(() => stdout.out.includes('Enter keep'), 'the filter');
      expect(stdout.out).toMatch(/\/\x1b\[7m \x1b\[27m/);
      expect(stdout.out).not.toMatch(/\x1b\[(3[0-7]|9[0-7]|38;|4[0-7]|48;)/);
      stdin.type('\x03');
      await done;
      expectRestored(stdin, stdout);
      expect(chalk.level).toBe(0);
    } finally {
      chalk.level = level;
    }
  });

  it('draws a complete first frame: the transaction and its sessions, no "winding to tx" frame before', async () => {
    const { stdin, stdout, streams } = terminal();
    const done = showTui({ source: data, color: false }, streams);
    await until(() => stdout.out.includes('Sessions at tx 8 (1)'), 'the first frame');
    expect(stdout.out).not.toContain('winding to tx');
    expect(stdout.out).toMatch(/Timeline · tx 8 of 1–8/);
    stdin.type('q');
    await done;
    expectRestored(stdin, stdout);
  });

  it('an error in the first render ends the TUI with that error, the screen restored', async () => {
    const { stdin, stdout, streams } = terminal();
    const broken: TuiSource = Object.create(data, { tx: { value: (tx: number) => ({ ...data.tx(tx), tables: null }) } });
    await expect(showTui({ source: broken, color: false }, streams)).rejects.toThrow(TypeError);
    expect(stdout.out.startsWith(ALT_ON)).toBe(true);
    expect(stdin.isRaw).toBe(false);
    expect(stdout.out.endsWith(SHOW_CURSOR + ALT_OFF)).toBe(true);
  });

  it('an error while rendering ends the TUI with that error, the terminal restored', async () => {
    const { stdin, stdout, streams } = terminal();
    // A source that breaks a pane once the TUI is up (raw mode on): tx 7's tables are not a list.
    const broken: TuiSource = Object.create(data, { tx: { value: (tx: number) => ({ ...data.tx(tx), tables: tx === 7 ? null : data.tx(tx).tables }) } });
    const done = showTui({ source: broken, color: false }, streams);
    done.catch(() => {});
    await until(() => stdout.out.includes('Sessions at tx 8 (1)'), 'the first frame');
    stdin.type('[');
    await expect(done).rejects.toThrow(TypeError);
    expectRestored(stdin, stdout);
  });
});
