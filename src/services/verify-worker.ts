import { parentPort, workerData } from 'node:worker_threads';
import { failureOf } from './forwarded-error.js';
import { verifyHere } from './verify.js';

// One `replay verify --jobs N` worker: replays its share and posts the verdicts,
// or its error with the kind (code and exit code) the main thread re-raises.
const { options, ids } = workerData as { options: Parameters<typeof verifyHere>[0]; ids: { id: number; kind: string }[] };
verifyHere(options, ids).then(
  (verdicts) => parentPort!.postMessage({ verdicts }),
  (error: unknown) => parentPort!.postMessage({ error: failureOf(error) }),
);
