import { parentPort, workerData } from 'node:worker_threads';
import { isWindbackError } from '../model/errors.js';
import { verifyHere, type WorkerFailure } from './verify.js';

// One `replay verify --jobs N` worker: replays its share and posts the verdicts,
// or its error with the kind (code and exit code) the main thread re-raises.
const { options, ids } = workerData as { options: Parameters<typeof verifyHere>[0]; ids: { id: number; kind: string }[] };
verifyHere(options, ids).then(
  (verdicts) => parentPort!.postMessage({ verdicts }),
  (error: unknown) => {
    const failure: WorkerFailure = {
      message: error instanceof Error ? error.message : String(error),
      stack: error instanceof Error ? (error.stack ?? null) : null,
      code: isWindbackError(error) ? error.code : null,
      exitCode: isWindbackError(error) ? error.exitCode : null,
    };
    parentPort!.postMessage({ error: failure });
  },
);
