import type { Dispatch } from 'react';
import { useInput } from 'ink';
import type { Action } from '../state.js';

// Ctrl-C quits from anywhere, even while a filter or a prompt is being typed
// (ink's own Ctrl-C handling is off, so that quitting always goes through the
// same clean exit as `q`).

export function useQuitKeys(dispatch: Dispatch<Action>): void {
  useInput((input, key) => {
    if (key.ctrl && input === 'c') dispatch({ type: 'quit' });
  });
}
