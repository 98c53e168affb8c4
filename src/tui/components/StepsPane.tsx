import type { ReactNode } from 'react';
import { Text } from 'ink';
import type { DebuggerStatus } from '../../services/replay-child.js';
import { debuggerVerdict, wordWrap } from '../debugger.js';
import { VERDICT_MARK, VERDICT_TONE } from '../diff.js';
import { displayWidth, padEnd, padStart, SHORT_KIND, stepSummary, windowStart } from '../format.js';
import type { StepsState, TuiState } from '../state.js';
import { toneStyle, useTheme } from '../theme.js';
import { innerColumns, innerRows, Pane } from './Pane.js';

// (3) The chosen session's steps, re-executed by the replay engine. Steps up
// to the cursor have been stepped through and show their verdict (✓ equal,
// ✗ diverged, ○ not reached, … still replaying, · not compared); the ones
// after it are dim, without one.

export interface StepsPaneProps {
  state: TuiState;
  width: number;
  height: number;
  focused: boolean;
}

/** The steps pane's title: who, how the replay went (or that a debugger holds it), where the cursor is; shortened to fit `width`. */
export function stepsTitle(steps: StepsState | null, width = Infinity, debuggerStatus: DebuggerStatus | null = null): string {
  if (!steps) return 'Steps';
  const kind = steps.info ? ` ${steps.info.kind}` : '';
  const t = steps.trace;
  let verdict: string;
  let short: string;
  if (steps.loadError) verdict = short = 'cannot read it';
  else if (t.error) verdict = short = 'replay failed';
  else if (debuggerVerdict(debuggerStatus, steps)) ({ long: verdict, short } = debuggerVerdict(debuggerStatus, steps)!);
  else if (!t.done) {
    const n = t.events.filter((e) => e.type === 'step' && !e.inherited).length;
    verdict = `replaying… ${n} steps`;
    short = `replaying… ${n}`;
  } else {
    const first = steps.view.find((v) => v.verdict === 'diverged');
    const at = first ? (first.row ? String(first.row.index) : 'an extra step') : '';
    verdict = first ? `✗ diverges at step ${at}` : '✓ replays equal';
    short = first ? `✗ diverges at ${at}` : '✓ equal';
  }
  const where = steps.view.length > 0 ? ` · ${steps.cursor}/${steps.view.length - 1}` : '';
  const candidates = [
    `Steps · #${steps.session}${kind} · ${verdict}${where}`,
    `Steps #${steps.session}${kind} · ${verdict}${where}`,
    `Steps #${steps.session} · ${verdict}${where}`,
    `Steps #${steps.session} · ${short}${where}`,
    `#${steps.session} · ${short}${where}`,
    `#${steps.session} · ${short}`,
  ];
  return candidates.find((c) => displayWidth(c) <= width) ?? candidates[candidates.length - 1];
}

export function StepsPane({ state, width, height, focused }: StepsPaneProps): ReactNode {
  const theme = useTheme();
  const steps = state.steps;
  const rows = innerRows(height);
  let content: ReactNode;
  if (!steps) {
    // Wrapped here: ink's own wrap starts a line with the space it broke at.
    content = wordWrap('No session selected. Pick one in Sessions (Tab, ↑/↓) and press Enter to replay it.', innerColumns(width)).map((line, i) => (
      <Text key={i} dimColor>
        {line}
      </Text>
    ));
  } else if (steps.loadError) {
    content = <Text color={theme.color ? 'red' : undefined}>{steps.loadError}</Text>;
  } else if (!steps.rows) {
    content = <Text dimColor>reading session {steps.session}…</Text>;
  } else {
    const view = steps.view;
    const indexWidth = Math.max(2, String(view.length).length);
    const start = windowStart(view.length, steps.cursor, Math.max(1, rows));
    content = view.slice(start, start + rows).map((v, i) => {
      const n = start + i;
      const here = n === steps.cursor;
      const future = n > steps.cursor;
      const mark = future ? ' ' : VERDICT_MARK[v.verdict];
      const summary = v.row ? stepSummary(v.kind, v.row.record, v.summary) : v.summary;
      return (
        <Text key={v.key} wrap="truncate-end" inverse={here && focused} dimColor={future} bold={here}>
          {here ? '▸' : ' '}
          {padStart(v.row ? String(v.row.index) : '+', indexWidth)} <Text {...(future ? {} : toneStyle(VERDICT_TONE[v.verdict], theme))}>{mark}</Text>{' '}
          {padEnd(SHORT_KIND[v.kind] ?? v.kind, 8)} {summary}
        </Text>
      );
    });
  }
  return (
    <Pane title={stepsTitle(steps, width - 5, state.debugger)} width={width} height={height} focused={focused}>
      {content}
    </Pane>
  );
}
