import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/runtime/server.js';
import { replay, tempDirs } from '../helpers/cli.js';
import { SAVE_KINDS, writeApp } from '../helpers/temp-app.js';

// `replay run` when the replayed session throws: a failed session's response
// only says that it failed, so the report names the replayed error (name,
// message, where the app raised it) next to the recorded one.

const tmp = tempDirs('windback-run-errors');

// The same effects, then a different ending: a RangeError on line 9 of the
// file, whatever the input, answered 409 (a failure answered 500 both times
// is the same response: no divergence).
const REPLAYED_KINDS = `
    async save(input: { v: string }, ctx) {
      await ctx.tx((db) => db.run('INSERT INTO t (v) VALUES (?)', input.v));
      throw Object.assign(new RangeError('replayed failure for ' + input.v), { status: 409 });
    },`;

describe('replay run, when the replayed session throws', () => {
  let journal: string;
  let dir: string;
  beforeAll(async () => {
    dir = tmp('run');
    journal = path.join(dir, 'journal');
    const server = await startServer(writeApp(dir, 'app.ts', SAVE_KINDS), { journal, durability: 'none', timeZone: 'UTC', locale: 'en-US', log: () => {} });
    try {
      for (const v of ['good', 'bad']) {
        const r = await fetch(`${server.url}/save`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ v }) });
        expect(r.status).toBe(v === 'good' ? 200 : 500);
      }
    } finally {
      await server.close();
    }
  });

  it('names the replayed error and where it was raised, for a session that succeeded when recorded', () => {
    const changed = writeApp(dir, 'changed.ts', REPLAYED_KINDS);
    const r = replay(['run', '1', '--code', changed, '-j', journal]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain('the replay threw RangeError: replayed failure for good');
    expect(r.stdout).toContain('recorded error: none (the session did not fail)');
    expect(r.stdout).toContain(`replayed error: RangeError: replayed failure for good at ${changed}:9:`);
    const json = replay(['run', '1', '--code', changed, '-j', journal, '--json']);
    expect(json.code).toBe(1);
    expect(json.json.divergence).toMatchObject({
      kind: 'response',
      location: { file: changed, line: 9 },
      errors: { recorded: null, replayed: { name: 'RangeError', message: 'replayed failure for good', location: { file: changed, line: 9 } } },
    });
  });

  it('shows both errors when the recorded session failed too, differently', () => {
    const changed = writeApp(dir, 'changed.ts', REPLAYED_KINDS);
    const r = replay(['run', '2', '--code', changed, '-j', journal]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/recorded error: Error: recorded failure for bad at \S*\/app\.ts:9:/);
    expect(r.stdout).toContain(`replayed error: RangeError: replayed failure for bad at ${changed}:9:`);
  });

  it('a 500 both times is still a divergence when the session failed with a different error (the journal says which)', () => {
    const other = writeApp(
      dir,
      'other-error.ts',
      `
    async save(input: { v: string }, ctx) {
      await ctx.tx((db) => db.run('INSERT INTO t (v) VALUES (?)', input.v));
      if (input.v === 'bad') throw new TypeError('another failure for ' + input.v);
      return { saved: input.v };
    },`,
    );
    const r = replay(['run', '2', '--code', other, '-j', journal, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.json.divergence).toMatchObject({
      kind: 'response',
      message: 'the session failed with a different error: recorded Error: recorded failure for bad; replayed TypeError: another failure for bad',
      expected: { error: { name: 'Error', message: 'recorded failure for bad' } },
      actual: { error: { name: 'TypeError', message: 'another failure for bad' } },
    });
    // The same error again is no divergence.
    const same = replay(['run', '2', '--code', writeApp(dir, 'same.ts', SAVE_KINDS), '-j', journal, '--json']);
    expect(same.code, same.stdout + same.stderr).toBe(0);
    expect(same.json).toMatchObject({ equal: true });
  });
});
