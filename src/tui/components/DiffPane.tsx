import type { ReactNode } from 'react';
import type { Line } from '../diff.js';
import { ToneLine } from '../theme.js';
import { innerRows, Pane } from './Pane.js';

// (4) The selected step, compared: a checkpoint's state against the previous
// checkpoint, a transaction's rows before → after, a call's request and
// result, the response as recorded against as replayed.

export interface DiffPaneProps {
  lines: Line[];
  scroll: number;
  title: string;
  width: number;
  height: number;
  focused: boolean;
}

export function DiffPane({ lines, scroll, title, width, height, focused }: DiffPaneProps): ReactNode {
  const rows = innerRows(height);
  const top = Math.max(0, Math.min(scroll, lines.length - rows));
  const more = lines.length > rows ? ` · ${top + 1}–${Math.min(lines.length, top + rows)} of ${lines.length}` : '';
  return (
    <Pane title={`${title}${more}`} width={width} height={height} focused={focused}>
      {lines.slice(top, top + rows).map((line, i) => (
        <ToneLine key={top + i} line={line} />
      ))}
    </Pane>
  );
}
