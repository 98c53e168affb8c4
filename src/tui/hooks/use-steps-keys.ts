import type { Dispatch } from 'react';
import { useInput } from 'ink';
import type { Action } from '../state.js';

// The steps pane: ↓/↑ step forward and back, PgDn/PgUp a page, Home/End the
// ends, Enter opens the step in full.

export function useStepsKeys(dispatch: Dispatch<Action>, page: number, isActive: boolean): void {
  useInput(
    (_input, key) => {
      const send = (action: Action): void => dispatch({ type: 'scoped', scope: 'steps', action });
      if (key.downArrow) send({ type: 'step-move', delta: 1 });
      else if (key.upArrow) send({ type: 'step-move', delta: -1 });
      else if (key.pageDown) send({ type: 'step-move', delta: page });
      else if (key.pageUp) send({ type: 'step-move', delta: -page });
      else if (key.home) send({ type: 'step-edge', edge: 'first' });
      else if (key.end) send({ type: 'step-edge', edge: 'last' });
      else if (key.return) send({ type: 'open-detail' });
    },
    { isActive },
  );
}
