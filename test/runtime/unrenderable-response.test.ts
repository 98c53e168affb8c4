import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadClient, RecorderProcess } from '../../scripts/load.js';
import { replay, tempDirs } from '../helpers/cli.js';
import { startRecording } from '../helpers/recording.js';
import { writeApp } from '../helpers/temp-app.js';
import { expectJournaled, readJournal } from './journal-view.js';

// A handler's outcome that cannot be rendered in its transport's format (a
// return value with a cycle, an error whose `body` has one, a toJSON that
// throws) fails its session with ResponseNotRenderableError: a 500, journaled
// with its session's end. It used to escape the runtime as an internal
// error, with a stack on stderr, and leave the session open in the journal,
// so that every later start resumed it and failed again.

const KINDS = `
    async cyclic(input: unknown, ctx) {
      await ctx.tx((db) => db.run("INSERT INTO t (v) VALUES ('cyclic')"));
      const order: any = { id: 1 };
      order.self = order;
      return order;
    },
    async cyclicBody() {
      const body: any = { field: 'qty' };
      body.again = body;
      throw Object.assign(new Error('bad qty'), { status: 400, body });
    },
    async throwingToJson() {
      return { when: { toJSON() { throw new RangeError('no date yet'); } } };
    },
    async fine() {
      return { ok: true };
    },`;

const tmp = tempDirs('windback-unrenderable');
let dir: string;
let server: RecorderProcess;
let client: LoadClient;
let journal: string;

beforeAll(async () => {
  dir = tmp();
  ({ server, client, journal } = await startRecording(writeApp(dir, 'app.ts', KINDS), tmp()));
});

afterAll(async () => {
  client?.close();
  await server?.stop();
});

const JSON_500 = { error: { name: 'InternalError', message: 'the session failed; its error is in the journal' } };

describe('a handler outcome the transport cannot render', () => {
  it.each([
    ['cyclic', 'the response cannot be rendered: its value is circular'],
    ['cyclicBody', 'the response cannot be rendered: its value is circular'],
    ['throwingToJson', 'the response cannot be rendered: RangeError: no date yet'],
  ])('%s: a 500 over a JSON route, the session ended with the reason', async (kind, message) => {
    const r = await client.json(`/${kind}`, {});
    expect(r.status, r.body.toString()).toBe(500);
    expect(JSON.parse(r.body.toString())).toEqual(JSON_500);
    const session = expectJournaled(readJournal(journal), r);
    expect(session.end?.record.status).toBe('error');
    expect(session.end?.record.error).toMatchObject({ name: 'ResponseNotRenderableError' });
    expect(session.end!.record.error!.message.startsWith(message), session.end!.record.error!.message).toBe(true);
  });

  it('is a JSON-RPC error and an XML-RPC fault (a cycle in XML-RPC too), and the server goes on', async () => {
    const rpc = await client.rpc('cyclic', {});
    expect(rpc.status).toBe(200);
    expect(rpc.error).toEqual({ code: -32603, message: 'the session failed; its error is in the journal' });
    const xml = await client.xmlRpc('cyclic', [{}]);
    expect(xml.error).toEqual({ code: 500, message: 'the session failed; its error is in the journal' });
    const view = readJournal(journal);
    expect(expectJournaled(view, xml).end!.record.error!.message).toBe(
      'the response cannot be rendered: its value is circular',
    );
    expect((await client.json('/fine', {})).value).toEqual({ ok: true });
    expect(server.stderr()).not.toMatch(/internal error|Converting circular/);
  });

  it('leaves no session open, and every session replays equal', async () => {
    expect((await server.stop()).code).toBe(0);
    const open = replay(['sessions', '--status', 'open', '--json', '-j', journal]);
    expect(open.json).toEqual([]);
    const verify = replay(['verify', '--json', '-j', journal]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.json).toMatchObject({ sessions: 6, diverged: 0 });
  });
});
