import { useEffect, type Dispatch } from 'react';
import type { TuiSource } from '../../services/tui-data.js';
import type { Action } from '../state.js';

// Loads the transaction the timeline is wound to, and the sessions alive at it.

export function useTxData(source: TuiSource, tx: number, dispatch: Dispatch<Action>): void {
  useEffect(() => {
    if (tx === 0) return;
    try {
      dispatch({ type: 'tx-loaded', view: source.tx(tx), alive: source.alive(tx) });
    } catch (error) {
      dispatch({ type: 'tx-failed', tx, message: error instanceof Error ? error.message : String(error) });
    }
  }, [source, tx, dispatch]);
}
