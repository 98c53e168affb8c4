import { useEffect, type Dispatch } from 'react';
import type { DebuggerFeed } from '../../services/replay-child.js';
import type { Action } from '../state.js';

// Under --inspect: follows the debugger's status into the reducer, and
// resumes it each time `R` bumps `resumes`.

export function useDebugger(feed: DebuggerFeed | null | undefined, resumes: number, dispatch: Dispatch<Action>): void {
  useEffect(() => {
    if (!feed) return;
    dispatch({ type: 'debugger-status', status: feed.status() });
    return feed.subscribe((status) => dispatch({ type: 'debugger-status', status }));
  }, [feed, dispatch]);
  useEffect(() => {
    if (feed && resumes > 0) feed.resume();
  }, [feed, resumes]);
}
