import { parentPort, workerData } from 'node:worker_threads';
import { verifyHere } from './verify.js';

// One `replay verify --jobs N` worker: replays its share and posts the verdicts.
const { options, ids } = workerData as { options: Parameters<typeof verifyHere>[0]; ids: { id: number; kind: string }[] };
verifyHere(options, ids).then(
  (verdicts) => parentPort!.postMessage({ verdicts }),
  (error: Error) => parentPort!.postMessage({ error: error.message }),
);
