// Preloaded into a recorder (NODE_OPTIONS=--import=<this file>): SIGUSR2 steps
// the wall clock back by CLOCK_STEP_BACK_MS (default one hour), as an NTP
// correction or a resumed VM does. performance.now() is left alone.
const step = Number(process.env.CLOCK_STEP_BACK_MS ?? 3_600_000);
const realNow = Date.now;
let offset = 0;
Date.now = () => realNow() - offset;
process.on('SIGUSR2', () => {
  offset += step;
  process.stderr.write(`clock stepped back by ${step} ms\n`);
});
