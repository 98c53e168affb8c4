import type { Json, StepView, TuiDivergence } from '../services/tui-data.js';
import { wordWrap } from './debugger.js';
import { displayWidth } from './format.js';
import { viewIndexOf, type StepDetail, type StepsState, type Verdict, type ViewRow } from './state.js';

// What the diff pane and the detail view show for a step, as lines of toned
// segments. Pure: the components only colour them.

export type Tone = 'plain' | 'dim' | 'key' | 'add' | 'del' | 'change' | 'title' | 'good' | 'bad' | 'warn';
export interface Segment {
  text: string;
  tone?: Tone;
}
export type Line = Segment[];

const seg = (text: string, tone: Tone = 'plain'): Segment => ({ text, tone });

export const VERDICT_MARK: Record<Verdict, string> = { equal: '✓', diverged: '✗', pending: '…', 'not-reached': '○', info: '·' };
export const VERDICT_TEXT: Record<Verdict, string> = { equal: 'equal', diverged: 'DIVERGED', pending: 'replaying', 'not-reached': 'not reached', info: 'not compared' };
export const VERDICT_TONE: Record<Verdict, Tone> = { equal: 'good', diverged: 'bad', pending: 'dim', 'not-reached': 'warn', info: 'dim' };

/**
 * What the stepping API says of the step the diff shows: its state, that it
 * has not answered yet (`pending`), or why it failed. Without one (a step
 * the journal does not hold), the full replay's events say it all.
 */
export type Stepped = StepDetail | 'pending';

/**
 * The step the diff pane shows: the cursor's, as the stepping API
 * re-executed it; until that arrives, the last step it answered for (marked
 * `→ step N…`), or the cursor's record alone (`re-executing…`). A step the
 * journal does not hold comes from the full replay's events alone.
 */
export function shownStep(steps: StepsState | null): { index: number; stepped: Stepped | undefined; lag: string | null } | null {
  if (!steps || steps.view.length === 0) return null;
  const row = steps.view[steps.cursor]?.row;
  if (!row) return { index: steps.cursor, stepped: undefined, lag: null };
  const detail = steps.detail;
  if (detail?.step === row.index) return { index: steps.cursor, stepped: detail, lag: null };
  const previous = detail ? viewIndexOf(steps.view, detail.step) : -1;
  if (detail && previous >= 0) return { index: previous, stepped: detail, lag: ` · → step ${row.index}…` };
  return { index: steps.cursor, stepped: 'pending', lag: ' · re-executing…' };
}

/** The row as the stepping API re-executed it: its verdict, what it produced, its divergence. */
export function steppedRow(v: ViewRow, stepped: Stepped | undefined): ViewRow {
  if (stepped === undefined) return v;
  if (stepped === 'pending') return { ...v, verdict: 'pending', divergence: null, actual: undefined, location: null };
  const s = stepped.state;
  if (!s) return v;
  const divergence = fuller(s.divergence, v.divergence);
  return { ...v, verdict: s.verdict, divergence, actual: s.actual ?? undefined, location: s.location ?? divergence?.location ?? null };
}

/**
 * The stepping API's divergence at a step, told as the full replay tells the
 * same one (same kind, same record): a run to a step leaves out the error
 * the replayed code threw before it (the engine cannot tell it from what the
 * stop makes the app throw), which the full replay names, and where.
 */
function fuller(stepped: TuiDivergence | null, full: TuiDivergence | null): TuiDivergence | null {
  if (!stepped || !full || stepped.kind !== full.kind || stepped.position !== full.position) return stepped;
  return { ...stepped, message: full.message, location: stepped.location ?? full.location };
}

/**
 * The diff pane for the step at `index` of the steps view, as the stepping API re-executed it when `stepped` is given.
 * `width`: the pane's inner width, to which what went wrong is wrapped (its end, often the error the replay threw, matters most).
 */
export function stepDiff(view: readonly ViewRow[], index: number, stepped?: Stepped, width = Infinity): Line[] {
  if (!view[index]) return [[seg('no step selected', 'dim')]];
  const v = steppedRow(view[index], stepped);
  const lines: Line[] = [header(v)];
  if (stepped && stepped !== 'pending' && stepped.error) lines.push(...wrapped(`cannot re-execute to this step: ${stepped.error}`, width));
  if (v.divergence) {
    lines.push(...wrapped(v.divergence.message, width));
    if (v.divergence.construct) lines.push([seg('construct: ', 'dim'), seg(v.divergence.construct)]);
  }
  lines.push(...body(view, index, v));
  if (stepped && stepped !== 'pending' && stepped.state) lines.push(...steppedLines(view, v, stepped.state));
  return lines;
}

/** `✗ text`, word-wrapped to `width`, the lines after the first indented under the text. */
function wrapped(text: string, width: number): Line[] {
  if (!Number.isFinite(width)) return [[seg('✗ ', 'bad'), seg(text, 'bad')]];
  return wordWrap(text, Math.max(8, width - 2)).map((line, i) => [seg(i === 0 ? '✗ ' : '  ', 'bad'), seg(line, 'bad')]);
}

/** How the step was re-executed, and the session's checkpoint in force there (for a checkpoint, its own state is above). */
function steppedLines(view: readonly ViewRow[], v: ViewRow, s: StepView): Line[] {
  const out: Line[] = [];
  if (s.ran) {
    const from = view.find((x) => x.row?.index === s.ran!.from)?.row;
    const start = from?.kind === 'checkpoint' ? `checkpoint "${str(from.record.label)}" (step ${s.ran.from})` : `the start of attempt ${from?.attempt ?? s.attempt} (step ${s.ran.from})`;
    const attempts = s.ran.attempts > 1 ? `, ${s.ran.attempts} attempts` : '';
    out.push([seg(`re-executed from ${start}${attempts} in ${s.ran.ms.toFixed(1)} ms`, 'dim')]);
  } else {
    out.push([seg('not compared: nothing to re-execute', 'dim')]);
  }
  if (s.checkpoint && !(v.kind === 'checkpoint' && s.checkpoint.step === s.index)) {
    out.push(title(`checkpoint "${s.checkpoint.label}" (step ${s.checkpoint.step}) in force here`), ...jsonLines(s.checkpoint.state, 1));
  } else if (!s.checkpoint && v.kind !== 'session-start') {
    // The session had reached no checkpoint of its own by this step: a retry would have run it again from its start.
    out.push([seg('no checkpoint in force here: the session runs from its start', 'dim')]);
  }
  return out;
}

function header(v: ViewRow): Line {
  const out: Line = [seg(v.row ? `step ${v.row.index} ` : 'extra step ', 'title'), seg(v.kind, 'key')];
  if (v.row?.tx !== null && v.row?.tx !== undefined) out.push(seg(` · tx ${v.row.tx}`));
  if (v.row && v.row.attempt > 1) out.push(seg(` · attempt ${v.row.attempt}`));
  out.push(seg(' · '), seg(`${VERDICT_MARK[v.verdict]} ${VERDICT_TEXT[v.verdict]}`, VERDICT_TONE[v.verdict]));
  if (v.location) out.push(seg(` · ${v.location}`, 'dim'));
  return out;
}

function body(view: readonly ViewRow[], index: number, v: ViewRow): Line[] {
  const record = v.row?.record ?? {};
  const d = v.divergence;
  switch (v.kind) {
    case 'checkpoint': {
      const previous = previousCheckpoint(view, index);
      const out: Line[] = [];
      if (d) out.push(title('recorded → replayed'), ...structuralDiff(d.expected, d.actual));
      out.push(
        title(previous ? `state "${str(record.label)}" against the previous checkpoint "${str(previous.label)}"` : `state "${str(record.label)}" (the first checkpoint)`),
        ...structuralDiff(previous ? previous.state : null, record.state ?? null),
      );
      return out;
    }
    case 'write-tx': {
      const out: Line[] = [];
      if (d && Array.isArray(d.expected) && Array.isArray(d.actual)) out.push(title('recorded → replayed rows'), ...changesAgainst(d.expected, d.actual));
      else if (d) out.push(title('recorded → replayed'), ...structuralDiff(d.expected, d.actual));
      if (record.migration) out.push([seg('migration ', 'dim'), seg(str(record.migration))]);
      out.push(title(`rows tx ${str(record.tx)} changed (read at tx ${str(record.readAtTx)})`), ...rowChanges(record.changes));
      return out;
    }
    case 'read-tx': {
      const out: Line[] = [];
      if (d) out.push(title('recorded → replayed'), ...structuralDiff(d.expected, d.actual));
      if (record.error) out.push(title(`${record.write ? 'transaction' : 'read'} at tx ${str(record.readAtTx)} threw`), ...jsonLines(record.error));
      else out.push(title(`read at tx ${str(record.readAtTx)}: result`), ...jsonLines(record.result ?? null));
      return out;
    }
    case 'call-start':
    case 'call-result': {
      const { start, result } = callPair(view, index);
      const out: Line[] = [];
      if (d) out.push(title('recorded → replayed'), ...structuralDiff(d.expected, d.actual));
      const s = start?.row?.record;
      const r = result?.row?.record;
      out.push([seg(`call ${str(record.call)} `, 'title'), seg(str(s?.name ?? '?'), 'key'), seg(s ? `  key ${str(s.idempotencyKey)}` : '', 'dim')]);
      const request = [title('request'), ...(s ? jsonLines(s.request ?? null, 1) : [[seg('  (the start is not in this session)', 'dim')]])];
      const outcome = [title(r ? (r.ok ? 'result' : 'failed') : 'result'), ...(r ? jsonLines(r.value ?? null, 1) : [[seg('  (no result journaled: in doubt)', 'warn')]])];
      // The record the cursor is on comes first.
      out.push(...(v.kind === 'call-result' ? [...outcome, ...request] : [...request, ...outcome]));
      return out;
    }
    case 'response': {
      const recorded = { status: record.status ?? null, body: record.body ?? null };
      if (d) return [title('recorded → replayed'), ...structuralDiff(d.expected, d.actual)];
      const status: Line =
        v.verdict === 'equal'
          ? [seg('replayed: ', 'dim'), seg('identical to the recording', 'good')]
          : [seg('replayed: ', 'dim'), seg(v.verdict === 'pending' ? 'the replay is still running' : 'not reached (the replay stopped before the response)', 'warn')];
      return [status, title(`recorded response ${str(recorded.status)}`), ...jsonLines(recorded.body, 1)];
    }
    case 'value': {
      const value = record.value ?? null;
      const line: Line = [seg(str(record.source), 'key'), seg(' = '), seg(leaf(value))];
      if (record.source === 'date' && typeof value === 'number') line.push(seg(`  (${new Date(value).toISOString()})`, 'dim'));
      const out: Line[] = [line];
      if (d) out.push(title('recorded → replayed'), ...structuralDiff(d.expected, d.actual));
      return out;
    }
    case 'session-start':
      return [
        [seg(str(record.sessionKind), 'key'), seg(` via ${str(record.transport)} ${str(record.route)}`), seg(`  after tx ${str(record.startedAfterTx)}`, 'dim')],
        title('input'),
        ...jsonLines(record.input ?? null, 1),
      ];
    case 'session-end':
      return [[seg('status ', 'dim'), seg(str(record.status), record.status === 'ok' ? 'good' : 'bad')], ...(record.error ? jsonLines(record.error, 1) : [])];
    case 'extra-step':
      return d ? [title('the re-execution did this; the journal holds nothing here'), ...jsonLines(d.actual, 1)] : [];
    default:
      return [...(d ? [title('recorded → replayed'), ...structuralDiff(d.expected, d.actual)] : []), ...jsonLines(record, 0)];
  }
}

function title(text: string): Line {
  return [seg(text, 'title')];
}

function str(value: Json | undefined): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function previousCheckpoint(view: readonly ViewRow[], index: number): { label: Json; state: Json } | null {
  for (let i = index - 1; i >= 0; i--) {
    const r = view[i].row;
    if (r?.kind === 'checkpoint') return { label: r.record.label ?? null, state: r.record.state ?? null };
  }
  return null;
}

function callPair(view: readonly ViewRow[], index: number): { start: ViewRow | null; result: ViewRow | null } {
  const v = view[index];
  const call = v.row?.record.call;
  const attempt = v.row?.attempt;
  const match = (kind: string) => view.find((x) => x.row?.kind === kind && x.row.record.call === call && x.row.attempt === attempt) ?? null;
  return { start: v.kind === 'call-start' ? v : match('call-start'), result: v.kind === 'call-result' ? v : match('call-result') };
}

// --- values ---------------------------------------------------------------------------

/** A leaf value, as one short piece of text. */
export function leaf(value: Json): string {
  if (Array.isArray(value)) return value.length === 0 ? '[]' : `[${value.length} items]`;
  if (value !== null && typeof value === 'object') return Object.keys(value).length === 0 ? '{}' : `{${Object.keys(value).length} keys}`;
  return JSON.stringify(value);
}

/** Every leaf of a value, with its path (a.b[0].c); empty objects and arrays are leaves. */
export function flatten(value: Json, prefix = ''): [string, Json][] {
  if (Array.isArray(value) && value.length > 0) return value.flatMap((v, i) => flatten(v, `${prefix}[${i}]`));
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
    return Object.entries(value).flatMap(([k, v]) => flatten(v, prefix === '' ? k : `${prefix}.${k}`));
  }
  return [[prefix, value]];
}

/** A structural diff: changed (~), added (+), removed (-) and unchanged leaves, by path. */
export function structuralDiff(before: Json, after: Json): Line[] {
  const a = new Map(flatten(before ?? null));
  const b = new Map(flatten(after ?? null));
  const label = (p: string): string => (p === '' ? 'value' : p);
  const changed: Line[] = [];
  const same: Line[] = [];
  for (const [p, v] of b) {
    if (!a.has(p)) {
      if (!(p === '' && v === null)) changed.push([seg('+ ', 'add'), seg(label(p), 'key'), seg(': '), seg(leaf(v), 'add')]);
    } else if (JSON.stringify(a.get(p)) !== JSON.stringify(v)) {
      const old = a.get(p)!;
      if (p === '' && old === null) changed.push([seg('+ ', 'add'), seg('value', 'key'), seg(': '), seg(leaf(v), 'add')]);
      else changed.push([seg('~ ', 'change'), seg(label(p), 'key'), seg(': '), seg(leaf(old), 'del'), seg(' → '), seg(leaf(v), 'add')]);
    } else {
      same.push([seg(`  ${label(p)}: ${leaf(v)}`, 'dim')]);
    }
  }
  for (const [p, v] of a) {
    if (!b.has(p) && !(p === '' && v === null)) changed.push([seg('- ', 'del'), seg(label(p), 'key'), seg(': '), seg(leaf(v), 'del')]);
  }
  const counts = [[seg(`${changed.length === 0 ? 'no difference' : `${changed.length} difference${changed.length === 1 ? '' : 's'}`}, ${same.length} unchanged`, 'dim')]];
  return [...counts, ...changed, ...same];
}

interface Change {
  table: string;
  key: string;
  before: { [k: string]: Json } | null;
  after: { [k: string]: Json } | null;
}

function changesOf(value: Json | undefined): Change[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((c) => {
    if (c === null || typeof c !== 'object' || Array.isArray(c)) return [];
    const row = (r: Json | undefined) => (r !== null && r !== undefined && typeof r === 'object' && !Array.isArray(r) ? r : null);
    return [{ table: str(c.table), key: str(c.key), before: row(c.before), after: row(c.after) }];
  });
}

/** A write transaction's row changes, one line each, with every changed field before → after. */
export function rowChanges(value: Json | undefined): Line[] {
  const changes = changesOf(value);
  if (changes.length === 0) return [[seg('no row changes', 'dim')]];
  return changes.map((c) => {
    const name = seg(`${c.table} #${c.key}`, 'key');
    if (!c.before && c.after) return [seg('+ ', 'add'), name, seg(' insert  ', 'dim'), ...fields(c.after, 'add')];
    if (c.before && !c.after) return [seg('- ', 'del'), name, seg(' delete  ', 'dim'), ...fields(c.before, 'del')];
    const before = c.before ?? {};
    const after = c.after ?? {};
    const out: Line = [seg('~ ', 'change'), name, seg(' update  ', 'dim')];
    const unchanged: string[] = [];
    for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
      if (JSON.stringify(before[k]) === JSON.stringify(after[k])) {
        unchanged.push(k);
        continue;
      }
      out.push(seg(`${k}: `, 'key'), seg(leaf(before[k] ?? null), 'del'), seg(' → '), seg(leaf(after[k] ?? null), 'add'), seg('  '));
    }
    if (unchanged.length > 0) out.push(seg(`(${unchanged.length} unchanged)`, 'dim'));
    return out;
  });
}

function fields(row: { [k: string]: Json }, tone: Tone): Segment[] {
  return Object.entries(row).flatMap(([k, v], i) => [seg(`${i ? '  ' : ''}${k}=`, 'key'), seg(leaf(v), tone)]);
}

/** Recorded row changes against replayed ones: the rows and fields that differ. */
export function changesAgainst(recordedValue: Json, replayedValue: Json): Line[] {
  const recorded = changesOf(recordedValue);
  const replayed = changesOf(replayedValue);
  const id = (c: Change): string => `${c.table} #${c.key}`;
  const theirs = new Map(replayed.map((c) => [id(c), c]));
  const out: Line[] = [];
  for (const r of recorded) {
    const p = theirs.get(id(r));
    theirs.delete(id(r));
    if (!p) {
      out.push([seg('- ', 'del'), seg(id(r), 'key'), seg(' recorded, not written by the replay', 'del')]);
      continue;
    }
    const a = r.after ?? {};
    const b = p.after ?? {};
    const diffs: Segment[] = [];
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) diffs.push(seg(`${k}: `, 'key'), seg(leaf(a[k] ?? null), 'del'), seg(' → '), seg(leaf(b[k] ?? null), 'add'), seg('  '));
    }
    if ((r.after === null) !== (p.after === null)) diffs.push(seg(r.after === null ? 'recorded a delete, replay kept the row' : 'replay deleted the row', 'bad'));
    if (diffs.length > 0) out.push([seg('≠ ', 'bad'), seg(id(r), 'key'), seg('  '), ...diffs]);
  }
  for (const p of theirs.values()) out.push([seg('+ ', 'add'), seg(id(p), 'key'), seg(' written by the replay only  ', 'add'), ...fields(p.after ?? p.before ?? {}, 'add')]);
  if (out.length === 0) out.push([seg('the same rows (the difference is in what was read or returned)', 'dim')]);
  return out;
}

/** Pretty JSON, one line per line, indented by `indent` levels. */
export function jsonLines(value: Json, indent = 0): Line[] {
  const pad = '  '.repeat(indent);
  return (JSON.stringify(value, null, 2) ?? 'null').split('\n').map((l) => [seg(pad + l)]);
}

/** Everything about a step, as JSON, for the detail view (with the stepping API's state when given). */
export function stepDetail(row: ViewRow, stepped?: Stepped): Json {
  const v = steppedRow(row, stepped);
  const out: { [key: string]: Json } = {
    step: v.row ? v.row.index : null,
    kind: v.kind,
    verdict: v.verdict,
    location: v.location,
  };
  if (v.row) {
    out.attempt = v.row.attempt;
    out.position = v.row.position;
    out.at = v.row.at;
    out.record = v.row.record;
  }
  if (v.actual !== undefined) out.replayed = v.actual;
  if (v.divergence) out.divergence = v.divergence as unknown as Json;
  if (stepped && stepped !== 'pending') {
    if (stepped.state?.checkpoint) out.checkpoint = stepped.state.checkpoint;
    if (stepped.state?.ran) out.reexecuted = stepped.state.ran;
    if (stepped.error) out.error = stepped.error;
  }
  return out;
}

/** Lines of text hard-wrapped at `width` columns (the detail view scrolls by these). */
export function wrapLines(text: string, width: number): string[] {
  const w = Math.max(8, width);
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (displayWidth(line) <= w) {
      out.push(line);
      continue;
    }
    // Cut by columns (a CJK character takes two), the continuations indented as the line.
    const indent = /^\s*/.exec(line)![0].slice(0, Math.floor(w / 2));
    let current = '';
    let used = 0;
    for (const ch of line) {
      const cw = displayWidth(ch);
      if (used + cw > w && current !== indent) {
        out.push(current);
        current = indent;
        used = indent.length;
      }
      current += ch;
      used += cw;
    }
    out.push(current);
  }
  return out;
}

/** The plain text of a line. */
export function lineText(line: Line): string {
  return line.map((s) => s.text).join('');
}

