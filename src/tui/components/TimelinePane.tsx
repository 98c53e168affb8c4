import type { ReactNode } from 'react';
import { Box, Text } from 'ink';
import { timelineStrip } from '../format.js';
import type { TuiState } from '../state.js';
import { useColor } from '../theme.js';
import { innerColumns, Pane } from './Pane.js';

// (1) The timeline: the transaction the TUI is wound to, what committed it,
// and a strip of the transactions around it.

export interface TimelinePaneProps {
  state: TuiState;
  width: number;
  height: number;
  focused: boolean;
}

export function TimelinePane({ state, width, height, focused }: TimelinePaneProps): ReactNode {
  const color = useColor();
  const { first, last } = state.range;
  const marked = new Set(state.steps?.info?.txs ?? []);
  const strip = timelineStrip(first, last, state.tx, innerColumns(width), marked);
  const view = state.txView?.tx === state.tx ? state.txView : null;
  const legend = state.steps && marked.size > 0 ? ` · * by session ${state.steps.session}` : '';
  const title = last === 0 ? 'Timeline · no transactions' : `Timeline · tx ${state.tx} of ${first}–${last}${legend}`;
  let detail: ReactNode;
  if (last === 0) detail = <Text dimColor>the journal holds no write transactions</Text>;
  else if (!view) detail = <Text dimColor>winding to tx {state.tx}…</Text>;
  else {
    const by = view.migration ? `migration ${view.migration}` : `session ${view.session} ${view.sessionKind ?? ''}`.trim();
    const rows = view.tables.map((t) => `${t.table} ${t.rows}`).join(', ') || 'no rows';
    detail = (
      <Text wrap="truncate-end">
        <Text bold>{view.at}</Text>
        <Text> by </Text>
        <Text color={color('cyan')}>{by}</Text>
        <Text dimColor> · rows: {rows}</Text>
      </Text>
    );
  }
  return (
    <Pane title={title} width={width} height={height} focused={focused}>
      {detail}
      <Box>
        <Text wrap="truncate-end">
          <Text dimColor>{strip.more.before ? '‹ ' : '  '}</Text>
          {strip.items.map((item, i) => (
            <Text key={item.tx}>
              {i > 0 ? ' ' : ''}
              <Text bold={item.current} inverse={item.current} color={item.marked ? color('magenta') : undefined}>
                {item.text}
              </Text>
            </Text>
          ))}
          <Text dimColor>{strip.more.after ? ' ›' : ''}</Text>
        </Text>
      </Box>
    </Pane>
  );
}
