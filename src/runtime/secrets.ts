import { UsageError } from '../model/errors.js';
import type { AppendableRecord } from '../model/records.js';

// Secret config fields (docs/server.md, "Secrets"). The journal never holds a
// secret's value: the process-start record's config holds a placeholder in
// its place, and every record a live session journals has each occurrence of
// the value inside its strings (and a response's body) replaced by that same
// placeholder, whether it is there as is or escaped as JSON, XML or a URL has
// it (once or twice). A replay
// runs with the journal's config, so it builds the placeholders where the
// recording had the secret, and compares equal.
//
// Only apps with a secret field whose value is a non-empty string have a
// Secrets; the others pay one null check per record (LiveSessionJournal).

/** A secret's value shorter than this is refused: redacting it would rewrite unrelated text. */
export const MIN_SECRET_LENGTH = 8;

/**
 * What the journal and a replayed session hold in place of the secret at
 * config path `field`: `__redacted.<field>__`. Only letters, digits, '.', '-'
 * and '_' (others in the path become '_'), which JSON, XML and URL encodings
 * all leave as they are: wherever the app puts a placeholder on replay, it
 * reads as the journal holds it.
 */
export function placeholderFor(field: string): string {
  return `__redacted.${field.replace(/[^A-Za-z0-9._-]/g, '_')}__`;
}

/** The value at a dotted path of the config, if there is one. */
function valueAt(config: unknown, field: string): { found: boolean; value: unknown } {
  let node: unknown = config;
  for (const part of field.split('.')) {
    if (node === null || typeof node !== 'object' || !Object.prototype.hasOwnProperty.call(node, part)) return { found: false, value: undefined };
    node = (node as Record<string, unknown>)[part];
  }
  return { found: true, value: node };
}

/** The journal copy of the config: each secret field (dotted path) holds its placeholder, unless it is empty. */
export function redactConfig(config: unknown, secretFields: readonly string[]): unknown {
  if (secretFields.length === 0 || !config || typeof config !== 'object') return config;
  const copy = structuredClone(config) as Record<string, unknown>;
  for (const field of secretFields) {
    const parts = field.split('.');
    let node: Record<string, unknown> | undefined = copy;
    for (let i = 0; i < parts.length - 1 && node; i++) node = node[parts[i]] as Record<string, unknown> | undefined;
    const last = parts[parts.length - 1];
    // An empty string hides nothing: kept, so that a replay sees what the session saw.
    if (node && typeof node === 'object' && last in node && node[last] !== '') node[last] = placeholderFor(field);
  }
  return copy;
}

/**
 * The app's secrets, or null when it has none to hide: no secret field holds
 * a non-empty string. A secret shorter than MIN_SECRET_LENGTH is a usage
 * error (exit 2): every occurrence of '1234' in every journaled string would
 * be rewritten, and the journal would no longer say what happened.
 */
export function secretsOf(config: unknown, secretFields: readonly string[]): Secrets | null {
  const found: { field: string; value: string }[] = [];
  for (const field of secretFields) {
    const { found: present, value } = valueAt(config, field);
    if (!present || typeof value !== 'string' || value === '') continue;
    if (value.length < MIN_SECRET_LENGTH) {
      throw new UsageError(
        `secret field "${field}" is ${value.length} characters long; secrets must have at least ${MIN_SECRET_LENGTH}, ` +
          `since every occurrence of a secret's value in a journaled string is replaced by ${placeholderFor(field)}`,
      );
    }
    found.push({ field, value });
  }
  return found.length === 0 ? null : new Secrets(found);
}

/** Replaces each `from` by its `to`, in one pass (what is put in is never looked at again), the longest first. */
class Replacer {
  private readonly any: RegExp;
  private readonly all: RegExp;
  private readonly to: Map<string, string>;

  constructor(pairs: readonly { from: string; to: string }[]) {
    this.to = new Map();
    for (const { from, to } of pairs) if (from !== '' && !this.to.has(from)) this.to.set(from, to);
    const source = [...this.to.keys()]
      .sort((a, b) => b.length - a.length)
      .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('|');
    this.any = new RegExp(source);
    this.all = new RegExp(source, 'g');
  }

  string(s: string): string {
    if (!this.any.test(s)) return s;
    return s.replace(this.all, (m) => this.to.get(m)!);
  }

  /**
   * `value` with its strings (keys too) replaced: the same value when nothing
   * changed, otherwise a copy of what changed (the original, which the live
   * app may still hold, is left alone). Arrays, plain objects (of any realm),
   * Maps and Sets are walked; bytes and other objects are left as they are.
   */
  value(value: unknown): unknown {
    if (typeof value === 'string') return this.string(value);
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) {
      let out: unknown[] | null = null;
      for (let i = 0; i < value.length; i++) {
        const v = this.value(value[i]);
        if (v !== value[i]) (out ??= [...value])[i] = v;
      }
      return out ?? value;
    }
    switch (Object.prototype.toString.call(value)) {
      case '[object Object]': {
        const keys = Object.keys(value);
        let out: Record<string, unknown> | null = null;
        for (let i = 0; i < keys.length; i++) {
          const k = keys[i];
          const v = (value as Record<string, unknown>)[k];
          const nk = this.string(k);
          const nv = this.value(v);
          if (out === null && (nk !== k || nv !== v)) {
            out = {};
            for (let j = 0; j < i; j++) out[keys[j]] = (value as Record<string, unknown>)[keys[j]];
          }
          if (out !== null) out[nk] = nv;
        }
        return out ?? value;
      }
      case '[object Map]': {
        const map = value as Map<unknown, unknown>;
        let changed = false;
        const entries = [...map].map(([k, v]) => {
          const nk = this.value(k);
          const nv = this.value(v);
          if (nk !== k || nv !== v) changed = true;
          return [nk, nv] as const;
        });
        return changed ? new Map(entries) : value;
      }
      case '[object Set]': {
        let changed = false;
        const items = [...(value as Set<unknown>)].map((v) => {
          const nv = this.value(v);
          if (nv !== v) changed = true;
          return nv;
        });
        return changed ? new Set(items) : value;
      }
      default:
        return value;
    }
  }
}

/** How text is escaped or encoded when put into JSON, XML or a URL (encodeURIComponent, URLSearchParams). */
const jsonEscaped = (text: string): string => JSON.stringify(text).slice(1, -1);
/** As the XML-RPC responses are built (transports.ts): quotes escaped too. */
const xmlEscaped = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
const ENCODINGS: readonly ((text: string) => string)[] = [
  jsonEscaped,
  (text) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'),
  xmlEscaped,
  (text) => encodeURIComponent(text),
  (text) => new URLSearchParams({ s: text }).toString().slice(2),
];

/**
 * The forms a secret takes in the text it is put into: as is, and encoded
 * once or twice (JSON in a JSON string: a request body a callee echoed,
 * returned in a response). Its placeholder reads the same in every form.
 */
function secretForms(secret: string): string[] {
  const forms = [secret];
  for (const outer of ENCODINGS) {
    const once = outer(secret);
    forms.push(once);
    for (const inner of ENCODINGS) forms.push(inner(once));
  }
  return [...new Set(forms)];
}

/** A UTF-8 text as a binary (latin1) string: one character per byte, so any bytes round-trip. */
function binary(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

/** The record fields, per kind of session record, that can hold app data (write-tx `changes` never: see Secrets). */
const FIELDS: Partial<Record<AppendableRecord['kind'], readonly string[]>> = {
  'session-start': ['input', 'meta'],
  value: ['value'],
  'call-start': ['name', 'request'],
  'call-result': ['value'],
  'write-tx': ['result'],
  'read-tx': ['result', 'error'],
  checkpoint: ['label', 'state'],
  response: ['headers'],
  'session-end': ['error'],
  suspension: ['missing'],
};

/**
 * The values of an app's secret fields, and how to take them out of the
 * records a live session journals (redact) and put them back into what a
 * resumed session is served (restore).
 *
 * A write transaction's row changes are never rewritten: they are the app's
 * data, and replaying them must rebuild its database exactly. A secret the
 * app stores in its database is journaled with the row.
 */
export class Secrets {
  private readonly hide: Replacer;
  private readonly show: Replacer;
  private readonly hideBytes: Replacer;
  /** A response body's secrets put back as its type escapes them (all responses are rendered as JSON or XML). */
  private readonly showJson: Replacer;
  private readonly showXml: Replacer;

  constructor(readonly secrets: readonly { field: string; value: string }[]) {
    const placeholders = secrets.map(({ field }) => placeholderFor(field));
    const hide = secrets.flatMap(({ value }, i) => secretForms(value).map((form) => ({ from: form, to: placeholders[i] })));
    // Two fields whose paths differ only in characters a placeholder cannot hold share one: restored as the first.
    const show = secrets.map(({ value }, i) => ({ from: placeholders[i], to: value }));
    this.hide = new Replacer(hide);
    this.show = new Replacer(show);
    this.hideBytes = new Replacer(hide.map((p) => ({ from: binary(p.from), to: binary(p.to) })));
    this.showJson = new Replacer(show.map((p) => ({ from: binary(p.from), to: binary(jsonEscaped(p.to)) })));
    this.showXml = new Replacer(show.map((p) => ({ from: binary(p.from), to: binary(xmlEscaped(p.to)) })));
  }

  /** The record as it is to be journaled: the same object when it holds no secret, else a copy without them. */
  redact<R extends AppendableRecord>(record: R): R {
    return this.rewrite(record, this.hide, () => this.hideBytes);
  }

  /**
   * A journaled record with the secrets back in place of their placeholders
   * (for a resumed session, which runs live, or a duplicate request's
   * response), as is in strings (where the session had one escaped or
   * encoded, it gets it back unescaped), escaped as JSON or XML in a
   * response's body, as its content type says.
   */
  restore<R extends AppendableRecord>(record: R): R {
    return this.rewrite(record, this.show, (type) => (/xml/i.test(type) ? this.showXml : this.showJson));
  }

  /** A value as it is to be journaled. */
  redactValue(value: unknown): unknown {
    return this.hide.value(value);
  }

  /** A journaled value with the secrets back in place of their placeholders. */
  restoreValue(value: unknown): unknown {
    return this.show.value(value);
  }

  private rewrite<R extends AppendableRecord>(record: R, strings: Replacer, bytes: (contentType: string) => Replacer): R {
    const fields = FIELDS[record.kind];
    if (fields === undefined) return record;
    let out: Record<string, unknown> | null = null;
    for (const field of fields) {
      const v = (record as unknown as Record<string, unknown>)[field];
      const nv = strings.value(v);
      if (nv !== v) (out ??= { ...record })[field] = nv;
    }
    if (record.kind === 'response') {
      const body = bytesWith(record.body, bytes(record.headers['content-type'] ?? ''));
      if (body !== record.body) (out ??= { ...record }).body = body;
    }
    return (out ?? record) as R;
  }
}

/** `bytes` with each of the replacer's binary strings replaced: the same array when none occurs. */
function bytesWith(bytes: Uint8Array, replacer: Replacer): Uint8Array {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  const replaced = replacer.string(text);
  return replaced === text ? bytes : Buffer.from(replaced, 'latin1');
}
