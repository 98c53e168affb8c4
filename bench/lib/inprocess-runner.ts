import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JournalWriter } from '../../src/journal/index.js';
import type { Durability } from '../../src/model/records.js';
import type { LiveStore } from '../../src/runtime/live-store.js';
import type { SessionRequest, SessionResult, SessionRunner } from '../../src/runtime/sessions.js';

// The recording runtime without HTTP: what startServer() (src/runtime/server.ts)
// sets up for a fresh journal (writer, catalog, app, live database,
// migrations, SessionRunner), so that a benchmark can push sessions through
// SessionRunner.run() directly and time what Windback adds to a handler.
//
// It loads the compiled code in dist/ (what `replay record` runs), not src/
// through tsx: tsx compiles with esbuild's keepNames, which wraps every
// closure the executor creates per session in a __name() call and would
// inflate the figure by several percent.

const dist = path.join(path.dirname(path.dirname(path.dirname(fileURLToPath(import.meta.url)))), 'dist');

export interface InProcessRuntime {
  runner: SessionRunner;
  writer: JournalWriter;
  store: LiveStore;
  run(request: SessionRequest): Promise<SessionResult>;
  close(): Promise<void>;
}

async function load<T>(relative: string, from = dist): Promise<T> {
  const file = path.join(from, relative);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run npm run build (npm run bench does)`);
  return (await import(file)) as T;
}

export async function startInProcessRuntime(
  appEntry: string,
  journal: string,
  options: {
    durability: Durability;
    snapshotEvery?: number;
    config?: Record<string, unknown>;
    /** Another build of the sources (an A/B comparison of two versions); default dist/. */
    distDir?: string;
  },
): Promise<InProcessRuntime> {
  const from = options.distDir ?? dist;
  const { Catalog } = await load<typeof import('../../src/catalog/index.js')>('catalog/index.js', from);
  const { openJournalWriter } = await load<typeof import('../../src/journal/index.js')>('journal/index.js', from);
  const { loadApp } = await load<typeof import('../../src/runtime/app-host.js')>('runtime/app-host.js', from);
  const { LiveStore } = await load<typeof import('../../src/runtime/live-store.js')>('runtime/live-store.js', from);
  const { SessionRunner } = await load<typeof import('../../src/runtime/sessions.js')>('runtime/sessions.js', from);
  const journalDir = path.resolve(journal);
  const timeZone = 'UTC';
  const locale = 'en-US';
  const { writer } = await openJournalWriter(journalDir, { durability: options.durability });
  const catalog = Catalog.open(journalDir);
  const app = await loadApp(appEntry, { journalDir, timeZone, locale, config: options.config });
  const store = LiveStore.open({ journalDir, catalog, reader: catalog.reader, snapshotEvery: options.snapshotEvery ?? 1000, now: Date.now });
  store.attach(writer);
  store.migrate(app.migrations, new Set());
  await writer.flush();
  const keyPrefix = catalog.reader.layout.segments[0].header.journalId.toString('hex').slice(0, 8);
  catalog.close();
  const runner = new SessionRunner(
    app,
    writer,
    store,
    {
      call: () => Promise.reject(new Error('no external calls in this benchmark')),
      log: () => {},
    },
    { lastSessionId: 0, keyPrefix, timeZone, locale },
  );
  return {
    runner,
    writer,
    store,
    run: (request) => runner.run(request),
    async close() {
      await writer.close();
      store.close();
    },
  };
}
