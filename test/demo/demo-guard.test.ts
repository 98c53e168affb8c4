import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDirs } from '../helpers/cli.js';
import { JournalScript } from '../helpers/script-journal.js';

// `npm run demo` records into a fresh journal: it deletes the one it is
// pointed at first. REPLAY_JOURNAL, which the demo honours, is also how a user
// names the journal they are investigating, and may still be set in their
// shell: the demo must not wipe a journal that is not its own.

const tmp = tempDirs('windback-demo-guard');

function demo(journal: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
    cwd: ROOT,
    env: { ...process.env, REPLAY_JOURNAL: journal, NO_COLOR: '1' },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('npm run demo, with REPLAY_JOURNAL naming something of the user\'s', () => {
  it('refuses to delete a journal of another app, or a directory of other files, and leaves them alone', async () => {
    const journal = path.join(tmp('theirs'), 'journal');
    const j = await JournalScript.create(journal);
    j.processStart();
    j.migration();
    j.start('transfer').end('ok');
    await j.close();
    const before = fs.readdirSync(journal).sort();

    const r = demo(journal);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain(`REPLAY_JOURNAL names ${journal}`);
    expect(r.stderr).toContain('Unset REPLAY_JOURNAL');
    expect(fs.readdirSync(journal).sort()).toEqual(before);

    const other = tmp('files');
    fs.writeFileSync(path.join(other, 'notes.txt'), 'mine\n');
    const o = demo(other);
    expect(o.status, o.stderr).toBe(2);
    expect(fs.readFileSync(path.join(other, 'notes.txt'), 'utf8')).toBe('mine\n');
  });
});
