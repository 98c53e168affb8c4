import { describe, expect, it } from 'vitest';
import { Latest, type Outcome } from '../../src/tui/latest.js';

// One request at a time, the latest wish next, stale answers dropped: what
// keeps a held arrow key from queueing a re-execution per repeat.

function deferred<T>(): { promise: Promise<T>; resolve(value: T): void; reject(error: unknown): void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

function harness() {
  const runs: { key: number; answer: ReturnType<typeof deferred<string>> }[] = [];
  const delivered: [number, Outcome<string>][] = [];
  const latest = new Latest<number, string>(
    (key) => {
      const answer = deferred<string>();
      runs.push({ key, answer });
      return answer.promise;
    },
    (key, outcome) => delivered.push([key, outcome]),
  );
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { latest, runs, delivered, settle };
}

describe('Latest', () => {
  it('runs the first wish at once, and after it only the latest of those that came meanwhile', async () => {
    const { latest, runs, delivered, settle } = harness();
    latest.want(1);
    for (let k = 2; k <= 50; k++) latest.want(k);
    expect(runs.map((r) => r.key)).toEqual([1]);
    runs[0].answer.resolve('one');
    await settle();
    // 1's answer is stale (50 was asked since): dropped.
    expect(delivered).toEqual([]);
    expect(runs.map((r) => r.key)).toEqual([1, 50]);
    runs[1].answer.resolve('fifty');
    await settle();
    expect(delivered).toEqual([[50, { ok: true, value: 'fifty' }]]);
  });

  it('does not run again a key asked while it is the one running', async () => {
    const { latest, runs, delivered, settle } = harness();
    latest.want(1);
    latest.want(2);
    latest.want(1);
    runs[0].answer.resolve('one');
    await settle();
    expect(runs.map((r) => r.key)).toEqual([1]);
    expect(delivered).toEqual([[1, { ok: true, value: 'one' }]]);
  });

  it('delivers a failure as an outcome, and goes on with the next wish', async () => {
    const { latest, runs, delivered, settle } = harness();
    latest.want(3);
    runs[0].answer.reject(new Error('boom'));
    await settle();
    expect(delivered).toEqual([[3, { ok: false, error: new Error('boom') }]]);
    latest.want(4);
    expect(runs.map((r) => r.key)).toEqual([3, 4]);
  });

  it('delivers nothing once stopped', async () => {
    const { latest, runs, delivered, settle } = harness();
    latest.want(1);
    latest.stop();
    latest.want(2);
    runs[0].answer.resolve('one');
    await settle();
    expect(runs.map((r) => r.key)).toEqual([1]);
    expect(delivered).toEqual([]);
  });
});
