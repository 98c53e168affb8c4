import type { ReactNode } from 'react';
import { Text } from 'ink';
import type { DebuggerStatus } from '../../services/replay-child.js';
import { debuggerHelp, wordWrap } from '../debugger.js';
import { innerColumns, innerRows, Pane } from './Pane.js';

// `i` under --inspect: where the inspector listens, the DevTools URL, and how
// to attach Chrome or VS Code.

export function DebuggerOverlay({ status, width, height }: { status: DebuggerStatus; width: number; height: number }): ReactNode {
  const lines = debuggerHelp(status).flatMap((l) => wordWrap(l, innerColumns(width)));
  return (
    <Pane title="Debugger · i or Esc closes" width={width} height={height} focused>
      {lines.slice(0, innerRows(height)).map((line, i) => (
        <Text key={i} wrap="truncate-end">
          {line === '' ? ' ' : line}
        </Text>
      ))}
    </Pane>
  );
}
