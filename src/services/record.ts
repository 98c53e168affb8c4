import { startServer, type RunningServer, type ServerOptions } from '../runtime/server.js';

// `replay record`: serve an app over HTTP and journal every session.

export type RecordOptions = ServerOptions & { app: string };

export function record(options: RecordOptions): Promise<RunningServer> {
  const { app, ...server } = options;
  return startServer(app, server);
}

export type { RunningServer };
