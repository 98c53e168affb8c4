import { LoadClient, spawnRecorder, type RecorderProcess } from '../../scripts/load.js';

// One `replay record` for a whole test file: the server, a keep-alive client
// on it, and its journal directory.

export interface Recording {
  server: RecorderProcess;
  client: LoadClient;
  journal: string;
}

/** Start `replay record <app>` into `journal` (flags in `args`), with a client on it. */
export async function startRecording(app: string, journal: string, args?: string[]): Promise<Recording> {
  const server = await spawnRecorder(app, { journal, args });
  return { server, client: new LoadClient(server.url), journal };
}
