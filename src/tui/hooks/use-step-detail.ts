import { useEffect, useRef, type Dispatch } from 'react';
import type { StepView, TuiSource } from '../../services/tui-data.js';
import { Latest } from '../latest.js';
import type { Action } from '../state.js';

// The selected step's state, from the stepping API: every cursor move asks
// the source to re-execute the session up to that step (stepTo). One move
// runs at a time and only the latest target waits, so a held key never
// queues a re-execution per repeat; input is never blocked, and the diff
// shows what it had until the answer for the cursor's step arrives.

export function useStepDetail(source: TuiSource, session: number | null, run: number, target: number | null, dispatch: Dispatch<Action>): void {
  const latest = useRef<Latest<number, StepView> | null>(null);
  useEffect(() => {
    if (session === null) return;
    const l = new Latest<number, StepView>(
      (step) => source.stepTo(session, step),
      (step, outcome) =>
        dispatch(
          outcome.ok
            ? { type: 'step-detail', session, state: outcome.value }
            : { type: 'step-detail-failed', session, step, message: outcome.error instanceof Error ? outcome.error.message : String(outcome.error) },
        ),
    );
    latest.current = l;
    return () => {
      l.stop();
      if (latest.current === l) latest.current = null;
    };
  }, [source, session, run, dispatch]);
  // After the effect above (effects run in order), so a new session's first target reaches its own Latest.
  useEffect(() => {
    if (target !== null) latest.current?.want(target);
  }, [target, session, run]);
}
