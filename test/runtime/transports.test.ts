import { spawnSync } from 'node:child_process';
import * as http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStub, type RunningStub } from '../../fixtures/apps/bank/stub.js';
import { BANK_APP, LoadClient, runReplay, spawnRecorder, xmlRpcRequest, type RecorderProcess } from '../../scripts/load.js';
import { tempDirs } from '../helpers/cli.js';
import { expectJournaled, readJournal } from './journal-view.js';

// The three transports of `replay record`, end to end: the real binary as a
// child process, real HTTP clients (Python's xmlrpc.client for XML-RPC), and
// the journal on disk read back: every session response a client receives
// carries a Windback-Session header and is journaled byte for byte.

const tmp = tempDirs('windback-runtime');
let stub: RunningStub;
let server: RecorderProcess;
let client: LoadClient;
let journal: string;
let alice: string;
let bob: string;
const MAX_BODY = 4096;

beforeAll(async () => {
  stub = await startStub(0);
  journal = tmp();
  server = await spawnRecorder(BANK_APP, { journal, config: { fraudUrl: stub.url }, args: ['--max-body', String(MAX_BODY)] });
  client = new LoadClient(server.url);
  alice = ((await client.json('/open', { owner: 'alice', initial: 50_000 })).value as { id: string }).id;
  bob = ((await client.json('/open', { owner: 'bob', initial: 1_000 })).value as { id: string }).id;
});

afterAll(async () => {
  client?.close();
  const exit = await server?.stop();
  await stub?.close();
  expect(exit?.code, `replay record exits 0 after SIGTERM; stderr:\n${server?.stderr()}`).toBe(0);
});

describe('JSON routes (POST /<kind>)', () => {
  it('answers a session with its output, a Windback-Session header, and the journaled bytes', async () => {
    const r = await client.json('/transfer', { from: alice, to: bob, amount: 2_500 });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.value).toMatchObject({ from: alice, to: bob, amount: 2_500, balance: 47_500 });
    const session = expectJournaled(readJournal(journal), r);
    expect(session.start).toMatchObject({ sessionKind: 'transfer', route: '/transfer', transport: 'json', input: { from: alice, to: bob, amount: 2_500 } });
    expect(session.end?.record.status).toBe('ok');
  });

  it('answers a business error with its status and {error: {name, message}}, journaled too', async () => {
    const r = await client.json('/transfer', { from: bob, to: alice, amount: 100_000 });
    expect(r.status).toBe(409);
    expect(JSON.parse(r.body.toString())).toEqual({ error: { name: 'BusinessError', message: expect.stringMatching(/^insufficient funds in acc_/) } });
    const session = expectJournaled(readJournal(journal), r);
    expect(session.end?.record).toMatchObject({ status: 'error', error: { name: 'BusinessError' } });
  });
});

describe('JSON-RPC 2.0 (POST /rpc)', () => {
  it('returns {jsonrpc, result, id} and echoes the id', async () => {
    const r = await client.rpc('balance', { account: bob }, { id: 'req-7' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body.toString())).toEqual({ jsonrpc: '2.0', result: { account: bob, owner: 'bob', balance: 3_500 }, id: 'req-7' });
    const session = expectJournaled(readJournal(journal), r);
    expect(session.start).toMatchObject({ sessionKind: 'balance', route: '/rpc', transport: 'json-rpc' });
  });

  it('returns a business error as {jsonrpc, error: {code, message, data}, id}', async () => {
    const r = await client.rpc('deposit', { account: 'acc_missing', amount: 5 }, { id: 9 });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body.toString())).toEqual({
      jsonrpc: '2.0',
      error: { code: -32000, message: 'no account acc_missing', data: { name: 'BusinessError', message: 'no account acc_missing' } },
      id: 9,
    });
    expectJournaled(readJournal(journal), r);
  });

  it('answers an unknown method with 404 and -32601, a malformed body with 400 and -32700, and starts no session', async () => {
    const before = readJournal(journal).sessions.size;
    const unknown = await client.rpc('launchRockets', {}, { id: 3 });
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body.toString())).toMatchObject({ jsonrpc: '2.0', error: { code: -32601, message: expect.stringContaining('launchRockets') }, id: 3 });
    const malformed = await client.request('POST', '/rpc', '{"jsonrpc": "2.0", "method": ', { 'content-type': 'application/json' });
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.body.toString())).toMatchObject({ jsonrpc: '2.0', error: { code: -32700 }, id: null });
    const invalid = await client.request('POST', '/rpc', '{"method": "balance"}');
    expect(invalid.status).toBe(400);
    expect(JSON.parse(invalid.body.toString())).toMatchObject({ error: { code: -32600 } });
    expect([unknown.session, malformed.session, invalid.session]).toEqual([null, null, null]);
    expect(readJournal(journal).sessions.size).toBe(before);
  });
});

describe('XML-RPC (POST /RPC2) from Python xmlrpc.client', () => {
  const PYTHON = String.raw`
import json, sys, xmlrpc.client

class Capturing(xmlrpc.client.Transport):
    captured = []
    def parse_response(self, response):
        body = response.read()
        self.captured.append({'status': response.status, 'session': response.getheader('Windback-Session'), 'body': body.decode('utf-8')})
        parser, unmarshaller = self.getparser()
        parser.feed(body)
        parser.close()
        return unmarshaller.close()

url, account = sys.argv[1], sys.argv[2]
transport = Capturing()
proxy = xmlrpc.client.ServerProxy(url + '/RPC2', transport=transport, allow_none=True)
out = {'methods': proxy.system.listMethods(), 'balance': proxy.balance({'account': account})}
out['opened'] = proxy.open({'owner': 'py', 'initial': 700})
try:
    proxy.transfer({'from': account, 'to': 'acc_missing', 'amount': 10})
    out['fault'] = None
except xmlrpc.client.Fault as fault:
    out['fault'] = {'code': fault.faultCode, 'string': fault.faultString}
try:
    proxy.launchRockets()
    out['unknown'] = None
except xmlrpc.client.ProtocolError as error:
    out['unknown'] = error.errcode
out['captured'] = transport.captured
print(json.dumps(out))
`;

  it('lists methods, returns a struct, and turns a business error into a Fault; every session response is journaled', () => {
    const run = spawnSync('python3', ['-c', PYTHON, server.url, alice], { encoding: 'utf8', timeout: 30_000 });
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as {
      methods: string[];
      balance: Record<string, unknown>;
      opened: Record<string, unknown>;
      fault: { code: number; string: string } | null;
      unknown: number | null;
      captured: { status: number; session: string | null; body: string }[];
    };
    expect(out.methods).toEqual(['system.listMethods', 'open', 'deposit', 'transfer', 'balance', 'statement']);
    expect(out.balance).toEqual({ account: alice, owner: 'alice', balance: 47_500 });
    expect(out.opened).toMatchObject({ owner: 'py', balance: 700, id: expect.stringMatching(/^acc_/) });
    expect(out.fault).toEqual({ code: 404, string: 'unknown account acc_missing' });
    expect(out.unknown).toBe(404);

    // listMethods is not a session; the three calls are, and their bytes are journaled.
    const [methods, ...sessions] = out.captured;
    expect(methods.session).toBeNull();
    expect(sessions).toHaveLength(3);
    const view = readJournal(journal);
    for (const c of sessions) {
      expect(c.status).toBe(200);
      const session = expectJournaled(view, { status: c.status, headers: {}, body: Buffer.from(c.body, 'utf8'), session: c.session === null ? null : Number(c.session) });
      expect(session.start.transport).toBe('xml-rpc');
      expect(session.start.route).toBe('/RPC2');
    }
    expect(view.sessions.get(Number(sessions[2].session))!.start).toMatchObject({ sessionKind: 'transfer', input: { from: alice, to: 'acc_missing', amount: 10 } });
  });

  it('answers malformed XML with a 400 fault and starts no session', async () => {
    const before = readJournal(journal).sessions.size;
    const r = await client.request('POST', '/RPC2', '<methodCall><methodName>balance</methodName><params><param><value><int>x</int></value></param></params></methodCall>');
    expect(r.status).toBe(400);
    expect(r.body.toString()).toContain('<fault>');
    const wrong = await client.request('POST', '/RPC2', xmlRpcRequest('launchRockets', []));
    expect(wrong.status).toBe(404);
    expect(readJournal(journal).sessions.size).toBe(before);
  });
});

describe('bad requests', () => {
  it('400 malformed JSON, 404 unknown route, 405 wrong method, 413 oversized body (declared or chunked); the server stays up and the journal consistent', async () => {
    const before = readJournal(journal).sessions.size;
    const malformed = await client.request('POST', '/deposit', '{"account": ', { 'content-type': 'application/json' });
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.body.toString()).error).toMatchObject({ name: 'BadRequest', message: expect.stringMatching(/^malformed JSON/) });

    const unknown = await client.request('POST', '/withdraw', '{}');
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body.toString()).error.message).toContain('/deposit');

    const wrongMethod = await client.request('GET', '/balance');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.allow).toBe('POST');

    const big = JSON.stringify({ owner: 'x'.repeat(MAX_BODY * 2) });
    const declared = await client.request('POST', '/open', big, { 'content-type': 'application/json' });
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.body.toString()).error.name).toBe('PayloadTooLarge');
    const chunked = await chunkedPost(server.url, '/open', big);
    expect(chunked.status).toBe(413);

    for (const r of [malformed, unknown, wrongMethod, declared]) expect(r.session).toBeNull();
    expect(readJournal(journal).sessions.size).toBe(before);

    // Still serving, and the journal verifies.
    const after = await client.json('/balance', { account: alice });
    expect(after.status).toBe(200);
    expectJournaled(readJournal(journal), after);
    const info = await runReplay(['info', '--json', '--journal', journal]);
    expect(info.code, info.stderr).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({ integrity: 'ok', openSessions: 0 });
  });
});

describe('secrets', () => {
  const SECRET_HEADERS = { authorization: 'Bearer s3cr3t', cookie: 'sid=abc123', 'x-request-id': 'trace-1' };

  it('keeps Authorization and Cookie out of the session-start meta', async () => {
    const r = await client.json('/balance', { account: alice }, { headers: SECRET_HEADERS });
    expect(r.status).toBe(200);
    const { start } = expectJournaled(readJournal(journal), r);
    expect(start.meta['x-request-id']).toBe('trace-1');
    expect(start.meta).not.toHaveProperty('authorization');
    expect(start.meta).not.toHaveProperty('cookie');
    expect(JSON.stringify(start.meta)).not.toMatch(/s3cr3t|abc123/);
  });

  it('journals them under --journal-secrets', async () => {
    const dir = tmp('secrets');
    const other = await spawnRecorder(BANK_APP, { journal: dir, config: { fraudUrl: stub.url }, args: ['--journal-secrets'] });
    const c = new LoadClient(other.url);
    try {
      const r = await c.json('/open', { owner: 'carol' }, { headers: SECRET_HEADERS });
      expect(r.status).toBe(200);
      const { start } = expectJournaled(readJournal(dir), r);
      expect(start.meta).toMatchObject({ authorization: 'Bearer s3cr3t', cookie: 'sid=abc123', 'x-request-id': 'trace-1' });
    } finally {
      c.close();
      expect((await other.stop()).code).toBe(0);
    }
  });
});

/** A POST with Transfer-Encoding: chunked (no Content-Length), so the limit is enforced while reading. */
function chunkedPost(base: string, pathname: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(pathname, base), { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    for (let i = 0; i < body.length; i += 1024) req.write(body.slice(i, i + 1024));
    req.end();
  });
}
