import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, replay, tempDirs } from '../helpers/cli.js';
import { recordBankJournal, type BankJournal } from '../tui/fixture.js';
import { SAVE_KINDS, writeApp } from '../helpers/temp-app.js';

// Replay as a library: what `import ... from 'windback'` gives (the package's
// main entry, dist/index.js), used as README.md shows.

type Windback = typeof import('../../src/index.js');

const tmp = tempDirs('windback-library');
let bank: BankJournal;
let windback: Windback;

beforeAll(async () => {
  bank = await recordBankJournal(tmp());
  windback = (await import(path.join(ROOT, 'dist', 'index.js'))) as Windback;
});

describe("the package's replay API", () => {
  it('re-executes a session with the verdict `replay run` prints', async () => {
    const journal = windback.openJournal(bank.dir);
    try {
      const result = await windback.replaySession(journal, bank.transfer.session);
      const cli = replay(['run', String(bank.transfer.session), '--json', '-j', bank.dir]);
      expect({ session: result.session, equal: result.equal, steps: result.steps, divergence: result.divergence, divergences: result.divergences }).toEqual(cli.json);
      expect(result.equal).toBe(true);
    } finally {
      journal.close();
    }
  });

  it('steps through a session forward and back, each move re-executed, as replay show numbers the steps', async () => {
    const journal = windback.openJournal(bank.dir);
    const stepper = windback.Stepper.open(journal, bank.transfer.session);
    try {
      const show = replay(['show', String(bank.transfer.session), '--json', '-j', bank.dir]).json as { index: number; kind: string }[];
      expect(stepper.steps.map((s) => [s.index, s.kind])).toEqual(show.map((s) => [s.index, s.kind]));
      const tx = stepper.steps.find((s) => s.kind === 'write-tx')!.index;
      const at = await stepper.goto(tx);
      expect(at).toMatchObject({ index: tx, verdict: 'equal' });
      expect(at.ran).not.toBeNull();
      expect((await stepper.next()).index).toBe(tx + 1);
      expect((await stepper.back()).index).toBe(tx);
      await expect(stepper.goto(show.length)).rejects.toThrow(`step ${show.length} is out of range`);
    } finally {
      stepper.close();
      journal.close();
    }
  });
});

describe("the package's recording API", () => {
  it('startServer records sessions as replay record does (docs/server.md)', async () => {
    const dir = tmp('record');
    const journal = path.join(dir, 'journal');
    const server = await windback.startServer(writeApp(dir, 'app.ts', SAVE_KINDS), { journal, durability: 'batch', port: 0, log: () => {} });
    try {
      const r = await fetch(`${server.url}/save`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ v: 'x' }) });
      expect(r.status).toBe(200);
      expect(r.headers.get('windback-session')).toBe('1');
    } finally {
      await server.close();
    }
    expect(replay(['run', '1', '--json', '-j', journal]).json).toMatchObject({ session: 1, equal: true });
  });
});
