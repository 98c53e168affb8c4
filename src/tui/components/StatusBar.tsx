import type { ReactNode } from 'react';
import { Box, Text } from 'ink';
import { PANE_HINTS } from '../keys.js';
import type { TuiState } from '../state.js';
import { useColor } from '../theme.js';

// The last row: the prompt of `g`, else the last message, else the focused
// pane's keys; `? help  q quit` on the right.

export function StatusBar({ state, width }: { state: TuiState; width: number }): ReactNode {
  const color = useColor();
  const overlay = state.overlay;
  if (overlay?.kind === 'goto') {
    return (
      <Box width={width} height={1}>
        <Text wrap="truncate-end">
          {/* With an error, a shorter label: the error is what matters, on one line. */}
          <Text bold color={color('cyan')}>{overlay.error ? 'go to: ' : 'go to tx, ISO time or s<session>: '}</Text>
          {overlay.text}
          <Text inverse> </Text>
          {overlay.error ? <Text color={color('red')}>  {overlay.error}</Text> : <Text dimColor>  Enter go · Esc cancel</Text>}
        </Text>
      </Box>
    );
  }
  const message = state.message;
  const right = ' ? help  q quit';
  return (
    <Box width={width} height={1}>
      <Box flexGrow={1} flexShrink={1} overflow="hidden">
        <Text wrap="truncate-end" color={message?.tone === 'error' ? color('red') : undefined} dimColor={!message}>
          {message ? message.text : `${state.focus}: ${PANE_HINTS[state.focus]}`}
        </Text>
      </Box>
      <Box flexShrink={0}>
        <Text dimColor>{right}</Text>
      </Box>
    </Box>
  );
}
