import { describe, expect, it } from 'vitest';
import { replayAsync } from '../helpers/cli.js';
import { loadSchema, validate } from '../helpers/schema.js';

// oclif's argument and flag errors are several lines whose first is often
// only a heading ("The following error occurred:", "Missing 1 required arg:",
// "Parsing --jobs"). The user gets one line that says what is wrong, on
// stderr or under --json, exit 2; the full text only with --debug.

const errorSchema = loadSchema('error');

const cases: [string[], string][] = [
  [['state'], 'missing required flag --tx'],
  [['restore'], 'missing required flag --out; missing required flag --tx'],
  [['show'], 'missing required argument <session> (the session id)'],
  // The argument's description keeps its capitals.
  [['record'], 'missing required argument <app> (the app entry file, TypeScript or JavaScript)'],
  [['verify', '--jobs', '0'], '--jobs: expected an integer greater than or equal to 1 but received: 0'],
  [['verify', '--jobs', 'two'], '--jobs: expected an integer but received: two'],
  [['export', '--out', 'x.json', '--limit', '0'], '--limit: expected an integer greater than or equal to 1 but received: 0'],
  [['state', '--tx', '1', '--table', 't', '--limit', '0'], '--limit: expected an integer greater than or equal to 1 but received: 0'],
  // Already one line: unchanged.
  [['sessions', '--bogus'], 'Nonexistent flag: --bogus'],
  [['export', '--out', 'x.json', '--format', 'xml'], 'Expected --format=xml to be one of: chrome-trace'],
];

describe('argument and flag errors', () => {
  it('each is one line that says what is wrong, on stderr and under --json, exit 2', async () => {
    const runs = await Promise.all(cases.map(([args]) => Promise.all([replayAsync([...args, '-j', '/nonexistent']), replayAsync([...args, '-j', '/nonexistent', '--json'])])));
    cases.forEach(([args, message], i) => {
      const [text, json] = runs[i];
      const what = `replay ${args.join(' ')}`;
      expect(text.code, what).toBe(2);
      expect(text.stdout, what).toBe('');
      expect(text.stderr, what).toBe(`replay: ${message}\n`);
      expect(json.code, what).toBe(2);
      expect(validate(json.json, errorSchema), what).toEqual([]);
      expect(json.json.error, what).toEqual({ code: 'E_USAGE', message, exitCode: 2 });
    });
  });

  it('--debug still shows the whole of it', async () => {
    const result = await replayAsync(['state', '--debug']);
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')[0]).toBe('replay: missing required flag --tx');
    expect(result.stderr).toContain('Missing required flag tx');
    expect(result.stderr).toMatch(/\n\s+at /);
  });
});

describe('asking for help', () => {
  it('`replay help`, `replay help <command>` and -h print what --help prints, exit 0', async () => {
    const [root, rootHelp, wind, windHelp, windH] = await Promise.all([
      replayAsync(['--help']),
      replayAsync(['help']),
      replayAsync(['wind', '--help']),
      replayAsync(['help', 'wind']),
      replayAsync(['wind', '-h']),
    ]);
    expect(root.code).toBe(0);
    expect(root.stdout).toContain('COMMANDS');
    expect(rootHelp).toEqual(root);
    expect(wind.code).toBe(0);
    expect(wind.stdout).toContain('$ replay wind');
    expect(windHelp).toEqual(wind);
    expect(windH).toEqual(wind);
  });
});
