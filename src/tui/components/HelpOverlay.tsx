import type { ReactNode } from 'react';
import { Box, Text } from 'ink';
import { padEnd } from '../format.js';
import { BINDINGS, type BindingGroup } from '../keys.js';
import { useColor } from '../theme.js';
import { innerColumns, innerRows, Pane } from './Pane.js';

// `?`: every key binding, in two columns when they fit (80x24 does); on a
// smaller screen in one column that ↑/↓ PgUp/PgDn scroll, so that no group
// or key is ever cut off.

const LEFT = BINDINGS.slice(0, 2);
const RIGHT = BINDINGS.slice(2);
const GAP = 2;

/** One row of the help: a group's name, a key and what it does, or a blank between groups. */
type HelpRow = { group: string } | { keys: string; does: string; keyWidth: number } | null;

/** The key column: the widest keys of the groups, plus a space. */
function keyWidth(groups: readonly BindingGroup[]): number {
  return Math.max(...groups.flatMap((g) => g.bindings.map((b) => [...b.keys].length))) + 1;
}

function rowsOf(groups: readonly BindingGroup[]): HelpRow[] {
  const width = keyWidth(groups);
  const rows: HelpRow[] = [];
  for (const g of groups) {
    if (rows.length > 0) rows.push(null);
    rows.push({ group: g.group });
    for (const b of g.bindings) rows.push({ keys: b.keys, does: b.does, keyWidth: width });
  }
  return rows;
}

function widthOf(rows: readonly HelpRow[]): number {
  return Math.max(...rows.map((r) => (r && 'keys' in r ? r.keyWidth + [...r.does].length : r ? [...r.group].length : 0)));
}

const LEFT_ROWS = rowsOf(LEFT);
const RIGHT_ROWS = rowsOf(RIGHT);
const ONE_COLUMN = rowsOf(BINDINGS);

/** How the help is laid out in a pane of `width` x `height`: two columns, or one that scrolls `max` rows. */
export function helpLayout(width: number, height: number): { columns: 1 | 2; max: number; page: number } {
  const inner = innerColumns(width);
  const rows = innerRows(height);
  const page = Math.max(1, rows - 1);
  if (widthOf(LEFT_ROWS) + GAP + widthOf(RIGHT_ROWS) <= inner && Math.max(LEFT_ROWS.length, RIGHT_ROWS.length) <= rows) return { columns: 2, max: 0, page };
  return { columns: 1, max: Math.max(0, ONE_COLUMN.length - rows), page };
}

export function HelpOverlay({ width, height, scroll }: { width: number; height: number; scroll: number }): ReactNode {
  const { columns, max } = helpLayout(width, height);
  if (columns === 2) {
    const leftWidth = widthOf(LEFT_ROWS);
    return (
      <Pane title="Keys · ? or Esc closes" width={width} height={height} focused>
        <Box>
          <Column rows={LEFT_ROWS} width={leftWidth} />
          <Box width={GAP} flexShrink={0} />
          <Column rows={RIGHT_ROWS} width={Math.max(0, innerColumns(width) - leftWidth - GAP)} />
        </Box>
      </Pane>
    );
  }
  const rows = innerRows(height);
  const top = Math.min(Math.max(0, scroll), max);
  const where = max > 0 ? ` · ${top + 1}–${Math.min(ONE_COLUMN.length, top + rows)} of ${ONE_COLUMN.length} · ↑/↓` : '';
  return (
    <Pane title={`Keys${where} · ? or Esc closes`} width={width} height={height} focused>
      <Column rows={ONE_COLUMN.slice(top, top + rows)} width={innerColumns(width)} />
    </Pane>
  );
}

function Column({ rows, width }: { rows: readonly HelpRow[]; width: number }): ReactNode {
  const color = useColor();
  return (
    <Box flexDirection="column" width={width} flexShrink={0}>
      {rows.map((r, i) =>
        r === null ? (
          <Text key={i}> </Text>
        ) : 'group' in r ? (
          <Text key={i} bold wrap="truncate-end">
            {r.group}
          </Text>
        ) : (
          <Text key={i} wrap="truncate-end">
            <Text color={color('cyan')}>{padEnd(r.keys, r.keyWidth)}</Text>
            {r.does}
          </Text>
        ),
      )}
    </Box>
  );
}
