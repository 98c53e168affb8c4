import type { DebuggerStatus } from '../services/replay-child.js';
import type { Tone } from './diff.js';
import { displayWidth } from './format.js';
import type { StepsState } from './state.js';

// What the TUI says about the debugger under --inspect: the one-line status
// above the status bar, the steps pane's word for a replay the debugger
// holds, and the `i` overlay's text. Pure.

/** `file:line` of a paused location given as `file:line:column`. */
export function pausedAt(at: string | null): string | null {
  if (!at) return null;
  return /^(.*:\d+):\d+$/.exec(at)?.[1] ?? at;
}

/** The debugger line: what the debugger is doing, and the key that helps. */
export function debuggerLine(d: DebuggerStatus): { text: string; tone: Tone } {
  const where = d.address ?? 'the inspector';
  switch (d.state) {
    case 'starting':
      return { text: '◌ debugger: starting the inspector…', tone: 'dim' };
    case 'ready':
      return { text: `◇ debugger on ${where} · replays pause where the session starts · i attach`, tone: 'plain' };
    case 'waiting':
      return { text: `⏸ waiting for a debugger on ${where} · i attach · R go on without`, tone: 'warn' };
    case 'running':
      return { text: `▶ session ${d.session} running under the debugger on ${where}`, tone: 'good' };
    case 'paused':
      if (d.atSessionStart) return { text: `⏸ paused in debugger at the start of session ${d.session} · F11 steps in · F8/R resumes`, tone: 'warn' };
      return { text: `⏸ paused in debugger at ${pausedAt(d.at) ?? 'an unknown location'}${d.function ? ` in ${d.function}` : ''} · F8/R resumes`, tone: 'warn' };
    case 'failed':
      return { text: `✗ debugger: ${d.message ?? 'the replay process failed'}`, tone: 'bad' };
  }
}

/** The steps pane's word for a replay still running under the debugger, or null when the debugger is not the reason it waits. */
export function debuggerVerdict(d: DebuggerStatus | null, steps: StepsState): { long: string; short: string } | null {
  if (!d || steps.trace.done) return null;
  // Replays wait (in the child's queue) until a debugger attaches.
  if (d.state === 'waiting') return { long: 'waiting for a debugger', short: 'waiting' };
  if (d.session === null || (d.state !== 'paused' && d.state !== 'running')) return null;
  if (d.session !== steps.session) return { long: `queued behind session ${d.session}`, short: `after #${d.session}` };
  if (d.state !== 'paused') return null;
  const n = steps.trace.events.filter((e) => e.type === 'step' && !e.inherited).length;
  return { long: `⏸ paused in debugger · ${n} steps`, short: `⏸ paused · ${n} steps` };
}

/** The `i` overlay: where the inspector listens and how to attach to it, as paragraphs ('' between). */
export function debuggerHelp(d: DebuggerStatus): string[] {
  const lines = [debuggerLine(d).text, ''];
  if (!d.url) {
    lines.push(d.state === 'failed' ? 'The replays cannot run under the debugger; quit and start again.' : 'The inspector is starting.');
    return lines;
  }
  const [host, port] = splitAddress(d.address ?? '');
  lines.push(
    `The replays run in a child process under the Node inspector at ${d.address}. They wait for a debugger to attach; then each session you replay pauses where it starts.`,
    '',
    `Chrome: open chrome://inspect, Configure…, add ${d.address}, then inspect the target; or open this URL:`,
    `  ${d.devtoolsUrl}`,
    `VS Code: an attach configuration with "address": "${host}", "port": ${port} (docs/debugging.md).`,
    `Inspector: ${d.url}`,
    '',
    'In the debugger: F11 steps into the handler, breakpoints in your .ts files bind, F8 resumes. Every value is the recorded one. R here resumes a pause too, or goes on without a debugger.',
  );
  return lines;
}

/** Wrap at spaces to `width`; a word longer than a line (a URL) is cut, its pieces keeping the line's indent. */
export function wordWrap(text: string, width: number): string[] {
  const w = Math.max(8, width);
  const indent = /^\s*/.exec(text)![0].slice(0, Math.floor(w / 2));
  const out: string[] = [];
  let line = '';
  for (const word of text.trim().split(/\s+/)) {
    const lead = line === '' ? indent : `${line} `;
    if (displayWidth(lead) + displayWidth(word) <= w) {
      line = lead + word;
      continue;
    }
    if (line !== '') out.push(line);
    // A word wider than the line: cut by columns.
    let rest = [...word];
    while (indent.length + displayWidth(rest.join('')) > w) {
      let n = 0;
      for (let used = indent.length; n < rest.length && used + displayWidth(rest[n]) <= w; n++) used += displayWidth(rest[n]);
      n = Math.max(1, n);
      out.push(indent + rest.slice(0, n).join(''));
      rest = rest.slice(n);
    }
    line = indent + rest.join('');
  }
  out.push(line);
  return out;
}

function splitAddress(address: string): [string, string] {
  const i = address.lastIndexOf(':');
  return i < 0 ? [address, ''] : [address.slice(0, i).replace(/^\[|\]$/g, ''), address.slice(i + 1)];
}
