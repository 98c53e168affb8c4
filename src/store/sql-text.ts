// Small lexical helpers over SQL text: splitting a script into statements the
// way sqlite3_complete() decides where a statement ends (so that CREATE
// TRIGGER ... BEGIN ...; END; stays whole), the leading keyword of a
// statement, whitespace normalization, and identifier quoting.

type TokenKind = 'ws' | 'semi' | 'word' | 'other';

interface Token {
  kind: TokenKind;
  start: number;
  end: number;
}

function isIdChar(code: number): boolean {
  return (
    (code >= 0x30 && code <= 0x39) || // 0-9
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x61 && code <= 0x7a) || // a-z
    code === 0x5f || // _
    code === 0x24 || // $
    code >= 0x80
  );
}

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d;
}

/** Tokens as sqlite3_complete() sees them; comments count as whitespace. */
function* tokens(sql: string): Generator<Token> {
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const start = i;
    const c = sql.charCodeAt(i);
    if (c === 0x3b) {
      i++;
      yield { kind: 'semi', start, end: i };
    } else if (isSpace(c)) {
      while (i < n && isSpace(sql.charCodeAt(i))) i++;
      yield { kind: 'ws', start, end: i };
    } else if (c === 0x2f && sql.charCodeAt(i + 1) === 0x2a) {
      const close = sql.indexOf('*/', i + 2);
      i = close < 0 ? n : close + 2;
      yield { kind: 'ws', start, end: i };
    } else if (c === 0x2d && sql.charCodeAt(i + 1) === 0x2d) {
      const nl = sql.indexOf('\n', i + 2);
      i = nl < 0 ? n : nl + 1;
      yield { kind: 'ws', start, end: i };
    } else if (c === 0x5b) {
      const close = sql.indexOf(']', i + 1);
      i = close < 0 ? n : close + 1;
      yield { kind: 'other', start, end: i };
    } else if (c === 0x27 || c === 0x22 || c === 0x60) {
      // 'string', "identifier", `identifier`; a doubled quote escapes itself.
      i++;
      while (i < n) {
        if (sql.charCodeAt(i) === c) {
          if (sql.charCodeAt(i + 1) === c) i += 2;
          else {
            i++;
            break;
          }
        } else i++;
      }
      yield { kind: 'other', start, end: i };
    } else if (isIdChar(c)) {
      while (i < n && isIdChar(sql.charCodeAt(i))) i++;
      yield { kind: 'word', start, end: i };
    } else {
      i++;
      yield { kind: 'other', start, end: i };
    }
  }
}

// sqlite3_complete()'s state machine (src/complete.c).
// Tokens: 0 SEMI, 1 WS, 2 OTHER, 3 EXPLAIN, 4 CREATE, 5 TEMP, 6 TRIGGER, 7 END.
// States: 0 INVALID, 1 START, 2 NORMAL, 3 EXPLAIN, 4 CREATE, 5 TRIGGER, 6 SEMI, 7 END.
const TRANS: readonly (readonly number[])[] = [
  [1, 0, 2, 3, 4, 2, 2, 2],
  [1, 1, 2, 3, 4, 2, 2, 2],
  [1, 2, 2, 2, 2, 2, 2, 2],
  [1, 3, 3, 2, 4, 2, 2, 2],
  [1, 4, 2, 2, 2, 4, 5, 2],
  [6, 5, 5, 5, 5, 5, 5, 5],
  [6, 6, 5, 5, 5, 5, 5, 7],
  [1, 7, 5, 5, 5, 5, 5, 5],
];

function tokenClass(sql: string, token: Token): number {
  switch (token.kind) {
    case 'semi':
      return 0;
    case 'ws':
      return 1;
    case 'other':
      return 2;
    case 'word': {
      const len = token.end - token.start;
      if (len < 3 || len > 9) return 2;
      switch (sql.slice(token.start, token.end).toUpperCase()) {
        case 'EXPLAIN':
          return 3;
        case 'CREATE':
          return 4;
        case 'TEMP':
        case 'TEMPORARY':
          return 5;
        case 'TRIGGER':
          return 6;
        case 'END':
          return 7;
        default:
          return 2;
      }
    }
  }
}

/**
 * Split a script into statements, without their terminating semicolons.
 * Statements that hold only whitespace and comments are dropped.
 */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let state = 0;
  let start = 0;
  let hasContent = false;
  for (const token of tokens(sql)) {
    const cls = tokenClass(sql, token);
    state = TRANS[state][cls];
    if (cls === 0 && state === 1) {
      if (hasContent) out.push(sql.slice(start, token.start).trim());
      start = token.end;
      hasContent = false;
    } else if (cls !== 1 && cls !== 0) {
      hasContent = true;
    }
  }
  if (hasContent) out.push(sql.slice(start).trim());
  return out;
}

/** The first keyword of a statement, upper-cased ('' when it starts with something else). */
export function leadingKeyword(sql: string): string {
  for (const token of tokens(sql)) {
    if (token.kind === 'ws') continue;
    if (token.kind === 'word') return sql.slice(token.start, token.end).toUpperCase();
    return '';
  }
  return '';
}

/**
 * How a statement run() shows whether it inserted a row. `none`: it cannot
 * (UPDATE, DELETE, SELECT, VALUES). `changes`: a plain INSERT or REPLACE,
 * which inserted exactly when it changed a row (sqlite3_changes() counts only
 * the rows the statement itself inserted; every table here has a rowid).
 * `mark`: an upsert (`DO UPDATE` changes rows it does not insert) or a
 * statement behind a WITH, which the store tells apart by setting the
 * connection's last insert rowid to a value no insert gives before it runs.
 */
export function insertEvidence(sql: string): 'none' | 'changes' | 'mark' {
  const keyword = leadingKeyword(sql);
  if (keyword === 'WITH') return 'mark';
  if (keyword !== 'INSERT' && keyword !== 'REPLACE') return 'none';
  let previousDo = false;
  for (const token of tokens(sql)) {
    if (token.kind !== 'word') {
      if (token.kind !== 'ws') previousDo = false;
      continue;
    }
    const word = sql.slice(token.start, token.end).toUpperCase();
    if (previousDo && word === 'UPDATE') return 'mark';
    previousDo = word === 'DO';
  }
  return 'changes';
}

/** Collapse whitespace and comments outside quotes into single spaces, and trim. */
export function normalizeSql(sql: string): string {
  let out = '';
  let pendingSpace = false;
  for (const token of tokens(sql)) {
    if (token.kind === 'ws') {
      pendingSpace = out.length > 0;
      continue;
    }
    if (pendingSpace) out += ' ';
    pendingSpace = false;
    out += sql.slice(token.start, token.end);
  }
  return out;
}

/** Quote an identifier for SQLite: "name", with embedded quotes doubled. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quote a string literal for SQLite. */
export function quoteString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
