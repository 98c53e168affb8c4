import { spawnSync } from 'node:child_process';
import * as http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStub, type RunningStub } from '../../fixtures/apps/bank/stub.js';
import * as path from 'node:path';
import { BANK_APP, LoadClient, parseXmlRpcResponse, ROOT, runReplay, spawnRecorder, xmlRpcRequest, type RecorderProcess } from '../../scripts/load.js';
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

  it('refuses what is not a valid Request object with -32600, a batch included, and starts no session', async () => {
    const before = readJournal(journal).sessions.size;
    const send = async (body: string): Promise<{ status: number; value: unknown; session: number | null }> => {
      const r = await client.request('POST', '/rpc', body, { 'content-type': 'application/json' });
      return { status: r.status, value: JSON.parse(r.body.toString()), session: r.session };
    };
    const call = (extra: string): string => `{"jsonrpc": "2.0", "method": "balance", ${extra}}`;
    const cases: [string, unknown, RegExp][] = [
      [call(`"params": 5, "id": 4`), 4, /^invalid request: "params" must be an array or an object, not number$/],
      [call(`"params": "acc", "id": 4`), 4, /"params" must be an array or an object, not string/],
      [call(`"params": null, "id": 4`), 4, /"params" must be an array or an object, not null/],
      // An invalid id is not echoed: the error's id is null.
      [call(`"params": {}, "id": {"x": 1}`), null, /^invalid request: "id" must be a string, a number or null$/],
      [call(`"params": {}, "id": [1]`), null, /"id" must be/],
      [call(`"params": {}, "id": true`), null, /"id" must be/],
      [`[${call(`"params": {}, "id": 1`)}]`, null, /^invalid request: batch requests are not supported; send one call per request$/],
      ['[]', null, /batch requests are not supported/],
      ['5', null, /^invalid request: expected/],
    ];
    for (const [body, id, message] of cases) {
      const r = await send(body);
      expect(r.status, body).toBe(400);
      expect(r.value, body).toEqual({ jsonrpc: '2.0', error: { code: -32600, message: expect.stringMatching(message) }, id });
      expect(r.session, body).toBeNull();
    }
    expect(readJournal(journal).sessions.size).toBe(before);
  });

  it('runs and journals a notification (no id), and answers it with 204 and no body; a failed or unknown one too', async () => {
    const before = readJournal(journal).sessions.size;
    const ok = await client.request('POST', '/rpc', JSON.stringify({ jsonrpc: '2.0', method: 'deposit', params: { account: bob, amount: 1 } }), {
      'content-type': 'application/json',
      // A client's header cannot make the session look like a call with an id.
      'windback-rpc-id': '5',
    });
    expect(ok.status).toBe(204);
    expect(ok.body.length).toBe(0);
    expect(ok.headers['content-length']).toBeUndefined();
    const failed = await client.request('POST', '/rpc', JSON.stringify({ jsonrpc: '2.0', method: 'deposit', params: { account: 'acc_missing', amount: 1 } }));
    expect(failed.status).toBe(204);
    expect(failed.body.length).toBe(0);
    const unknown = await client.request('POST', '/rpc', JSON.stringify({ jsonrpc: '2.0', method: 'launchRockets', params: {} }));
    expect(unknown).toMatchObject({ status: 204, session: null });
    expect(unknown.body.length).toBe(0);

    const view = readJournal(journal);
    expect(view.sessions.size).toBe(before + 2);
    for (const r of [ok, failed]) {
      const session = expectJournaled(view, r);
      expect(session.responses.map((x) => x.record.status)).toEqual([204]);
      expect(session.start.meta).not.toHaveProperty('windback-rpc-id');
    }
    expect(view.sessions.get(ok.session!)!.end?.record.status).toBe('ok');
    expect(view.sessions.get(failed.session!)!.end?.record.status).toBe('error');
    expect((await client.rpc('balance', { account: bob })).value).toMatchObject({ balance: 3_501 });
    // Replay renders the same 204 (the sessions are verified with the others at the end of this file).
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
except xmlrpc.client.Fault as fault:
    out['unknown'] = {'code': fault.faultCode, 'string': fault.faultString}
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
      unknown: { code: number; string: string } | null;
      captured: { status: number; session: string | null; body: string }[];
    };
    expect(out.methods).toEqual(['system.listMethods', 'open', 'deposit', 'transfer', 'balance', 'statement']);
    expect(out.balance).toEqual({ account: alice, owner: 'alice', balance: 47_500 });
    expect(out.opened).toMatchObject({ owner: 'py', balance: 700, id: expect.stringMatching(/^acc_/) });
    expect(out.fault).toEqual({ code: 404, string: 'unknown account acc_missing' });
    // An unknown method is a Fault (HTTP 200), not a ProtocolError.
    expect(out.unknown).toEqual({ code: -32601, string: expect.stringMatching(/^method not found: launchRockets; methods: system.listMethods, open, /) });

    // listMethods is not a session; the three calls are, and their bytes are journaled; the unknown method is not.
    const [methods, ...rest] = out.captured;
    const sessions = rest.slice(0, 3);
    expect(rest[3]).toMatchObject({ status: 200, session: null });
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

  it('answers a body that is no methodCall with a 400 fault, and an invalid value with a -32602 fault, and starts no session', async () => {
    const before = readJournal(journal).sessions.size;
    const malformed = await client.request('POST', '/RPC2', '<methodCall><methodName>balance</methodName><params>');
    expect(malformed.status).toBe(400);
    expect(malformed.body.toString()).toContain('<fault>');
    const notACall = await client.request('POST', '/RPC2', '<?xml version="1.0"?><methodResponse/>');
    expect(notACall.status).toBe(400);
    const param = (value: string): string => `<?xml version="1.0"?><methodCall><methodName>balance</methodName><params><param><value>${value}</value></param></params></methodCall>`;
    const invalid: [string, RegExp][] = [
      ['<int>x</int>', /^invalid params: params\[0\]: invalid <int> "x"$/],
      // i4/int are 32-bit: not silently a double.
      ['<int>99999999999</int>', /^invalid params: params\[0\]: <int> 99999999999 is out of range \(32-bit signed\)/],
      ['<i4>-2147483649</i4>', /<i4> -2147483649 is out of range/],
      ['<i8>9223372036854775808</i8>', /<i8> 9223372036854775808 is out of range \(64-bit signed\)/],
      ['<struct><member><name>a</name><value><base64>!!!notbase64</base64></value></member></struct>', /^invalid params: params\[0\]\["a"\]: invalid <base64>/],
      ['<base64>QUJD</base64><base64>QUJ</base64>', /invalid <base64>/],
      ['<dateTime.iso8601>garbage</dateTime.iso8601>', /invalid <dateTime.iso8601> "garbage"/],
      ['<dateTime.iso8601>20240230T10:00:00</dateTime.iso8601>', /invalid <dateTime.iso8601> "20240230T10:00:00"/],
      ['<double>NaN</double>', /invalid <double> "NaN"/],
      ['<array><data><value><frob>1</frob></value></data></array>', /params\[0\]\[0\]: unknown XML-RPC type <frob>/],
    ];
    for (const [value, message] of invalid) {
      const r = await client.request('POST', '/RPC2', param(value));
      expect(r.status, value).toBe(200);
      expect(r.session, value).toBeNull();
      const decoded = parseXmlRpcResponse(r.body.toString());
      expect(decoded, value).toMatchObject({ ok: false, fault: { faultCode: -32602, faultString: expect.stringMatching(message) } });
    }
    const wrong = await client.request('POST', '/RPC2', xmlRpcRequest('launchRockets', []));
    expect(wrong.status).toBe(200);
    expect(parseXmlRpcResponse(wrong.body.toString())).toMatchObject({ ok: false, fault: { faultCode: -32601 } });
    // Unknown URL paths are still 404.
    expect((await client.request('POST', '/RPC3', xmlRpcRequest('balance', []))).status).toBe(404);
    expect(readJournal(journal).sessions.size).toBe(before);
  });

  it('accepts the valid forms of those types', async () => {
    const param = (value: string): string => `<?xml version="1.0"?><methodCall><methodName>balance</methodName><params><param><value><struct><member><name>account</name><value>${alice}</value></member><member><name>x</name><value>${value}</value></member></struct></value></param></params></methodCall>`;
    for (const value of ['<int>-2147483648</int>', '<i4>2147483647</i4>', '<i8>-9223372036854775808</i8>', '<base64>QUJD\nRA==</base64>', '<base64></base64>', '<dateTime.iso8601>20240229T23:59:59</dateTime.iso8601>', '<dateTime.iso8601>2024-01-31T10:00:00Z</dateTime.iso8601>', '<double>-1.5e3</double>']) {
      const r = await client.request('POST', '/RPC2', param(value));
      expect(r.status, value).toBe(200);
      expect(parseXmlRpcResponse(r.body.toString()), value).toMatchObject({ ok: true, value: { account: alice } });
    }
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

describe('inputs the journal cannot represent faithfully', () => {
  // The echo app reports what its handler saw: `k` read through the input's
  // prototype, and whether `neg` was -0. The journal (format section 7) has no
  // key __proto__ and stores -0 as 0: the handler must see what a replay will.
  const ECHO_APP = path.join(ROOT, 'fixtures', 'apps', 'echo', 'app.ts');
  const PYTHON = String.raw`
import json, sys, xmlrpc.client
proxy = xmlrpc.client.ServerProxy(sys.argv[1] + '/RPC2', allow_none=True)
out = {}
for name, args in [('proto', [{'__proto__': {'k': 'a'}}]), ('nested', [{'a': [1, {'__proto__': {}}]}]), ('negzero', [{'neg': -0.0}]), ('negzeros', [-0.0, 1.5])]:
    try:
        out[name] = {'result': proxy.echo(*args)}
    except xmlrpc.client.Fault as fault:
        out[name] = {'fault': {'code': fault.faultCode, 'string': fault.faultString}}
print(json.dumps(out))
`;

  it('refuses a key __proto__ anywhere (400, -32602, a fault) naming its path, turns -0 into 0, and replay verify passes', async () => {
    const dir = tmp('edge');
    const echo = await spawnRecorder(ECHO_APP, { journal: dir });
    const c = new LoadClient(echo.url);
    try {
      const post = (pathname: string, body: string): Promise<{ status: number; value: unknown; session: number | null }> =>
        c.request('POST', pathname, body, { 'content-type': 'application/json' }).then((r) => ({ status: r.status, value: JSON.parse(r.body.toString()), session: r.session }));
      const proto = 'a key "__proto__" is not allowed (the journal cannot represent it)';

      // JSON routes.
      expect(await post('/echo', '{"a": {"__proto__": {"x": 1}}}')).toEqual({ status: 400, session: null, value: { error: { name: 'BadRequest', message: `input not accepted: body.a.__proto__: ${proto}` } } });
      // However spelled: the escape decodes to the same key.
      expect(await post('/echo', '[0, {"b c": {"\\u005f_proto__": 1}}]')).toMatchObject({ status: 400, value: { error: { message: `input not accepted: body[1]["b c"].__proto__: ${proto}` } } });
      expect(await post('/echo', '{"neg": -0, "list": [-0, -0.0, -1e-400]}')).toMatchObject({ status: 200, value: { input: { neg: 0, list: [0, 0, 0] }, negativeZero: false } });
      // A lone surrogate would come back from the journal as other characters.
      expect(await post('/echo', '{"s": "\\ud800"}')).toMatchObject({ status: 400, value: { error: { message: 'input not accepted: body.s: a string with a lone UTF-16 surrogate cannot be journaled (MessagePack strings are UTF-8)' } } });
      expect(await post('/echo', '{"s": "\\ud83d\\ude00"}')).toMatchObject({ status: 200, value: { input: { s: '\u{1F600}' } } });
      const deep = await post('/echo', '['.repeat(600) + ']'.repeat(600));
      expect(deep).toMatchObject({ status: 400, value: { error: { message: expect.stringMatching(/nested deeper than 512 levels$/) } } });

      // JSON-RPC.
      expect(await post('/rpc', '{"jsonrpc": "2.0", "id": 1, "method": "echo", "params": {"__proto__": {"x": 1}}}')).toEqual({
        status: 400,
        session: null,
        value: { jsonrpc: '2.0', error: { code: -32602, message: `invalid params: params.__proto__: ${proto}` }, id: 1 },
      });
      expect(await post('/rpc', '{"jsonrpc": "2.0", "id": 2, "method": "echo", "params": [-0]}')).toMatchObject({ status: 200, value: { result: { input: [0], negativeZero: false }, id: 2 } });

      // XML-RPC, from Python: a struct member __proto__ must not set the input's prototype.
      const run = spawnSync('python3', ['-c', PYTHON, echo.url], { encoding: 'utf8', timeout: 30_000 });
      expect(run.status, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toEqual({
        proto: { fault: { code: -32602, string: `invalid params: params[0].__proto__: ${proto}` } },
        nested: { fault: { code: -32602, string: `invalid params: params[0].a[1].__proto__: ${proto}` } },
        negzero: { result: { input: { neg: 0 }, k: null, negativeZero: false } },
        negzeros: { result: { input: [0, 1.5], k: null, negativeZero: false } },
      });
    } finally {
      c.close();
      expect((await echo.stop()).code).toBe(0);
    }
    // Four sessions ran (the -0 ones); each replays to the same response.
    const view = readJournal(dir);
    expect([...view.sessions.values()].map((s) => s.start.input)).toEqual([{ neg: 0, list: [0, 0, 0] }, { s: '\u{1F600}' }, [0], { neg: 0 }, [0, 1.5]]);
    const verify = await runReplay(['verify', '--journal', dir, '--json']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ diverged: 0 });
  });
});

describe('deeply nested requests and responses', () => {
  // Inputs may nest 512 levels on every transport, responses 1,024. Past
  // that, a request is refused before anything is journaled (a body 100,000
  // levels deep too: nothing may recurse per level on it), and a response is
  // replaced by a journaled 500: the server stays up, and every session ends.
  const ECHO_APP = path.join(ROOT, 'fixtures', 'apps', 'echo', 'app.ts');
  const DEEP = 100_000;
  const call = (inner: string): string => `<?xml version="1.0"?><methodCall><methodName>echo</methodName><params><param>${inner}</param></params></methodCall>`;
  const nestedXml = (levels: number): string => '<value><array><data>'.repeat(levels) + '<value><int>1</int></value>' + '</data></array></value>'.repeat(levels);
  const faultOf = (body: Buffer): { code: number; string: string } => {
    const text = body.toString('utf8');
    const code = /<name>faultCode<\/name><value><int>(-?\d+)<\/int>/.exec(text);
    const string = /<name>faultString<\/name><value><string>([^<]*)<\/string>/.exec(text);
    expect(code && string, `an XML-RPC fault: ${text.slice(0, 300)}`).toBeTruthy();
    return { code: Number(code![1]), string: string![1].replace(/&apos;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&') };
  };

  it(`refuses a request nested ${DEEP.toLocaleString('en-US')} levels deep on every transport with a one-line 400, and accepts a parameter 511 levels deep over XML-RPC`, async () => {
    const dir = tmp('deep');
    const echo = await spawnRecorder(ECHO_APP, { journal: dir, args: ['--max-body', String(8 << 20)] });
    const c = new LoadClient(echo.url);
    try {
      const xmlPost = (body: string) => c.request('POST', '/RPC2', body, { 'content-type': 'text/xml' });
      const tooDeep = (offset: number): string => `request not accepted: XML elements nested deeper than 1538 (at offset ${offset}): an XML-RPC value may nest at most 512 levels`;
      // The offset of the 1,539th element: after <methodCall><params><param>, 511 of <value><array><data>, and <value><array>, that <data>.
      const start = call('').indexOf('</param>');

      // XML-RPC: refused by a scan before the parser (which recursed per element) sees it.
      const deep = await xmlPost(call(nestedXml(DEEP)));
      expect(deep.status).toBe(400);
      expect(deep.session).toBeNull();
      expect(faultOf(deep.body)).toEqual({ code: 400, string: tooDeep(start + 511 * '<value><array><data>'.length + '<value><array>'.length) });
      // Never closed: the same, and a document merely unclosed says so in one short line.
      const unclosed = await xmlPost(call('<value><struct><member><name>a</name>'.repeat(DEEP)).replace(/<\/param>.*$/, ''));
      expect(unclosed.status).toBe(400);
      expect(faultOf(unclosed.body)).toEqual({ code: 400, string: tooDeep(start + 511 * '<value><struct><member><name>a</name>'.length + '<value><struct>'.length) });
      const cut = await xmlPost(call('<value><array><data>'.repeat(300)).replace(/<\/param>.*$/, ''));
      expect(cut.status).toBe(400);
      expect(cut.body.byteLength).toBeLessThan(1000);
      expect(faultOf(cut.body)).toEqual({ code: 400, string: expect.stringMatching(/^malformed XML: \d+ elements are not closed \(the innermost is <\w+>\)$/) });

      // 511 levels are accepted (fast-xml-parser's default stopped at 100 elements, ~32 levels), and echoed 512 deep.
      const ok = await xmlPost(call(nestedXml(511)));
      expect(ok.status, ok.body.toString('utf8').slice(0, 400)).toBe(200);
      expect(ok.body.toString('utf8')).not.toMatch(/<fault>/);
      // The input is the params array (its one parameter is no struct), so the handler gets 512 arrays.
      expect(ok.body.toString('utf8').split('<array>').length - 1).toBe(512);
      expectJournaled(readJournal(dir), ok);

      // JSON and JSON-RPC: JSON.parse does not recurse; the input check stops at 512 levels.
      const json = await c.request('POST', '/echo', '['.repeat(DEEP) + ']'.repeat(DEEP), { 'content-type': 'application/json' });
      expect(json.status).toBe(400);
      expect(JSON.parse(json.body.toString()).error.message).toMatch(/^input not accepted: body(\[0\]){512}: nested deeper than 512 levels$/);
      const rpc = await c.request('POST', '/rpc', `{"jsonrpc": "2.0", "id": 3, "method": "echo", "params": ${'['.repeat(DEEP) + ']'.repeat(DEEP)}}`, { 'content-type': 'application/json' });
      expect(rpc.status).toBe(400);
      expect(JSON.parse(rpc.body.toString())).toMatchObject({ error: { code: -32602, message: expect.stringMatching(/^invalid params: params(\[0\]){512}: nested deeper than 512 levels$/) }, id: 3 });

      const health = await c.request('GET', '/_windback/health');
      expect(JSON.parse(health.body.toString())).toMatchObject({ status: 'ok', inFlight: 0 });
    } finally {
      c.close();
      expect((await echo.stop()).code).toBe(0);
    }
    expect(echo.stderr()).not.toMatch(/internal error/);
    // One session ran (the 511 levels), and ended.
    expect([...readJournal(dir).sessions.values()].map((s) => s.end?.record.status)).toEqual(['ok']);
    const verify = await runReplay(['verify', '--journal', dir, '--json']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });

  it('answers a response it cannot render (1,025 levels, circular) with a journaled 500, ends the session, and replays it the same', async () => {
    const dir = tmp('deep-out');
    const echo = await spawnRecorder(ECHO_APP, { journal: dir });
    const c = new LoadClient(echo.url);
    try {
      expect((await c.json('/nest', { levels: 1024 })).status).toBe(200);
      for (const r of [await c.json('/nest', { levels: 1025 }), await c.json('/nest', { levels: DEEP }), await c.json('/circular', {})]) {
        expect(r.status).toBe(500);
        expect(r.error).toEqual({ name: 'InternalError', message: 'the session failed; its error is in the journal' });
      }
      const rpc = await c.rpc('nest', { levels: 1025 }, { id: 'x' });
      expect(rpc).toMatchObject({ status: 200, error: { code: -32603 } });
      // XML-RPC: fast-xml-parser's builder stopped at 100 elements; now 1,024 levels render, and past that a fault.
      const xmlOk = await c.xmlRpc('nest', [{ levels: 1024 }]);
      expect(xmlOk.status).toBe(200);
      expect(xmlOk.body.toString('utf8').split('<array>').length - 1).toBe(1024);
      const xmlDeep = await c.request('POST', '/RPC2', xmlRpcRequest('nest', [{ levels: 1025 }]), { 'content-type': 'text/xml' });
      expect(xmlDeep.status).toBe(200);
      expect(faultOf(xmlDeep.body)).toEqual({ code: 500, string: 'the session failed; its error is in the journal' });
      const xmlCircular = await c.request('POST', '/RPC2', xmlRpcRequest('circular', []), { 'content-type': 'text/xml' });
      expect(faultOf(xmlCircular.body).code).toBe(500);
      const view = readJournal(dir);
      for (const r of [rpc, xmlOk, xmlDeep, xmlCircular]) expectJournaled(view, r);
    } finally {
      c.close();
      expect((await echo.stop()).code).toBe(0);
    }
    expect(echo.stderr()).not.toMatch(/internal error/);
    const ends = [...readJournal(dir).sessions.values()].map((s) => [s.start.sessionKind, s.end?.record.status, s.end?.record.error?.message ?? null]);
    const tooDeep = 'the response cannot be rendered: its value nests deeper than 1024 levels';
    const circular = 'the response cannot be rendered: its value is circular';
    expect(ends).toEqual([
      ['nest', 'ok', null],
      ['nest', 'error', tooDeep],
      ['nest', 'error', tooDeep],
      ['circular', 'error', circular],
      ['nest', 'error', tooDeep],
      ['nest', 'ok', null],
      ['nest', 'error', tooDeep],
      ['circular', 'error', circular],
    ]);
    const verify = await runReplay(['verify', '--journal', dir, '--json']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ diverged: 0 });
    // Nothing is left open for a restart to resume.
    const again = await spawnRecorder(ECHO_APP, { journal: dir });
    expect((await again.stop()).code).toBe(0);
    expect(again.stderr()).not.toMatch(/resum/);
  });
});

describe('replay verify', () => {
  it('replays every session of this file to the response it journaled (notifications included)', async () => {
    const verify = await runReplay(['verify', '--journal', journal, '--json']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ diverged: 0 });
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
