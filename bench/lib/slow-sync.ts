import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

// Environment for a server process on a modelled slow disk: bench/lib/slow-sync.c
// built into a shared object and preloaded (Linux, with a C compiler: cc or gcc).

const SOURCE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'slow-sync.c');

/** Build the shim into `dir`; the environment that makes every fsync/fdatasync `delayUs` slower. */
export function slowSyncEnv(dir: string, delayUs: number): Record<string, string> {
  const lib = path.join(dir, 'slow-sync.so');
  if (!fs.existsSync(lib)) {
    const compiler = ['cc', 'gcc'].find((c) => {
      try {
        execFileSync(c, ['--version'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    });
    if (compiler === undefined) throw new Error('--slow-sync-us needs a C compiler (apt-get install -y gcc)');
    execFileSync(compiler, ['-shared', '-fPIC', '-O2', '-o', lib, SOURCE, '-ldl']);
  }
  return { LD_PRELOAD: lib, WINDBACK_SLOW_SYNC_US: String(delayUs) };
}
