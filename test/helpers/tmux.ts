import { spawnSync } from 'node:child_process';
import { afterAll, afterEach } from 'vitest';
import { BIN, ROOT } from './cli.js';

// The real `replay tui` in a real terminal: a fresh tmux server per launch,
// keys sent with send-keys, the screen read with capture-pane. tmux must be
// installed (apt-get install -y tmux); without it these tests fail, they do
// not skip. Servers are killed after each test.

const sockets: string[] = [];

afterEach(killTerminals);
afterAll(killTerminals);

function killTerminals(): void {
  while (sockets.length) spawnSync('tmux', ['-L', sockets.pop()!, 'kill-server']);
}

function tmuxAvailable(): boolean {
  return spawnSync('tmux', ['-V'], { encoding: 'utf8' }).status === 0;
}

function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

export interface Terminal {
  /** The screen as text (with escape sequences when `escapes`). */
  screen(escapes?: boolean): string;
  waitFor(check: (screen: string) => boolean, what: string, escapes?: boolean): Promise<string>;
  /** One key per call (an Esc sent together with the next key would read as Alt+key). */
  key(key: string): void;
  tmux(...args: string[]): string;
}

/** `replay tui <args>` at 80x24; after it exits, the shell prints its exit status and `stty -a`. */
export function launchTui(args: string[], env: string[] = ['NO_COLOR=1']): Terminal {
  if (!tmuxAvailable()) throw new Error('tmux is not installed: the end-to-end TUI tests drive `replay tui` in tmux (apt-get install -y tmux)');
  const socket = `windback-tui-${process.pid}-${sockets.length}-${Date.now()}`;
  sockets.push(socket);
  const tmux = (...a: string[]): string => {
    const r = spawnSync('tmux', ['-L', socket, ...a], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tmux ${a.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  };
  const command = `cd ${quote(ROOT)} && env -u NO_COLOR -u FORCE_COLOR TERM=xterm-256color ${env.join(' ')} node ${quote(BIN)} tui ${args.map(quote).join(' ')}; echo "EXIT=$?"; stty -a; echo "STTY-END"; sleep 600`;
  spawnSync('tmux', ['-L', socket, '-f', '/dev/null', '-u', 'new-session', '-d', '-x', '80', '-y', '24', '-s', 'tui', command], { encoding: 'utf8' });
  const screen = (escapes = false): string => tmux('capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', 'tui');
  return {
    screen,
    tmux,
    async waitFor(check, what, escapes = false) {
      const started = Date.now();
      for (;;) {
        const s = screen(escapes);
        if (check(s)) return s;
        if (Date.now() - started > 30_000) throw new Error(`gave up waiting for ${what}; the screen was:\n${s}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    key(key) {
      tmux('send-keys', '-t', 'tui', key);
    },
  };
}

export const screenLines = (screen: string): string[] => screen.replace(/\n$/, '').split('\n');
