import { useEffect, type Dispatch } from 'react';
import type { TuiSource } from '../../services/tui-data.js';
import type { TxId } from '../../model/records.js';
import type { Action } from '../state.js';

// Loads the transaction the timeline is wound to, and the sessions alive at it.

/** The action that loads `tx` (or says why it cannot). */
export function loadTx(source: TuiSource, tx: TxId): Action {
  try {
    return { type: 'tx-loaded', view: source.tx(tx), alive: source.alive(tx) };
  } catch (error) {
    return { type: 'tx-failed', tx, message: error instanceof Error ? error.message : String(error) };
  }
}

/** `loaded`: the state already holds `tx` (the first one, loaded with the initial state). */
export function useTxData(source: TuiSource, tx: TxId, loaded: boolean, dispatch: Dispatch<Action>): void {
  useEffect(() => {
    if (tx === 0 || loaded) return;
    dispatch(loadTx(source, tx));
    // `loaded` is read when tx changes, not a reason to load again.
  }, [source, tx, dispatch]);
}
