import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

// Long sessions for the stepping benchmarks: one `walk` request to
// fixtures/apps/rounds (3 + extra + 6 * rounds records), recorded by a
// recording server started in this process.

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

type StartServer = (app: string, options: { journal: string; durability: 'none'; log: () => void }) => Promise<{ url: string; close(): Promise<void> }>;

/** Record one `walk` session into `dir` with `startServer` (from src/ or dist/). */
export async function recordRoundsSession(startServer: StartServer, dir: string, rounds: number, extra: number): Promise<void> {
  const server = await startServer(path.join(root, 'fixtures', 'apps', 'rounds', 'app.ts'), { journal: dir, durability: 'none', log: () => {} });
  try {
    const body = Buffer.from(JSON.stringify({ rounds, extra }));
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(new URL('/walk', server.url), { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(body.length) } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(body);
    });
    if (status !== 200) throw new Error(`the walk request answered ${status}`);
  } finally {
    await server.close();
  }
}
