import type { ReactNode } from 'react';
import { Box, Text } from 'ink';
import { displayWidth, truncate } from '../format.js';
import { useColor } from '../theme.js';

// A bordered pane with its title in the top border. The focused pane has a
// heavy border (┏━┓), the others a light round one (╭─╮), so focus shows
// without colour too.

export interface PaneProps {
  title: string;
  width: number;
  height: number;
  focused?: boolean;
  children?: ReactNode;
}

export function Pane({ title, width, height, focused = false, children }: PaneProps): ReactNode {
  const color = useColor();
  const h = focused ? '━' : '─';
  const t = truncate(title, Math.max(0, width - 5));
  const fill = Math.max(0, width - displayWidth(t) - 5);
  const top = `${focused ? '┏' : '╭'}${h} ${t} ${h.repeat(fill)}${focused ? '┓' : '╮'}`;
  return (
    <Box flexDirection="column" width={width} height={height} flexShrink={0}>
      <Text color={focused ? color('cyan') : undefined} bold={focused} wrap="truncate-end">
        {top}
      </Text>
      {/* Keyed by focus: ink re-applies a changed borderStyle as if borderTop were on (ink 6.8). */}
      <Box
        key={focused ? 'focused' : 'plain'}
        borderStyle={focused ? 'bold' : 'round'}
        borderTop={false}
        borderColor={focused ? color('cyan') : undefined}
        width={width}
        height={Math.max(1, height - 1)}
        paddingX={1}
        flexDirection="column"
        overflow="hidden"
      >
        {children}
      </Box>
    </Box>
  );
}

/** Rows a pane of `height` has inside its borders. */
export function innerRows(height: number): number {
  return Math.max(0, height - 2);
}

/** Columns a pane of `width` has inside its borders and padding. */
export function innerColumns(width: number): number {
  return Math.max(0, width - 4);
}
