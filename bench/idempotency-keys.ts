import { IdempotencyKeys, type EarlierKeyedSession } from '../src/runtime/idempotency-keys.js';
import { type BenchResult, benchOptions, collectGarbage, emit, log, median, nowMs, wanted } from './lib/common.js';

// What `replay record` pays at start for the Idempotency-Keys of earlier
// processes (src/runtime/idempotency-keys.ts): the time to load N keys into
// its table, and the heap they keep, per key. Rows come from a generator, as
// the catalog's iterator hands them over, so only the table is measured.

const options = benchOptions();
const KEYS = options.quick ? 100_000 : 1_000_000;
const LABEL_TIME = `load ${KEYS.toLocaleString('en-US')} earlier keys`;
const LABEL_HEAP = 'heap kept per earlier key (the key included)';

function* rows(n: number): Generator<EarlierKeyedSession> {
  for (let i = 1; i <= n; i++) {
    yield { id: i, idempotencyKey: `order-${i}-${(i * 7919) % 100_000}`, route: i % 2 ? '/deposit' : '/transfer', lastPosition: i * 700 };
  }
}

const results: BenchResult[] = [];
if (wanted(options, LABEL_TIME) || wanted(options, LABEL_HEAP)) {
  const millis: number[] = [];
  const perKey: number[] = [];
  let kept: IdempotencyKeys | null = null;
  for (let r = 0; r < options.runs; r++) {
    kept = null;
    collectGarbage();
    const before = process.memoryUsage().heapUsed;
    const t0 = nowMs();
    kept = new IdempotencyKeys(rows(KEYS));
    millis.push(nowMs() - t0);
    collectGarbage();
    perKey.push((process.memoryUsage().heapUsed - before) / KEYS);
    // Read after the measure, so that the table is alive through it.
    if (kept.get('order-5-39595')?.session !== 5) throw new Error('the table lost a key');
    log(`run ${r + 1}/${options.runs}  ${LABEL_TIME}: ${millis.at(-1)!.toFixed(0)} ms, ${perKey.at(-1)!.toFixed(0)} B a key`);
  }
  results.push({ label: LABEL_TIME, value: Math.round(median(millis)), unit: 'ms', runs: millis.map(Math.round) });
  results.push({ label: LABEL_HEAP, value: Math.round(median(perKey)), unit: 'B', runs: perKey.map(Math.round) });
}
emit({ name: 'idempotency-keys', results, meta: { keys: KEYS } });
