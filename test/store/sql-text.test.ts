import { describe, expect, it } from 'vitest';
import { insertEvidence, leadingKeyword, normalizeSql, splitStatements } from '../../src/store/sql-text.js';

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

describe('insertEvidence: how run() tells whether a statement inserted', () => {
  it('is none for statements that cannot insert, changes for plain inserts, mark for upserts and WITH', () => {
    expect(insertEvidence('UPDATE t SET v = 1')).toBe('none');
    expect(insertEvidence('  delete from t')).toBe('none');
    expect(insertEvidence('SELECT 1')).toBe('none');
    expect(insertEvidence('INSERT INTO t VALUES (1)')).toBe('changes');
    expect(insertEvidence('insert or replace into t values (1)')).toBe('changes');
    expect(insertEvidence('REPLACE INTO t VALUES (1)')).toBe('changes');
    expect(insertEvidence('INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING')).toBe('changes');
    expect(insertEvidence('INSERT INTO t VALUES (1) ON CONFLICT (k) DO UPDATE SET v = 2')).toBe('mark');
    expect(insertEvidence('insert into t values (1) on conflict do /* a comment */ update set v = 2')).toBe('mark');
    expect(insertEvidence('WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x')).toBe('mark');
  });

  it('is not fooled by the words inside strings or quoted names', () => {
    expect(insertEvidence(`INSERT INTO t (memo) VALUES ('do update')`)).toBe('changes');
    expect(insertEvidence(`INSERT INTO "do" ("update") VALUES (1)`)).toBe('changes');
  });
});
