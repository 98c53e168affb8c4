import type { Dispatch } from 'react';
import { useInput } from 'ink';
import type { Action, Overlay, Scope } from '../state.js';

// Keys while an overlay is open: the help (any of ? Esc q Enter closes it),
// the debugger's (i Esc q Enter close it; R resumes),
// the step view (scroll; Esc, Enter or q closes it), and the `g` prompt
// (type a transaction id or an ISO time; Enter goes, Esc cancels). The
// prompt's Enter only marks it pending: useGotoResolver resolves the text the
// reducer holds, so that no key typed just before Enter is lost.

export function useOverlayKeys(dispatch: Dispatch<Action>, overlay: Overlay, detailMax: number, page: number): void {
  useInput(
    (input, key) => {
      if (!overlay) return;
      const scope: Scope = overlay.kind;
      const send = (action: Action): void => dispatch({ type: 'scoped', scope, action });
      switch (overlay.kind) {
        case 'help':
          if (key.escape || key.return || input === '?' || input === 'q') send({ type: 'close-overlay' });
          return;
        case 'debugger':
          if (key.escape || key.return || input === 'i' || input === 'q') send({ type: 'close-overlay' });
          else if (input === 'R') send({ type: 'debugger-resume' });
          return;
        case 'detail':
          if (key.escape || key.return || input === 'q') send({ type: 'close-overlay' });
          else if (key.downArrow || input === 'j') send({ type: 'overlay-scroll', delta: 1, max: detailMax });
          else if (key.upArrow || input === 'k') send({ type: 'overlay-scroll', delta: -1, max: detailMax });
          else if (key.pageDown || input === ' ') send({ type: 'overlay-scroll', delta: page, max: detailMax });
          else if (key.pageUp) send({ type: 'overlay-scroll', delta: -page, max: detailMax });
          else if (key.home) send({ type: 'overlay-scroll', delta: -Infinity, max: detailMax });
          else if (key.end) send({ type: 'overlay-scroll', delta: Infinity, max: detailMax });
          return;
        case 'goto':
          if (key.escape) return send({ type: 'close-overlay' });
          if (key.backspace || key.delete) return send({ type: 'goto-backspace' });
          if (key.return) return send({ type: 'goto-submit' });
          if (key.ctrl || key.meta || key.tab) return;
          for (const ch of input) {
            if (ch === '\r' || ch === '\n') send({ type: 'goto-submit' });
            else if (ch >= ' ') send({ type: 'goto-type', text: ch });
          }
      }
    },
    { isActive: overlay !== null },
  );
}
