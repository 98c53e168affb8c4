import type { Dispatch } from 'react';
import { useInput } from 'ink';
import type { Action } from '../state.js';

// The timeline pane: ←/→ one transaction, PgUp/PgDn ten, Home/End the ends.

export function useTimelineKeys(dispatch: Dispatch<Action>, range: { first: number; last: number }, isActive: boolean): void {
  useInput(
    (_input, key) => {
      const send = (action: Action): void => dispatch({ type: 'scoped', scope: 'timeline', action });
      if (key.leftArrow) send({ type: 'tx-move', delta: -1 });
      else if (key.rightArrow) send({ type: 'tx-move', delta: 1 });
      else if (key.pageUp) send({ type: 'tx-move', delta: -10 });
      else if (key.pageDown) send({ type: 'tx-move', delta: 10 });
      else if (key.home) send({ type: 'tx-set', tx: range.first });
      else if (key.end) send({ type: 'tx-set', tx: range.last });
    },
    { isActive },
  );
}
