import { defineConfig } from 'vitest/config';

// Tests run the real binary (bin/replay.js over dist/), so `npm test` builds
// first. Forks, not threads: several suites spawn and SIGKILL child processes.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
