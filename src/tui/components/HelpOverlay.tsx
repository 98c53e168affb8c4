import type { ReactNode } from 'react';
import { Box, Text } from 'ink';
import { padEnd } from '../format.js';
import { BINDINGS, type BindingGroup } from '../keys.js';
import { useColor } from '../theme.js';
import { innerColumns, Pane } from './Pane.js';

// `?`: every key binding, in two columns so that it fits 80x24.

export function HelpOverlay({ width, height }: { width: number; height: number }): ReactNode {
  const inner = innerColumns(width);
  const left = BINDINGS.slice(0, 2);
  const right = BINDINGS.slice(2);
  const leftWidth = Math.min(inner, Math.max(...left.flatMap((g) => g.bindings.map((b) => KEY_WIDTH(left) + b.does.length))));
  return (
    <Pane title="Keys · ? or Esc closes" width={width} height={height} focused>
      <Box>
        <Column groups={left} width={leftWidth} />
        <Box width={2} />
        <Column groups={right} width={Math.max(0, inner - leftWidth - 2)} />
      </Box>
    </Pane>
  );
}

/** The key column: the widest keys of the groups, plus a space. */
function KEY_WIDTH(groups: readonly BindingGroup[]): number {
  return Math.max(...groups.flatMap((g) => g.bindings.map((b) => [...b.keys].length))) + 1;
}

function Column({ groups, width }: { groups: readonly BindingGroup[]; width: number }): ReactNode {
  const color = useColor();
  const keyWidth = KEY_WIDTH(groups);
  return (
    <Box flexDirection="column" width={width}>
      {groups.map((g) => (
        <Box key={g.group} flexDirection="column" marginBottom={1}>
          <Text bold>{g.group}</Text>
          {g.bindings.map((b) => (
            <Text key={b.keys} wrap="truncate-end">
              <Text color={color('cyan')}>{padEnd(b.keys, keyWidth)}</Text>
              {b.does}
            </Text>
          ))}
        </Box>
      ))}
    </Box>
  );
}
