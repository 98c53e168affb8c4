import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openJournalWriter } from '../../src/journal/index.js';
import { JournalLockedError } from '../../src/model/errors.js';
import { readAll, rejection, tempDirs, withoutCommits } from '../helpers/journal.js';
import { sigkill, spawnHelper } from '../helpers/spawn.js';

// One writer per journal (format section 1, LOCK): a second writer is refused
// with E_LOCKED (exit 74), in this process or another; a LOCK left by a
// process that was killed is taken over.

const tmp = tempDirs();

function expectLocked(error: unknown): void {
  expect(error).toBeInstanceOf(JournalLockedError);
  expect((error as JournalLockedError).exitCode).toBe(74);
  expect((error as JournalLockedError).code).toBe('E_LOCKED');
}

describe('the journal lock', () => {
  it('a second writer in the same process is refused until the first one closes', async () => {
    const dir = tmp('lock');
    const { writer } = await openJournalWriter(dir);
    const error = await rejection(openJournalWriter(dir));
    expectLocked(error);
    expect((error as JournalLockedError).path).toBe(path.join(dir, 'LOCK'));
    // The refused open changed nothing: the first writer still works.
    await writer.append({ kind: 'duplicate-request', at: 1, originalSession: 1, idempotencyKey: 'a', route: '/' }).durable;
    await writer.close();
    const again = await openJournalWriter(dir);
    await again.writer.close();
    expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false);
  });

  it('a writer in another process is refused while this process holds the journal', async () => {
    const dir = tmp('lock-child-try');
    const { writer } = await openJournalWriter(dir);
    const child = spawnHelper('lock-child.ts', [dir, 'try']);
    const line = await child.waitFor(/^\{/);
    await child.exited;
    const outcome = JSON.parse(line) as { ok: boolean; name: string; code: string; exitCode: number; message: string };
    expect(outcome).toMatchObject({ ok: false, name: 'JournalLockedError', code: 'E_LOCKED', exitCode: 74 });
    expect(outcome.message).toContain(`pid ${process.pid}`);
    await writer.close();
  });

  it('this process is refused while a writer in another process holds the journal, and takes over once it is SIGKILLed', async () => {
    const dir = tmp('lock-child-hold');
    const child = spawnHelper('lock-child.ts', [dir, 'hold']);
    const held = await child.waitFor(/^held /);
    const [, pid, position] = held.split(' ');
    const error = await rejection(openJournalWriter(dir));
    expectLocked(error);
    expect((error as Error).message).toContain(`pid ${pid} on ${os.hostname()}`);

    await sigkill(child);
    // The killed writer's LOCK is still there, naming a process that no longer exists.
    expect(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8').split('\n')[0]).toBe(pid);
    const { writer, recovery } = await openJournalWriter(dir);
    expect(recovery.created).toBe(false);
    expect(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8').split('\n')[0]).toBe(String(process.pid));
    await writer.close();
    // What the killed writer acknowledged is intact.
    const records = withoutCommits(readAll(dir).records);
    expect(records.map((r) => r.position)).toEqual([Number(position)]);
    expect(records[0].record).toMatchObject({ kind: 'duplicate-request', originalSession: Number(pid) });
  });

  it('a stale LOCK left by a killed process is taken over by another process too', async () => {
    const dir = tmp('lock-stale');
    const holder = spawnHelper('lock-child.ts', [dir, 'hold']);
    await holder.waitFor(/^held /);
    await sigkill(holder);
    const taker = spawnHelper('lock-child.ts', [dir, 'try']);
    const line = await taker.waitFor(/^\{/);
    await taker.exited;
    expect(JSON.parse(line)).toEqual({ ok: true });
  });

  it('processes racing to take over one stale LOCK: exactly one wins each time', async () => {
    // Before locks were broken by rename, two contenders that both read the
    // stale LOCK could both remove one and both win (4 rounds in 10 here).
    for (let round = 0; round < 4; round++) {
      const dir = tmp(`lock-race-${round}`);
      fs.mkdirSync(dir, { recursive: true });
      const dead = spawnHelper('lock-child.ts', [dir, 'hold']);
      const [, pid] = (await dead.waitFor(/^held /)).split(' ');
      await sigkill(dead);
      expect(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8').split('\n')[0]).toBe(pid);
      const at = String(Date.now() + 1_500);
      const contenders = Array.from({ length: 4 }, () => spawnHelper('lock-child.ts', [dir, 'race', at]));
      const outcomes = await Promise.all(contenders.map((c) => c.waitFor(/^(won|lost)$/)));
      fs.writeFileSync(path.join(dir, 'release'), '');
      expect((await Promise.all(contenders.map((c) => c.exited))).map((e) => e.code)).toEqual([0, 0, 0, 0]);
      expect(outcomes.filter((o) => o === 'won'), `round ${round}: ${outcomes.join(', ')}`).toHaveLength(1);
    }
  });

  it('a LOCK naming a live process on this host is not taken over', async () => {
    const dir = tmp('lock-live');
    fs.mkdirSync(dir, { recursive: true });
    // The parent of this test process is alive for the whole test.
    fs.writeFileSync(path.join(dir, 'LOCK'), `${process.ppid}\n${os.hostname()}\n`);
    expectLocked(await rejection(openJournalWriter(dir)));
    expect(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8')).toBe(`${process.ppid}\n${os.hostname()}\n`);
  });
});
