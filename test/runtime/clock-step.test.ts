import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BANK_APP, LoadClient, ROOT, spawnRecorder, type RecorderProcess } from '../../scripts/load.js';
import { replay, tempDirs } from '../helpers/cli.js';

// The wall clock may step back under a running recorder (an NTP correction, a
// VM resumed from suspend). Transactions keep their journal order in time:
// one committed after another never carries an earlier time, so that
// `replay wind --at` names one transaction, the last committed by then.

const CLOCK_STEP = path.join(ROOT, 'test', 'helpers', 'clock-step.mjs');
const tmp = tempDirs('windback-clock-step');
let recorder: RecorderProcess | null = null;

afterEach(async () => {
  await recorder?.kill('SIGKILL');
  recorder = null;
});

function commitTime(journal: string, tx: number): string {
  const wind = replay(['wind', '--tx', String(tx), '-j', journal, '--json']);
  expect(wind.code, wind.stderr).toBe(0);
  return (wind.json as { at: string }).at;
}

describe('a wall clock stepped back under the recorder', () => {
  it('commit times never go back, and wind --at finds the last transaction committed by then', { timeout: 60_000 }, async () => {
    const journal = tmp();
    recorder = await spawnRecorder(BANK_APP, {
      journal,
      config: { fraudUrl: 'http://127.0.0.1:1' },
      args: ['--durability', 'none'],
      env: { NODE_OPTIONS: `--import=${CLOCK_STEP}` },
    });
    const client = new LoadClient(recorder.url);
    const opened = await client.json('/open', { owner: 'ada', initial: 100 });
    const account = (opened.value as { id: string }).id;
    for (let i = 0; i < 3; i++) expect((await client.json('/deposit', { account, amount: 1 })).status).toBe(200);
    recorder.child.kill('SIGUSR2');
    while (!recorder.stderr().includes('clock stepped back')) await new Promise((resolve) => setTimeout(resolve, 10));
    for (let i = 0; i < 3; i++) expect((await client.json('/deposit', { account, amount: 1 })).status).toBe(200);
    client.close();
    expect((await recorder.stop()).code).toBe(0);
    recorder = null;

    const info = replay(['info', '-j', journal, '--json']);
    const last = (info.json as { transactions: { last: number } }).transactions.last;
    // The migration, the account's opening, then three deposits before the step and three after.
    const times = Array.from({ length: last }, (_, i) => commitTime(journal, i + 1));
    for (let i = 1; i < times.length; i++) expect(times[i] >= times[i - 1], `tx ${i + 1} at ${times[i]} after tx ${i} at ${times[i - 1]}`).toBe(true);
    // The deposits after the step kept the time of the last one before it.
    expect(times.slice(-4)).toEqual(new Array(4).fill(times.at(-4)));
    const wound = replay(['wind', '--at', times.at(-1)!, '-j', journal, '--json']);
    expect(wound.code, wound.stderr).toBe(0);
    expect((wound.json as { tx: number }).tx).toBe(last);
  });
});
