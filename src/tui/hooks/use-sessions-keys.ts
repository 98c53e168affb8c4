import type { Dispatch } from 'react';
import { useInput } from 'ink';
import type { Action } from '../state.js';

// The sessions pane: ↑/↓ move, Enter replays, `/` filters. While the filter
// is typed, printable keys go to it (Enter keeps it, Esc clears it); the
// reducer knows which, from the state as it is when the key lands.

export function useSessionsKeys(dispatch: Dispatch<Action>, page: number, isActive: boolean): void {
  useInput(
    (input, key) => {
      const send = (action: Action): void => dispatch({ type: 'scoped', scope: 'sessions', action });
      if (key.upArrow) return send({ type: 'session-move', delta: -1 });
      if (key.downArrow) return send({ type: 'session-move', delta: 1 });
      if (key.pageUp) return send({ type: 'session-move', delta: -page });
      if (key.pageDown) return send({ type: 'session-move', delta: page });
      if (key.home) return send({ type: 'session-move', delta: -Infinity });
      if (key.end) return send({ type: 'session-move', delta: Infinity });
      if (key.return) return send({ type: 'sessions-enter' });
      if (key.escape) return send({ type: 'sessions-escape' });
      if (key.backspace || key.delete) return send({ type: 'sessions-backspace' });
      if (key.ctrl || key.meta || key.tab) return;
      if (input) send({ type: 'sessions-text', text: input });
    },
    { isActive },
  );
}
