import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadClient, RecorderProcess } from '../../scripts/load.js';
import { replay, tempDirs } from '../helpers/cli.js';
import { startRecording } from '../helpers/recording.js';

// An app's own routes: a path, or a method and a path ('GET /items'), to a
// kind by name or as { kind, method }; a path may have a route per method.
// The method in a key used to be dropped (such a route answered POST, and GET
// got 405), and two keys for one path replaced each other silently. The input
// of a GET, HEAD or DELETE route is its query string.

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
    expect([get.status, JSON.parse(get.body.toString())]).toEqual([200, { list: {} }]);
    const post = await client.request('POST', '/items', '{}');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET');
    const put = await client.request('PUT', '/items/one', '{"n":1}');
    expect([put.status, JSON.parse(put.body.toString())]).toEqual([200, { add: { n: 1 } }]);
    const plain = await client.request('POST', '/items/new', '{"n":2}');
    expect([plain.status, JSON.parse(plain.body.toString())]).toEqual([200, { add: { n: 2 } }]);
  });
});

describe('the input of a GET or DELETE route', () => {
  let server: RecorderProcess;
  let client: LoadClient;
  let journal: string;

  beforeAll(async () => {
    const dir = tmp();
    ({ server, client, journal } = await startRecording(app(dir, `{ 'GET /items': 'list', 'DELETE /items': 'add' }`), tmp()));
  });

  afterAll(async () => {
    client?.close();
    await server?.stop();
  });

  it('is its query string: each name to its value, or its values in order when it repeats', async () => {
    const get = await client.request('GET', '/items?q=red%20shoes&tag=a&tag=b&empty=');
    expect([get.status, JSON.parse(get.body.toString())]).toEqual([200, { list: { q: 'red shoes', tag: ['a', 'b'], empty: '' } }]);
    const del = await client.request('DELETE', '/items?id=7');
    expect([del.status, JSON.parse(del.body.toString())]).toEqual([200, { add: { id: '7' } }]);
    // One path, a route per method: another method is a 405 naming both.
    const post = await client.request('POST', '/items', '{}');
    expect([post.status, post.headers.allow]).toEqual([405, 'GET, DELETE']);
  });

  it('refuses a body, and a name the journal cannot hold, with a 400 and nothing journaled', async () => {
    const withBody = await client.request('GET', '/items', '{"q":1}');
    expect([withBody.status, JSON.parse(withBody.body.toString()).error.message]).toEqual([400, 'a GET request takes its input from the query string, not a body']);
    const proto = await client.request('GET', '/items?__proto__=x');
    expect(proto.status).toBe(400);
    expect(JSON.parse(proto.body.toString()).error.message).toMatch(/^input not accepted: query\.__proto__: a key "__proto__" is not allowed/);
    expect(proto.session).toBeNull();
  });

  it('is journaled as the session\'s input, and replays equal', async () => {
    expect((await server.stop()).code).toBe(0);
    const sessions = replay(['sessions', '--json', '-j', journal]).json as { id: number }[];
    expect(sessions).toHaveLength(2);
    const verify = replay(['verify', '--json', '-j', journal]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });
});

describe('routes that contradict each other', () => {
  it.each([
    [`{ 'GET /items': 'list', 'get /items': 'add' }`, `routes["get /items"] serves GET /items, as routes["GET /items"] does; one route per method and path`],
    [`{ 'GET /items': { kind: 'list', method: 'POST' } }`, `routes["GET /items"] says GET in its path and POST in its method; give it once`],
    [`{ '/rpc': 'add' }`, `routes["/rpc"] claims /rpc, which the server keeps for JSON-RPC; choose another path`],
    [`{ 'GET /_windback/items': 'list' }`, `routes["GET /_windback/items"] claims /_windback/items, which the server keeps for itself; choose another path`],
  ])('%s: replay record refuses the app, exit 2, one line', (routes, message) => {
    const dir = tmp();
    const file = app(dir, routes);
    const r = replay(['record', file, '--port', '0', '--journal', path.join(dir, 'journal')], { timeoutMs: 20_000 });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim()).toBe(`replay: the app in ${file} does not load: ${message}`);
  });
});
