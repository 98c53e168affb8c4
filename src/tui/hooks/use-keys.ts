import { useRef, type Dispatch } from 'react';
import { useInput } from 'ink';
import { keyActions, type KeyContext } from '../key-map.js';
import type { Action } from '../state.js';

// Every key but Ctrl-C (use-quit-keys): one handler, always listening, that
// sends each key as its meaning per scope (key-map.ts); the reducer applies
// the one in force when the key lands. The sizes are the last frame's.

export function useKeys(dispatch: Dispatch<Action>, context: KeyContext): void {
  const ctx = useRef(context);
  ctx.current = context;
  useInput((input, key) => {
    for (const actions of keyActions(input, key, ctx.current)) dispatch({ type: 'first-in-scope', actions });
  });
}
