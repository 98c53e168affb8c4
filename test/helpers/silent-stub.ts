import { listenLocally } from './local-server.js';

// An HTTP callee that reads every request and never answers: what a hung
// dependency looks like to a session's fetch.

export interface SilentStub {
  /** http://127.0.0.1:<port>/hold */
  url: string;
  /** Requests whose body arrived so far. */
  readonly received: number;
  /** Resolves when the next request's body has arrived. */
  next(): Promise<void>;
  close(): Promise<void>;
}

export async function startSilentStub(): Promise<SilentStub> {
  const arrivals: (() => void)[] = [];
  let received = 0;
  const server = await listenLocally((req) => {
    req.resume();
    req.on('end', () => {
      received++;
      arrivals.shift()?.();
    });
  });
  return {
    url: `${server.url}/hold`,
    get received() {
      return received;
    },
    next: () => new Promise((resolve) => arrivals.push(resolve)),
    close: server.close,
  };
}
