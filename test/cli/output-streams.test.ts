import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, tempDirs } from '../helpers/cli.js';
import { JournalScript } from '../helpers/script-journal.js';

// Standard output that goes away or fails. A reader that stops reading
// (`replay sessions | head -1`) had what it wanted: the command ends quietly
// with its own status, as `set -o pipefail` scripts need (it used to end with
// 13, Node's "unsettled top-level await", after oclif swallowed the EPIPE and
// then waited for a drain that never came). Output that cannot be written
// (`> /dev/full`) is one line on stderr and exit 74, not an uncaught stack.

const tmp = tempDirs('windback-stdout');
let journal: string;

const SESSIONS = 3000; // ~100 bytes a line: far more than a pipe holds

beforeAll(async () => {
  journal = tmp('journal');
  const j = await JournalScript.create(journal);
  j.processStart();
  j.migration();
  for (let i = 1; i <= SESSIONS; i++) {
    const s = j.start(i % 2 ? 'transfer' : 'deposit');
    s.end('ok');
  }
  await j.close();
});

const env = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };

/** Run replay with its stdout a pipe whose reader is already gone: every write fails with EPIPE. */
function withClosedStdout(args: string[]): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

describe('a reader that stops reading', () => {
  it('replay ends with its own status and says nothing', async () => {
    const cases: [string[], number][] = [
      [['--help'], 0],
      [['sessions'], 0],
      [['sessions', '--json'], 0],
      [['state', '--tx', '1', '--sql', 'with recursive c(x) as (select 1 union all select x + 1 from c limit 5000) select x from c', '--limit', '5000'], 0],
      // A command that failed keeps its status (its --json error went nowhere).
      [['show', '99999', '--json'], 2],
    ];
    const results = await Promise.all(cases.map(([args]) => withClosedStdout([...args, '-j', journal])));
    cases.forEach(([args, code], i) => expect(results[i], `replay ${args.join(' ')}`).toEqual({ code, signal: null, stderr: '' }));
  });

  it('under set -o pipefail, `replay sessions | head -1` succeeds', () => {
    const result = spawnSync('bash', ['-o', 'pipefail', '-c', `"${process.execPath}" "${BIN}" sessions -j "${journal}" | head -1`], { encoding: 'utf8', env });
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^\s*ID\s+KIND\s+STATUS\s+[^\n]+\n$/);
    expect(result.status).toBe(0);
  });

  it('under set -o pipefail, `replay export --out /dev/stdout | head -c 100` succeeds', () => {
    const result = spawnSync('bash', ['-o', 'pipefail', '-c', `"${process.execPath}" "${BIN}" export --out /dev/stdout -j "${journal}" | head -c 100`], { encoding: 'utf8', env });
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^\{"traceEvents":/);
    expect(result.stdout).toHaveLength(100);
    expect(result.status).toBe(0);
  });
});

describe('output that cannot be written', () => {
  it.each([[['sessions', '--json']], [['sessions']], [['info']], [['show', '1', '--json']]])('replay %j > /dev/full: one line, exit 74', (args) => {
    const full = fs.openSync('/dev/full', 'w');
    try {
      const result = spawnSync(process.execPath, [BIN, ...args, '-j', journal], { cwd: ROOT, env, stdio: ['ignore', full, 'pipe'], encoding: 'utf8' });
      expect(result.stderr).toBe('replay: cannot write to standard output: disk full (ENOSPC)\n');
      expect(result.status).toBe(74);
    } finally {
      fs.closeSync(full);
    }
  });
});
