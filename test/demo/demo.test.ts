import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { replayAsync, ROOT, tempDirs } from '../helpers/cli.js';
import { launchTui } from '../helpers/tmux.js';
import { readJournal, type SessionView } from '../runtime/journal-view.js';

// The README's first command, `npm run demo`, records a journal with the real
// binary under concurrent load, kills the server with SIGKILL and restarts it.
// That journal is the one users meet first: every session in it, the resumed
// ones included, must replay equal, and the TUI must step through a resumed one.

const tmp = tempDirs('windback-demo');
let journal: string;
let stdout: string;
let ended: SessionView[];
let resumed: SessionView[];

beforeAll(() => {
  journal = tmp();
  const demo = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
    cwd: ROOT,
    env: { ...process.env, REPLAY_JOURNAL: journal, NO_COLOR: '1' },
    encoding: 'utf8',
    timeout: 240_000,
  });
  expect(demo.status, `${demo.stdout}\n${demo.stderr}`).toBe(0);
  stdout = demo.stdout;
  const sessions = [...readJournal(journal).sessions.values()];
  ended = sessions.filter((s) => s.end !== null);
  resumed = ended.filter((s) => s.attempts.some((a) => a.record.reason === 'resume'));
}, 300_000);

describe('the journal `npm run demo` records', () => {
  it('shows the crash and the restart, and suggests what to run next', () => {
    expect(stdout).toMatch(/SIGKILL the server after \d+ of 360 load requests/);
    expect(stdout).toContain('restarted with the same command');
    expect(stdout).toContain(`npx replay wind --tx`);
    expect(stdout).toContain(`npx replay tui --tx`);
    expect(ended.length).toBeGreaterThanOrEqual(300);
    expect(resumed.length, 'the SIGKILL should have cut some sessions, which resume on restart').toBeGreaterThan(0);
  });

  it('verifies equal, every session, the resumed ones included', async () => {
    const r = await replayAsync(['verify', '--journal', journal, '--json', '--jobs', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ sessions: ended.length, passed: ended.length, diverged: 0, failures: [] });
    for (const s of resumed.slice(0, 3)) {
      const run = await replayAsync(['run', String(s.id), '--journal', journal, '--json']);
      expect(run.json, run.stderr).toMatchObject({ session: s.id, equal: true, divergence: null });
    }
  });

  it('steps through a resumed session in the TUI, in a real terminal', async () => {
    const session = resumed[0];
    const t = launchTui(['-j', journal, '--session', String(session.id)]);
    const screen = await t.waitFor((s) => /✓ replays equal/.test(s), `the replay of resumed session ${session.id}`);
    expect(screen).toContain(`#${session.id}`);
    t.key('n');
    t.key('p');
    t.key('q');
    expect(await t.waitFor((s) => s.includes('EXIT='), 'the TUI to exit')).toContain('EXIT=0');
  });
});
