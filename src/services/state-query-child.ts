import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { failureOf } from './forwarded-error.js';
import { QUERY_PHASE_FD, QUERYING, state, timerMs, type StateChildMessage, type StateOptions } from './state.js';

// The child process of `replay state --sql` (queryState in state.ts): it
// rebuilds the state and runs the query, and the CLI kills it once the query
// has run for --timeout seconds. Right before the query it says so on fd 3,
// with a synchronous write (the main thread may not come back to its event
// loop before the query ends), and starts a watchdog thread that kills this
// process a little after the timeout: should the CLI itself be killed, the
// query does not run on forever.

const GRACE_SECONDS = 5;

process.once('message', (message: { options: StateOptions; timeout: number }) => {
  let watchdog: Worker | null = null;
  let reply: StateChildMessage;
  try {
    const result = state(message.options, {
      beforeQuery: () => {
        watchdog = new Worker(`setTimeout(() => process.kill(process.pid, 'SIGKILL'), ${timerMs(message.timeout + GRACE_SECONDS)});`, { eval: true });
        watchdog.unref();
        fs.writeSync(QUERY_PHASE_FD, QUERYING);
      },
    });
    reply = { result };
  } catch (error) {
    reply = { error: failureOf(error) };
  }
  void (watchdog as Worker | null)?.terminate();
  process.send!(reply, () => process.disconnect());
});
