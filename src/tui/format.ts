// Small text helpers for the panes. Pure.

/** A duration for a narrow column: 850ms, 1.2s, 3m04s, 2h05m, 3d04h. */
export function formatAge(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, '0')}h`;
}

// Widths in terminal columns: a CJK character or an emoji takes two, a
// combining mark or a variation selector none. (What the panes lay out by hand:
// titles, columns; ink measures the rest itself.)
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\u200B-\u200F\u2060\uFE00-\uFE0F\u{E0100}-\u{E01EF}]$/u;
const WIDE =
  /^[\p{Emoji_Presentation}\u1100-\u115F\u2329\u232A\u2E80-\u303E\u3041-\u33FF\u3400-\u4DBF\u4E00-\u9FFF\uA000-\uA4CF\uA960-\uA97F\uAC00-\uD7A3\uF900-\uFAFF\uFE10-\uFE19\uFE30-\uFE6F\uFF00-\uFF60\uFFE0-\uFFE6\u{1F300}-\u{1F64F}\u{1F900}-\u{1F9FF}\u{20000}-\u{3FFFD}]$/u;

function charWidth(ch: string): number {
  return ZERO_WIDTH.test(ch) ? 0 : WIDE.test(ch) ? 2 : 1;
}

/** How many terminal columns `text` takes. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text) width += charWidth(ch);
  return width;
}

/** Cut to `width` columns, with an ellipsis when cut. */
export function truncate(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  const room = width <= 1 ? Math.max(0, width) : width - 1;
  let out = '';
  let used = 0;
  for (const ch of text) {
    const w = charWidth(ch);
    if (used + w > room) break;
    out += ch;
    used += w;
  }
  return width <= 1 ? out : `${out}…`;
}

export function padEnd(text: string, width: number): string {
  const t = truncate(text, width);
  return t + ' '.repeat(Math.max(0, width - displayWidth(t)));
}

export function padStart(text: string, width: number): string {
  const t = truncate(text, width);
  return ' '.repeat(Math.max(0, width - displayWidth(t))) + t;
}

export interface StripItem {
  tx: number;
  text: string;
  current: boolean;
  marked: boolean;
}

export interface Strip {
  more: { before: boolean; after: boolean };
  items: StripItem[];
}

/**
 * The timeline's strip of transaction ids around `current` that fits in
 * `width` columns: the current one in [brackets], the marked ones (written by
 * the selected session) with a *, ‹ and › when there are more either side.
 */
export function timelineStrip(first: number, last: number, current: number, width: number, marked: ReadonlySet<number>): Strip {
  if (last === 0) return { more: { before: false, after: false }, items: [] };
  const text = (tx: number): string => {
    const id = `${tx}${marked.has(tx) ? '*' : ''}`;
    return tx === current ? `[${id}]` : id;
  };
  const budget = Math.max(0, width - 4); // room for "‹ " and " ›"
  let lo = current;
  let hi = current;
  let used = text(current).length;
  for (let turn = 0; ; turn++) {
    const canLeft = lo > first && used + 1 + text(lo - 1).length <= budget;
    const canRight = hi < last && used + 1 + text(hi + 1).length <= budget;
    if (!canLeft && !canRight) break;
    // Alternate, preferring the side that still has room.
    if ((turn % 2 === 0 && canRight) || !canLeft) {
      hi++;
      used += 1 + text(hi).length;
    } else {
      lo--;
      used += 1 + text(lo).length;
    }
  }
  const items: StripItem[] = [];
  for (let tx = lo; tx <= hi; tx++) items.push({ tx, text: text(tx), current: tx === current, marked: marked.has(tx) });
  return { more: { before: lo > first, after: hi < last }, items };
}

/** Where a list of `count` rows should start so that `cursor` shows in `height` rows, roughly centred. */
export function windowStart(count: number, cursor: number, height: number): number {
  if (count <= height) return 0;
  const start = cursor - Math.floor(height / 2);
  return Math.max(0, Math.min(count - height, start));
}

type JsonLike = null | boolean | number | string | JsonLike[] | { [key: string]: JsonLike };

/** A record kind, short enough for the steps pane. */
export const SHORT_KIND: Record<string, string> = {
  'session-start': 'start',
  'session-attempt': 'attempt',
  value: 'value',
  'call-start': 'call',
  'call-result': 'result',
  'write-tx': 'tx',
  'read-tx': 'read',
  checkpoint: 'ckpt',
  response: 'response',
  'session-end': 'end',
  suspension: 'suspend',
  'extra-step': 'EXTRA',
};

/** A step in a few words, for the steps pane (the diff pane has the rest). */
export function stepSummary(kind: string, record: { [key: string]: JsonLike }, fallback: string): string {
  const s = (v: JsonLike | undefined): string => (typeof v === 'string' ? v : JSON.stringify(v ?? null));
  switch (kind) {
    case 'session-start':
      return `${s(record.sessionKind)} ${s(record.route)} ${brief(record.input)}`;
    case 'value':
      return `${s(record.source)} = ${brief(record.value)}`;
    case 'call-start': {
      const request = record.request;
      const url = request && typeof request === 'object' && !Array.isArray(request) && typeof request.url === 'string' ? ` ${request.url.replace(/^https?:\/\/[^/]+/, '')}` : ` ${brief(request)}`;
      return `#${s(record.call)} ${s(record.name)}${url}`;
    }
    case 'call-result':
      return `#${s(record.call)} ${record.ok ? '→' : 'failed'} ${brief(record.value)}`;
    case 'write-tx': {
      const changes = Array.isArray(record.changes) ? record.changes : [];
      const tables = [...new Set(changes.map((c) => (c && typeof c === 'object' && !Array.isArray(c) ? s(c.table) : '?')))];
      return record.migration ? `migration ${s(record.migration)}` : `tx ${s(record.tx)}: ${changes.length} row${changes.length === 1 ? '' : 's'} (${tables.join(', ')})`;
    }
    case 'read-tx':
      return record.error && typeof record.error === 'object' && !Array.isArray(record.error)
        ? `at tx ${s(record.readAtTx)} threw ${s(record.error.name)}`
        : `at tx ${s(record.readAtTx)}: ${brief(record.result)}`;
    case 'checkpoint':
      return `"${s(record.label)}" ${record.state === null || record.state === undefined ? '' : brief(record.state)}`.trim();
    case 'response':
      return `${s(record.status)} ${brief(record.body)}`;
    case 'session-end':
      return record.error && typeof record.error === 'object' && !Array.isArray(record.error) ? `${s(record.status)}: ${s(record.error.message)}` : s(record.status);
    default:
      return fallback;
  }
}

function brief(value: JsonLike | undefined): string {
  return truncate(JSON.stringify(value ?? null) ?? 'null', 60);
}
