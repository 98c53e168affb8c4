import type { ReactNode } from 'react';
import { Text } from 'ink';
import { innerRows, Pane } from './Pane.js';

// Enter on a step: everything about it as JSON, hard-wrapped and scrollable.

export interface DetailOverlayProps {
  title: string;
  lines: string[];
  scroll: number;
  width: number;
  height: number;
}

export function DetailOverlay({ title, lines, scroll, width, height }: DetailOverlayProps): ReactNode {
  const rows = innerRows(height);
  const top = Math.max(0, Math.min(scroll, lines.length - rows));
  const where = `${top + 1}–${Math.min(lines.length, top + rows)} of ${lines.length}`;
  return (
    <Pane title={`${title} · ${where} · ↑/↓ PgUp/PgDn · Esc closes`} width={width} height={height} focused>
      {lines.slice(top, top + rows).map((line, i) => (
        <Text key={top + i} wrap="truncate-end">
          {line === '' ? ' ' : line}
        </Text>
      ))}
    </Pane>
  );
}

