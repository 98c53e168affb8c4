import type { Dispatch } from 'react';
import { useInput } from 'ink';
import type { Action } from '../state.js';

// The diff pane: ↑/↓ scroll a line, PgUp/PgDn a page, Home/End the ends.

export function useDiffKeys(dispatch: Dispatch<Action>, max: number, page: number, isActive: boolean): void {
  useInput(
    (_input, key) => {
      const send = (action: Action): void => dispatch({ type: 'scoped', scope: 'diff', action });
      if (key.downArrow) send({ type: 'diff-scroll', delta: 1, max });
      else if (key.upArrow) send({ type: 'diff-scroll', delta: -1, max });
      else if (key.pageDown) send({ type: 'diff-scroll', delta: page, max });
      else if (key.pageUp) send({ type: 'diff-scroll', delta: -page, max });
      else if (key.home) send({ type: 'diff-scroll', delta: -Infinity, max });
      else if (key.end) send({ type: 'diff-scroll', delta: Infinity, max });
    },
    { isActive },
  );
}
