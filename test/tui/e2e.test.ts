import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { currentBundle } from '../../src/commands/tui-bundle.js';
import { BIN, ROOT, tempDirs } from '../helpers/cli.js';
import { BUNDLE_URL_REGEX, generatedPosition, Inspector } from '../inspect/devtools.js';
import { launchTui as launch, screenLines as lines } from '../helpers/tmux.js';
import { recordBankJournal, type BankJournal } from './fixture.js';

// The real `replay tui` binary in a real terminal: tmux, 80x24, keys sent
// with send-keys and the screen read with capture-pane (test/helpers/tmux.ts).

const tmp = tempDirs('windback-tui-e2e');
let journal: BankJournal;

beforeAll(async () => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'tui', 'run.js'))) throw new Error('dist/ is missing the TUI: run `npm run build` first');
  if (!fs.existsSync(path.join(ROOT, 'dist', 'tui', 'run.bundle.js'))) throw new Error('dist/ is missing the TUI bundle (scripts/build-tui.mjs): run `npm run build` first');
  if (!currentBundle(pathToFileURL(path.join(ROOT, 'dist', 'tui') + path.sep))) throw new Error('dist/tui/run.bundle.js was built from another TUI than dist/tui holds (a tsc after the build?): run `npm run build`');
  journal = await recordBankJournal(tmp(), { extra: 12 });
});

/** The diff pane shows step k as the stepping API re-executed it (not the previous step's while it runs). */
const diffAt = (k: number, kind: string) => (s: string): boolean => new RegExp(`Diff · step ${k} ${kind}(?! · (→|re-executing))`).test(s);

describe('replay tui in a terminal', () => {
  it('draws 80x24, winds, replays a session, steps back and forth, and q hands the terminal back as it was', async () => {
    const loaded = path.join(tmp(), 'tui-module');
    const t = launch(['-j', journal.dir], ['NO_COLOR=1', `WINDBACK_TUI_MODULE_LOG=${loaded}`]);
    // The whole first frame: a capture can catch the terminal while ink's first paint is still arriving.
    let screen = await t.waitFor((s) => s.includes('Sessions at tx 15 (1)') && /q quit\s*$/.test(s.trimEnd()), 'the first frame');
    // What users get: the bundle of ink, react and the TUI (scripts/build-tui.mjs), not the separate modules.
    expect(fs.readFileSync(loaded, 'utf8').trim()).toBe(pathToFileURL(path.join(ROOT, 'dist', 'tui', 'run.bundle.js')).href);
    const rows = lines(screen);
    expect(rows).toHaveLength(24);
    expect(rows[0]).toMatch(/^╭─ Timeline · tx 15 of 1–15 ─+╮$/);
    expect(rows[23]).toMatch(/^sessions: .*\? help {2}q quit$/);
    for (const row of rows) expect([...row].length).toBeLessThanOrEqual(80);

    t.key('g');
    await t.waitFor((s) => s.includes('go to tx, ISO time or s<session>:'), 'the go-to prompt');
    t.key('8');
    t.key('Enter');
    await t.waitFor((s) => s.includes('Timeline · tx 8 of 1–15'), 'tx 8');
    t.key('[');
    screen = await t.waitFor((s) => s.includes('Sessions at tx 7 (2)'), 'tx 7');
    expect(screen).toMatch(/▸ 5 transfer ok/);
    t.key('Enter');
    screen = await t.waitFor((s) => /Steps #5 · ✓ replays equal · 4\/13/.test(s) && diffAt(4, 'call-start')(s), 'the replay of session 5');
    t.key('n');
    await t.waitFor(diffAt(5, 'call-result'), 'a step forward');
    t.key('p');
    t.key('p');
    screen = await t.waitFor(diffAt(3, 'value'), 'two steps back');
    expect(screen).toMatch(/performance = /);
    t.key('?');
    await t.waitFor((s) => s.includes('Keys · ? or Esc closes'), 'the help');
    t.key('Escape');
    await t.waitFor((s) => s.includes('Diff · step 3 value'), 'the help closed');

    t.key('q');
    // The terminal's settings as the shell sees them after the exit: all of `stty -a`.
    screen = await t.waitFor((s) => s.includes('STTY-END'), 'the TUI to exit');
    expect(screen).toContain('EXIT=0');
    expect(screen).not.toContain('Timeline ·'); // the main screen is back
    const stty = screen.slice(screen.indexOf('EXIT='));
    expect(stty).toMatch(/(^|\s)icanon(\s|$)/m);
    expect(stty).toMatch(/(^|\s)echo(\s|$)/m);
    expect(stty).not.toMatch(/-icanon/);
  });

  it('finds a divergence with --code, live', async () => {
    const t = launch(['-j', journal.dir, '--session', '5', '--code', path.join(ROOT, 'fixtures', 'apps', 'bank-changed', 'app.ts')]);
    await t.waitFor((s) => s.includes('✗ diverges at 9'), 'the what-if replay');
    t.key('Home');
    t.key('c'); // the checkpoint "validated"
    t.key('c');
    const screen = await t.waitFor((s) => s.includes('divergence at step 9') && diffAt(9, 'write-tx')(s), 'c to the divergence');
    expect(screen).toMatch(/▸ 9 ✗ tx/);
    expect(screen).toContain('≠ accounts #2  balance: 6500 → 6499');
    t.key('q');
    expect(await t.waitFor((s) => s.includes('EXIT='), 'the TUI to exit')).toContain('EXIT=0');
  });

  it('follows the terminal when it is resized', async () => {
    const t = launch(['-j', journal.dir]);
    await t.waitFor((s) => s.includes('Sessions at tx 15'), 'the first frame');
    t.tmux('resize-window', '-t', 'tui', '-x', '100', '-y', '30');
    const screen = await t.waitFor((s) => lines(s).length === 30 && /^╭─ Timeline .*╮$/.test(lines(s)[0]) && [...lines(s)[0]].length === 100, 'a frame at 100x30');
    expect(lines(screen)[29]).toMatch(/^sessions: .*\? help {2}q quit$/);
    t.tmux('resize-window', '-t', 'tui', '-x', '80', '-y', '24');
    await t.waitFor((s) => [...lines(s)[0]].length === 80 && lines(s)[23].endsWith('q quit'), 'a frame at 80x24 again');
    t.key('q');
    await t.waitFor((s) => s.includes('EXIT=0'), 'the TUI to exit');
  });

  it('uses colour unless NO_COLOR is set', async () => {
    const colour = /\x1b\[(3[0-7]|9[0-7]|38;)/;
    const plain = launch(['-j', journal.dir], ['NO_COLOR=1']);
    const withoutColour = await plain.waitFor((s) => s.includes('Sessions at tx 15'), 'the first frame', true);
    expect(withoutColour).not.toMatch(colour);
    const coloured = launch(['-j', journal.dir], []);
    const withColour = await coloured.waitFor((s) => s.includes('Sessions at tx 15'), 'the first frame', true);
    expect(withColour).toMatch(colour);
  });

  it('refuses an unknown session before touching the screen, with exit code 2', async () => {
    const t = launch(['-j', journal.dir, '--session', '999']);
    const screen = await t.waitFor((s) => s.includes('STTY-END'), 'the refusal');
    expect(screen).toContain('replay: unknown session 999: the journal holds 21 sessions');
    expect(screen).toContain('EXIT=2');
    expect(screen).not.toMatch(/-icanon/);
  });
});

describe('replay tui --inspect in a terminal', () => {
  it('waits for a debugger, shows where it pauses in app.ts while it keeps drawing, and q kills the replay process', async () => {
    const appFile = path.join(ROOT, 'fixtures', 'apps', 'bank', 'app.ts');
    const target = await generatedPosition(journal.dir, appFile, 'if (risk > 0.95)');
    const t = launch(['-j', journal.dir, '--session', '5', '--inspect']);
    let screen = await t.waitFor((s) => /waiting for a debugger on 127\.0\.0\.1:\d+/.test(s), 'waiting for a debugger');
    const port = /waiting for a debugger on 127\.0\.0\.1:(\d+)/.exec(screen)![1];
    // The status row can come a frame before the steps are read.
    screen = await t.waitFor((s) => /Steps #5 · waiting/.test(s), 'the steps pane waiting');
    expect(lines(screen)[22]).toMatch(/^⏸ waiting for a debugger on 127\.0\.0\.1:\d+ · i attach · R go on without$/);
    // The diff steps in the TUI's own process: it does not wait for the debugger.
    screen = await t.waitFor(diffAt(9, 'write-tx'), 'the re-executed step while the replay waits');
    expect(screen).toMatch(/step 9 write-tx · tx 8 · ✓ equal/);
    const list = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
    const inspector = await Inspector.connect(list[0].webSocketDebuggerUrl);
    try {
      await inspector.send('Debugger.enable');
      await inspector.send('Debugger.setBreakpointByUrl', { urlRegex: BUNDLE_URL_REGEX, lineNumber: target.line - 1, columnNumber: target.column });
      await inspector.send('Runtime.runIfWaitingForDebugger');
      expect((await inspector.paused()).callFrames[0].functionName).toBe('sessionStart');
      await t.waitFor((s) => s.includes('⏸ paused in debugger at the start of session 5'), 'paused at the session start');
      await inspector.send('Debugger.resume');

      const hit = await inspector.paused();
      expect(hit.callFrames[0].functionName).toBe('transfer');
      screen = await t.waitFor((s) => s.includes(`⏸ paused in debugger at fixtures/apps/bank/app.ts:${target.tsLine} in transfer`), 'paused at the breakpoint');
      expect(lines(screen)[22]).toMatch(/^⏸ paused in debugger at fixtures\/apps\/bank\/app\.ts:\d+ in transfer · F8\/R resumes/);
      expect(screen).toMatch(/Steps #5 · ⏸ paused · \d+ steps/);
      expect(typeof (await inspector.evaluate(hit.callFrames[0].callFrameId, 'risk'))).toBe('number');
      // The replay is paused, the TUI is not: it winds and draws.
      t.key(']');
      await t.waitFor((s) => s.includes('Timeline · tx 9 of 1–15'), 'tx 9 while paused');
      t.key('i');
      screen = await t.waitFor((s) => s.includes('Debugger · i or Esc closes'), 'the debugger overlay');
      expect(screen).toContain(`add 127.0.0.1:${port}`);
      t.key('Escape');
      await t.waitFor((s) => !s.includes('Debugger · i or Esc closes'), 'the overlay closed');

      await inspector.send('Debugger.resume');
      screen = await t.waitFor((s) => s.includes('✓ replays equal'), 'the replay to finish');
      // The child reports itself idle a moment after the replay's last event.
      await t.waitFor((s) => /◇ debugger on 127\.0\.0\.1:\d+ · replays pause where the session starts/.test(s), 'the debugger row back to idle');
    } finally {
      inspector.close();
    }
    t.key('q');
    screen = await t.waitFor((s) => s.includes('EXIT='), 'the TUI to exit');
    expect(screen).toContain('EXIT=0');
    expect(screen).not.toMatch(/-icanon/);
    // The replay process is gone with its inspector (SIGKILL: it ends a moment after the TUI).
    const started = Date.now();
    while (await fetch(`http://127.0.0.1:${port}/json/list`).then(() => true, () => false)) {
      if (Date.now() - started > 10_000) throw new Error(`the inspector on port ${port} still answers after the TUI quit`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
});

describe('replay tui without a terminal', () => {
  it('refuses with a one-line hint to use replay show, and exit code 2', () => {
    const r = spawnSync(process.execPath, [BIN, 'tui', '-j', journal.dir], { encoding: 'utf8', input: '', env: { ...process.env, NO_COLOR: '1' } });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^replay: the TUI needs an interactive terminal .*replay show <session>/);
  });
});

describe('startup of every other command', () => {
  it('never loads ink or react: no static import reaches them from the command map', () => {
    const dist = path.join(ROOT, 'dist');
    const seen = new Set<string>();
    const offending: string[] = [];
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const source = fs.readFileSync(file, 'utf8');
      // Static imports only: `import x from '...'` and `export ... from '...'`; `import('...')` is lazy.
      for (const m of source.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]/gm)) {
        const spec = m[1];
        if (spec === 'ink' || spec === 'react' || spec.startsWith('react/') || spec.startsWith('ink/')) offending.push(`${path.relative(dist, file)} imports ${spec}`);
        if (spec.startsWith('.')) visit(path.resolve(path.dirname(file), spec));
      }
    };
    visit(path.join(dist, 'commands', 'index.js'));
    expect(seen.has(path.join(dist, 'commands', 'tui.js'))).toBe(true);
    expect([...seen].some((f) => f.includes(`${path.sep}tui${path.sep}`))).toBe(false);
    expect(offending).toEqual([]);
    // And the TUI itself does import them (lazily), so the check above can tell.
    expect(fs.readFileSync(path.join(dist, 'tui', 'run.js'), 'utf8')).toMatch(/from ['"]ink['"]/);
    expect(fs.readFileSync(path.join(dist, 'commands', 'tui.js'), 'utf8')).toMatch(/import\(['"]\.\.\/tui\/run\.js['"]\)/);
  });
});
