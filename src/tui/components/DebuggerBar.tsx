import type { ReactNode } from 'react';
import { Box, Text } from 'ink';
import type { DebuggerStatus } from '../../services/replay-child.js';
import { debuggerLine } from '../debugger.js';
import { toneStyle, useTheme } from '../theme.js';

// Under --inspect, the row above the status bar: what the debugger is doing
// (waiting for one to attach, paused at a line of the app, running). A pause
// is inverse, so that it shows without colour too.

export function DebuggerBar({ status, width }: { status: DebuggerStatus; width: number }): ReactNode {
  const theme = useTheme();
  const { text, tone } = debuggerLine(status);
  const loud = status.state === 'paused' || status.state === 'waiting' || status.state === 'failed';
  return (
    <Box width={width} height={1}>
      <Text wrap="truncate-end" inverse={loud} {...toneStyle(tone, theme)}>
        {text}
      </Text>
    </Box>
  );
}
