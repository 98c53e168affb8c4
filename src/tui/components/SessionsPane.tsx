import type { ReactNode } from 'react';
import { Text } from 'ink';
import { formatAge, padEnd, padStart, windowStart } from '../format.js';
import { visibleSessions, type TuiState } from '../state.js';
import { useColor } from '../theme.js';
import { innerColumns, innerRows, Pane } from './Pane.js';

// (2) The sessions alive at the current transaction: kind, final status, how
// long each had been running, and its last checkpoint before it. `/` filters.

export interface SessionsPaneProps {
  state: TuiState;
  width: number;
  height: number;
  focused: boolean;
}

const STATUS: Record<string, string> = { ok: 'ok', error: 'err', open: 'open', aborted: 'abrt' };
/** A session that had reached no checkpoint of its own: it runs (and a retry would run it) from its start. */
const NO_CHECKPOINT = '(start)';

export function SessionsPane({ state, width, height, focused }: SessionsPaneProps): ReactNode {
  const color = useColor();
  const all = state.alive ?? [];
  const list = visibleSessions(state);
  const { filter, editing, cursor } = state.sessions;
  const count = state.alive === null ? '…' : filter ? `${list.length}/${all.length}` : `${all.length}`;
  const title = `Sessions at tx ${state.tx} (${count})${filter && !editing ? ` /${filter}` : ''}`;
  const rows = innerRows(height) - 1 - (editing ? 1 : 0);
  const idWidth = Math.max(2, ...list.map((s) => String(s.id).length));
  const kindWidth = Math.min(10, Math.max(4, ...list.map((s) => s.kind.length)));
  const fixed = 1 + idWidth + 1 + kindWidth + 1 + 4 + 1 + 5 + 1;
  const cpWidth = Math.max(0, innerColumns(width) - fixed);
  const start = windowStart(list.length, cursor, Math.max(1, rows));
  const shown = list.slice(start, start + Math.max(0, rows));
  const selected = state.steps?.session;
  return (
    <Pane title={title} width={width} height={height} focused={focused}>
      <Text dimColor wrap="truncate-end">
        {` ${padStart('#', idWidth)} ${padEnd('kind', kindWidth)} ${padEnd('st', 4)} ${padStart('age', 5)} ${padEnd('checkpoint', cpWidth)}`}
      </Text>
      {state.alive === null ? (
        <Text dimColor>loading…</Text>
      ) : list.length === 0 ? (
        <Text dimColor wrap="truncate-end">
          {all.length === 0 ? `no session in flight at tx ${state.tx}` : `no session matches /${filter}`}
        </Text>
      ) : (
        shown.map((s, i) => {
          const here = start + i === cursor;
          const mark = here ? '▸' : s.id === selected ? '•' : ' ';
          const statusColor = s.status === 'ok' ? 'green' : s.status === 'open' ? 'yellow' : 'red';
          return (
            <Text key={s.id} wrap="truncate-end" inverse={here && focused} bold={s.id === selected}>
              {mark}
              {padStart(String(s.id), idWidth)} {padEnd(s.kind, kindWidth)} <Text color={color(statusColor)}>{padEnd(STATUS[s.status] ?? s.status, 4)}</Text>{' '}
              {padStart(formatAge(s.ageMs), 5)} <Text dimColor={!s.lastCheckpoint}>{padEnd(s.lastCheckpoint?.label ?? NO_CHECKPOINT, cpWidth)}</Text>
            </Text>
          );
        })
      )}
      {editing ? (
        <Text wrap="truncate-end">
          <Text color={color('cyan')}>/</Text>
          {filter}
          <Text inverse> </Text>
          <Text dimColor>  Enter keep · Esc clear</Text>
        </Text>
      ) : null}
    </Pane>
  );
}
