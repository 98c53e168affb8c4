import { useEffect, type Dispatch } from 'react';
import type { ReplayEvent, TuiSource } from '../../services/tui-data.js';
import type { Action } from '../state.js';

// Reads the selected session's steps, then re-executes it with the replay
// engine (or takes its cached trace), feeding the engine's events to the
// reducer as they come, a frame's worth at a time.

const FRAME_MS = 33;

export function useSessionReplay(source: TuiSource, session: number | null, run: number, fresh: boolean, dispatch: Dispatch<Action>): void {
  useEffect(() => {
    if (session === null) return;
    let live = true;
    try {
      dispatch({ type: 'steps-loaded', session, steps: source.steps(session) });
    } catch (error) {
      dispatch({ type: 'steps-failed', session, message: error instanceof Error ? error.message : String(error) });
      return;
    }
    let pending: ReplayEvent[] = [];
    let timer: NodeJS.Timeout | null = null;
    const flush = (): void => {
      timer = null;
      if (!live || pending.length === 0) return;
      const events = pending;
      pending = [];
      dispatch({ type: 'replay-events', session, run, events });
    };
    source
      .replay(session, { event: (event) => {
        pending.push(event);
        timer ??= setTimeout(flush, FRAME_MS);
      } }, { fresh })
      .then(
        (trace) => {
          if (timer) clearTimeout(timer);
          if (live) dispatch({ type: 'replay-done', session, run, trace });
        },
        (error: unknown) => {
          if (timer) clearTimeout(timer);
          if (live) dispatch({ type: 'steps-failed', session, message: error instanceof Error ? error.message : String(error) });
        },
      );
    return () => {
      live = false;
      if (timer) clearTimeout(timer);
    };
  }, [source, session, run, fresh, dispatch]);
}
