import type { Dispatch } from 'react';
import { useInput } from 'ink';
import type { Action, Scope } from '../state.js';

// Keys that work whichever pane has the focus (not while the filter is typed
// or an overlay is open): Tab, [ ], g, n p, c, r, ?, q, and i R for the
// debugger under --inspect. (Ctrl-C: use-quit-keys.)
//
// Every action is scoped (see Scope in state.ts). The keys after `g`, `?` or
// Enter can reach this handler before ink has moved them to the prompt's or
// overlay's handler; they are passed on in the scope they now belong to, and
// the reducer keeps whichever applies.

export function useGlobalKeys(dispatch: Dispatch<Action>, isActive: boolean): void {
  useInput(
    (input, key) => {
      const send = (scope: Scope, action: Action): void => dispatch({ type: 'scoped', scope, action });
      if (key.tab) return send('global', { type: key.shift ? 'focus-prev' : 'focus-next' });
      if (key.return) return send('goto', { type: 'goto-submit' });
      if (key.escape) {
        for (const scope of ['goto', 'help', 'detail', 'debugger'] as const) send(scope, { type: 'close-overlay' });
        return;
      }
      if (key.backspace || key.delete) return send('goto', { type: 'goto-backspace' });
      if (key.ctrl || key.meta) return;
      // Keys typed faster than they are read arrive as one string ("nnn"): each counts.
      for (const ch of input) {
        const actions: { scope: Scope; action: Action }[] = [];
        const command = GLOBAL_KEYS[ch];
        if (command) actions.push({ scope: 'global', action: command });
        if (ch === '\r' || ch === '\n') actions.push({ scope: 'goto', action: { type: 'goto-submit' } });
        else if (ch >= ' ') actions.push({ scope: 'goto', action: { type: 'goto-type', text: ch } });
        if (actions.length > 0) dispatch({ type: 'first-in-scope', actions });
      }
    },
    { isActive },
  );
}

const GLOBAL_KEYS: Record<string, Action> = {
  q: { type: 'quit' },
  '[': { type: 'tx-move', delta: -1 },
  ']': { type: 'tx-move', delta: 1 },
  g: { type: 'goto-open' },
  n: { type: 'step-move', delta: 1 },
  p: { type: 'step-move', delta: -1 },
  c: { type: 'continue' },
  r: { type: 'rerun' },
  '?': { type: 'help' },
  i: { type: 'debugger-info' },
  R: { type: 'debugger-resume' },
};
