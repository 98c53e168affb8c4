// `npm run demo`: the main job on the embedded default. Until the recording
// runtime lands, it writes a realistic synthetic journal through the real
// writer, then shows `replay info` and `replay wind` on it with the binary.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSyntheticJournal } from './synthetic-journal.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const journal = path.resolve(process.env.REPLAY_JOURNAL ?? '.windback');
const bin = path.join(root, 'bin', 'replay.js');

function replay(args: string[], quiet = false): string {
  const shown = `replay ${args.join(' ')}`;
  if (!quiet) console.log(`\n\x1b[1m$ ${shown}\x1b[0m`);
  const result = spawnSync(process.execPath, [bin, ...args, '--journal', journal], {
    encoding: 'utf8',
    env: { ...process.env, FORCE_COLOR: process.stdout.isTTY ? '1' : '0' },
  });
  if (!quiet) process.stdout.write(result.stdout);
  if (result.status !== 0) {
    process.stderr.write(result.stderr);
    throw new Error(`${shown} exited ${result.status}`);
  }
  return result.stdout;
}

fs.rmSync(journal, { recursive: true, force: true });
console.log(`Writing a demo journal to ${journal} ...`);
const started = performance.now();
await writeSyntheticJournal(journal, { sessions: 5_000, seed: 4812, durability: 'batch' });
console.log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);

replay(['info']);
const info = JSON.parse(replay(['info', '--json'], true)) as { transactions: { first: number; last: number } };
const tx = Math.floor((info.transactions.first + info.transactions.last) / 2);
replay(['wind', '--tx', String(tx)]);

console.log(`
Next, try:
  npx replay sessions --status error --limit 10
  npx replay wind --tx ${tx} --json
  npx replay info --json
`);
