import { describe, expect, it } from 'vitest';
import { leadingKeyword, normalizeSql, splitStatements } from '../../src/store/sql-text.js';

describe('splitting migration SQL into statements', () => {
  it('splits on semicolons outside strings, identifiers and comments', () => {
    expect(
      splitStatements(`
        -- a comment; with a semicolon
        CREATE TABLE "a;b" (x TEXT DEFAULT 'c;d', [e;f] INTEGER);
        /* block; comment */ INSERT INTO "a;b" VALUES ('it''s; fine', 1);;
        SELECT \`g;h\` FROM t`),
    ).toEqual([
      `-- a comment; with a semicolon\n        CREATE TABLE "a;b" (x TEXT DEFAULT 'c;d', [e;f] INTEGER)`,
      `/* block; comment */ INSERT INTO "a;b" VALUES ('it''s; fine', 1)`,
      'SELECT `g;h` FROM t',
    ]);
  });

  it('keeps CREATE TRIGGER ... BEGIN ...; END whole, CASE ... END included', () => {
    const trigger = `CREATE TEMP TRIGGER t1 AFTER INSERT ON t BEGIN
        INSERT INTO log VALUES (CASE WHEN NEW.a > 0 THEN 'pos' ELSE 'neg' END);
        UPDATE t SET b = 1;
      END`;
    expect(splitStatements(`CREATE TABLE t (a); ${trigger}; INSERT INTO t VALUES (1)`)).toEqual(['CREATE TABLE t (a)', trigger, 'INSERT INTO t VALUES (1)']);
    expect(splitStatements(`EXPLAIN CREATE TRIGGER x AFTER DELETE ON t BEGIN SELECT 1; END; SELECT 2`)).toHaveLength(2);
  });

  it('drops empty statements and keeps a last statement without a semicolon', () => {
    expect(splitStatements(' ; -- only a comment\n ;')).toEqual([]);
    expect(splitStatements('SELECT 1')).toEqual(['SELECT 1']);
  });
});

describe('small SQL helpers', () => {
  it('finds the leading keyword past comments', () => {
    expect(leadingKeyword('  /* x */ -- y\n update t set a = 1')).toBe('UPDATE');
    expect(leadingKeyword('(SELECT 1)')).toBe('');
    expect(leadingKeyword('')).toBe('');
  });

  it('normalizes whitespace and comments outside quotes only', () => {
    expect(normalizeSql(`CREATE  TABLE\n\tt ( a TEXT DEFAULT 'x   y' ) -- c`)).toBe(`CREATE TABLE t ( a TEXT DEFAULT 'x   y' )`);
  });
});
