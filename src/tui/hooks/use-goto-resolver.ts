import { useEffect, type Dispatch } from 'react';
import type { TuiSource } from '../../services/tui-data.js';
import type { Action, Overlay } from '../state.js';

// Resolves the `g` prompt once Enter marked it pending: a transaction id or
// an ISO time, through the journal's catalog. Winds there, or shows why not.

export function useGotoResolver(source: TuiSource, overlay: Overlay, dispatch: Dispatch<Action>): void {
  const pending = overlay?.kind === 'goto' && overlay.pending ? overlay.text : null;
  useEffect(() => {
    if (pending === null) return;
    try {
      dispatch({ type: 'tx-set', tx: source.resolveTx(pending) });
    } catch (error) {
      dispatch({ type: 'goto-error', message: error instanceof Error ? error.message : String(error) });
    }
  }, [source, pending, dispatch]);
}
