import { useEffect, type Dispatch } from 'react';
import type { TuiSource } from '../../services/tui-data.js';
import type { Action, Overlay } from '../state.js';

// Resolves the `g` prompt once Enter marked it pending: a transaction id, an
// ISO time, or a session (`s4191`, the Windback-Session header's id), through
// the journal's catalog. Winds there (and opens the session), or shows why not.

const SESSION = /^(?:s|session\s*|#)\s*(\d+)$/i;

export function useGotoResolver(source: TuiSource, overlay: Overlay, dispatch: Dispatch<Action>): void {
  const pending = overlay?.kind === 'goto' && overlay.pending ? overlay.text : null;
  useEffect(() => {
    if (pending === null) return;
    try {
      const session = SESSION.exec(pending.trim());
      if (session !== null) {
        const id = Number(session[1]);
        dispatch({ type: 'goto-session', session: id, tx: source.txForSession(id) });
        return;
      }
      dispatch({ type: 'tx-set', tx: source.resolveTx(pending) });
    } catch (error) {
      dispatch({ type: 'goto-error', message: error instanceof Error ? error.message : String(error) });
    }
  }, [source, pending, dispatch]);
}
