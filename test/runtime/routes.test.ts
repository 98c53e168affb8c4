import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadClient, RecorderProcess } from '../../scripts/load.js';
import { replay, tempDirs } from '../helpers/cli.js';
import { startRecording } from '../helpers/recording.js';

// An app's own routes: a path, or a method and a path ('GET /items'), to a
// kind by name or as { kind, method }. The method in a key used to be dropped
// (such a route answered POST, and GET got 405), and two keys for one path
// replaced each other silently.

const tmp = tempDirs('windback-routes');

function app(dir: string, routes: string): string {
  const file = path.join(dir, 'app.ts');
  fs.writeFileSync(
    file,
    `import { defineApp } from 'windback';\n` +
      `export default defineApp({\n  name: 'routes',\n  migrations: [],\n` +
      `  kinds: { list: async (input: unknown) => ({ list: input }), add: async (input: unknown) => ({ add: input }) },\n` +
      `  routes: ${routes},\n});\n`,
  );
  return file;
}

describe('routes with a method in their key', () => {
  let server: RecorderProcess;
  let client: LoadClient;

  beforeAll(async () => {
    const dir = tmp();
    ({ server, client } = await startRecording(app(dir, `{ 'GET /items': 'list', 'put /items/one': { kind: 'add' }, '/items/new': 'add' }`), tmp()));
  });

  afterAll(async () => {
    client?.close();
    await server?.stop();
  });

  it('serve that method, and answer another with 405 naming it', async () => {
    const get = await client.request('GET', '/items');
    expect([get.status, JSON.parse(get.body.toString())]).toEqual([200, { list: null }]);
    const post = await client.request('POST', '/items', '{}');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET');
    const put = await client.request('PUT', '/items/one', '{"n":1}');
    expect([put.status, JSON.parse(put.body.toString())]).toEqual([200, { add: { n: 1 } }]);
    const plain = await client.request('POST', '/items/new', '{"n":2}');
    expect([plain.status, JSON.parse(plain.body.toString())]).toEqual([200, { add: { n: 2 } }]);
  });
});

describe('routes that contradict each other', () => {
  it.each([
    [`{ 'GET /items': 'list', '/items': 'add' }`, `routes["/items"] serves /items, as routes["GET /items"] does; a path is served by one route, with one method`],
    [`{ 'GET /items': { kind: 'list', method: 'POST' } }`, `routes["GET /items"] says GET in its path and POST in its method; give it once`],
  ])('%s: replay record refuses the app, exit 2, one line', (routes, message) => {
    const dir = tmp();
    const file = app(dir, routes);
    const r = replay(['record', file, '--port', '0', '--journal', path.join(dir, 'journal')], { timeoutMs: 20_000 });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim()).toBe(`replay: the app in ${file} does not load: ${message}`);
  });
});
