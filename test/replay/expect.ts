import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { expect } from 'vitest';
import type { CliResult } from '../helpers/cli.js';
import { ROOT } from '../helpers/cli.js';
import { loadSchema, validate } from '../helpers/schema.js';

// Assertions shared by the replay tests: what a failing command must look
// like, JUnit reports, and the source lines the divergences must name.

const errorSchema = loadSchema('error');

/** A failure as docs/cli.md specifies it: the exit code, one line on stderr, no stack. */
export function expectFailure(result: CliResult, exitCode: number, mention?: string | RegExp): void {
  const all = `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
  expect(result.code, all).toBe(exitCode);
  const lines = result.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, all).toHaveLength(1);
  expect(lines[0], all).toMatch(/^replay: /);
  expect(result.stderr, `no stack trace without --debug\n${all}`).not.toMatch(/\n\s+at /);
  if (mention !== undefined) expect(lines[0], all).toMatch(mention);
}

/** The same failure under --json: {"error": {code, message, exitCode}} on stdout, nothing on stderr. */
export function expectJsonFailure(result: CliResult, exitCode: number, code: string | RegExp, mention?: string | RegExp): void {
  const all = `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
  expect(result.code, all).toBe(exitCode);
  expect(result.json, all).toBeDefined();
  expect(validate(result.json, errorSchema), all).toEqual([]);
  if (typeof code === 'string') expect(result.json.error.code, all).toBe(code);
  else expect(result.json.error.code, all).toMatch(code);
  expect(result.json.error.exitCode, all).toBe(exitCode);
  expect(result.stderr, all).not.toMatch(/\n\s+at /);
  if (mention !== undefined) expect(result.json.error.message, all).toMatch(mention);
}

export interface JunitCase {
  classname: string;
  name: string;
  session: number;
  time: string;
  failure: { message: string; type: string; text: string } | null;
}

export interface JunitReport {
  suites: { name: string; tests: number; failures: number; errors: number }[];
  tests: number;
  failures: number;
  cases: JunitCase[];
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  textNodeName: 'text',
  isArray: (name) => name === 'testsuite' || name === 'testcase' || name === 'failure',
});

export function readJunit(file: string): JunitReport {
  const doc = parser.parse(fs.readFileSync(file, 'utf8')) as {
    testsuites: { tests: string; failures: string; testsuite?: { name: string; tests: string; failures: string; errors: string; testcase?: Record<string, unknown>[] }[] };
  };
  const suites = doc.testsuites.testsuite ?? [];
  const cases: JunitCase[] = suites.flatMap((s) =>
    (s.testcase ?? []).map((c) => {
      const failures = (c.failure as { message: string; type: string; text?: string }[] | undefined) ?? [];
      if (failures.length > 1) throw new Error(`testcase ${String(c.name)} has ${failures.length} failures`);
      const match = /^session (\d+)$/.exec(String(c.name));
      if (!match) throw new Error(`testcase name "${String(c.name)}" does not name a session`);
      return {
        classname: String(c.classname),
        name: String(c.name),
        session: Number(match[1]),
        time: String(c.time),
        failure: failures[0] ? { message: failures[0].message, type: failures[0].type, text: String(failures[0].text ?? '') } : null,
      };
    }),
  );
  return {
    suites: suites.map((s) => ({ name: s.name, tests: Number(s.tests), failures: Number(s.failures), errors: Number(s.errors) })),
    tests: Number(doc.testsuites.tests),
    failures: Number(doc.testsuites.failures),
    cases,
  };
}

/** The session ids of a JUnit report, sorted. */
export function junitSessions(file: string): number[] {
  return readJunit(file)
    .cases.map((c) => c.session)
    .sort((a, b) => a - b);
}

export const JUNIT_XSD = path.join(ROOT, 'test', 'fixtures', 'junit.xsd');

/** Validate with xmllint (Debian: libxml2-utils) against test/fixtures/junit.xsd; returns xmllint's verdict. */
export function xmllint(file: string): { ok: boolean; output: string } {
  const run = spawnSync('xmllint', ['--noout', '--schema', JUNIT_XSD, file], { encoding: 'utf8' });
  if (run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error('xmllint is not installed: the JUnit tests validate with `xmllint --schema`; install the Debian package libxml2-utils (apt-get install libxml2-utils)');
  }
  return { ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
}

/** 1-based line of the first line matching `pattern` after the first line matching `after`. */
export function lineOf(file: string, after: RegExp, pattern: RegExp): number {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const start = lines.findIndex((l) => after.test(l));
  if (start < 0) throw new Error(`${file}: no line matches ${after}`);
  const index = lines.findIndex((l, i) => i > start && pattern.test(l));
  if (index < 0) throw new Error(`${file}: no line matches ${pattern} after line ${start + 1}`);
  return index + 1;
}
