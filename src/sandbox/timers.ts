// The session's timers. The sandbox numbers timers itself (1, 2, 3... per
// session, in arming order) and hands each to the bridge with a `fire`
// callback; the host decides when they fire. Handles behave like Node's
// Timeout and Immediate objects: ref/unref/hasRef/refresh/close, and they turn
// into their id when used as a number, so clearTimeout accepts either.
// Timers armed inside a ctx.call() function (bridge.inCall()) belong to the
// call: they are numbered apart (-1, -2, ...) so that the session's own
// numbering is the same on replay, where the call's function does not run.

import type { SessionBridge, TimerKind } from './bridge.js';
import { RealmTypeError } from './intrinsics.js';

const { apply } = Reflect;
const { trunc } = Math;
const TIMEOUT_MAX = 2 ** 31 - 1;

interface TimerState {
  readonly control: TimerControl;
  readonly kind: TimerKind;
  readonly callback: Function;
  readonly args: unknown[];
  readonly delayMs: number;
  /** Armed inside a ctx.call() function: the call's, not the session's. */
  readonly inCall: boolean;
  /** Changes when the timer is refreshed. */
  id: number;
  timer: Timer | null;
}

interface TimerControl {
  refresh(state: TimerState): void;
  clear(id: number): void;
}

let stateOf: (timer: Timer) => TimerState;

/** A timer handle (Node's Timeout, or Immediate for setImmediate). The class is shared by all sessions and frozen. */
export class Timer {
  readonly #state: TimerState;
  #ref = true;
  static {
    stateOf = (timer) => timer.#state;
  }
  constructor(state: TimerState) {
    this.#state = state;
  }
  /** Node semantics only: the host decides what an unreferenced timer means for the session. */
  ref(): this {
    this.#ref = true;
    return this;
  }
  unref(): this {
    this.#ref = false;
    return this;
  }
  hasRef(): boolean {
    return this.#ref;
  }
  /** Re-arms the timer with its original delay, under a new id (also after a timeout has fired, as in Node). */
  refresh(): this {
    if (this.#state.kind !== 'immediate') this.#state.control.refresh(this.#state);
    return this;
  }
  close(): this {
    this.#state.control.clear(this.#state.id);
    return this;
  }
  [Symbol.toPrimitive](): number {
    return this.#state.id;
  }
}

function normalizeDelay(delay: unknown): number {
  const ms = +(delay as number);
  return ms >= 1 && ms <= TIMEOUT_MAX ? trunc(ms) : 1;
}

function describe(value: unknown): string {
  return value === null ? 'null' : typeof value === 'object' ? 'an instance of Object' : `type ${typeof value} (${String(value)})`;
}

export interface SessionTimers {
  setTimeout: (callback: (...args: unknown[]) => void, delay?: number, ...args: unknown[]) => Timer;
  clearTimeout: (handle: unknown) => void;
  setInterval: (callback: (...args: unknown[]) => void, delay?: number, ...args: unknown[]) => Timer;
  clearInterval: (handle: unknown) => void;
  setImmediate: (callback: (...args: unknown[]) => void, ...args: unknown[]) => Timer;
  clearImmediate: (handle: unknown) => void;
}

export function createSessionTimers(bridge: SessionBridge): SessionTimers {
  let nextId = 1;
  let nextCallId = -1;
  const inCall = typeof bridge.inCall === 'function' ? () => bridge.inCall!() === true : () => false;
  /** Armed timers by id: a timeout or immediate leaves when it fires, an interval when it is cleared. */
  const active = new Map<number, TimerState>();

  const schedule = (state: TimerState): void => {
    const id = state.id;
    active.set(id, state);
    const fire = (): void => {
      if (active.get(id) !== state) return;
      if (state.kind !== 'interval') active.delete(id);
      apply(state.callback, state.timer, state.args);
    };
    if (state.inCall) bridge.setTimer({ id, kind: state.kind, delayMs: state.delayMs, fire, inCall: true });
    else bridge.setTimer({ id, kind: state.kind, delayMs: state.delayMs, fire });
  };

  const control: TimerControl = {
    refresh(state) {
      if (active.get(state.id) === state) {
        active.delete(state.id);
        bridge.clearTimer(state.id);
      }
      state.id = state.inCall ? nextCallId-- : nextId++;
      schedule(state);
    },
    clear(id) {
      if (!active.has(id)) return;
      active.delete(id);
      bridge.clearTimer(id);
    },
  };

  const arm = (kind: TimerKind, callback: unknown, delayMs: number, args: unknown[]): Timer => {
    if (typeof callback !== 'function') {
      throw new RealmTypeError(`The "callback" argument must be of type function. Received ${describe(callback)}`);
    }
    const call = inCall();
    const state: TimerState = { control, kind, callback, args, delayMs, inCall: call, id: call ? nextCallId-- : nextId++, timer: null };
    const timer = new Timer(state);
    state.timer = timer;
    schedule(state);
    return timer;
  };

  const clear = (handle: unknown): void => {
    if (handle === undefined || handle === null) return;
    if (handle instanceof Timer) {
      const state = stateOf(handle);
      // A handle from another session (module state leaking by hand) is not ours to clear.
      if (state.control === control) control.clear(state.id);
    } else control.clear(+(handle as number));
  };

  const restArgs = (all: IArguments, from: number): unknown[] => {
    const args: unknown[] = [];
    for (let i = from; i < all.length; i++) args.push(all[i]);
    return args;
  };

  return {
    setTimeout: function setTimeout(callback: unknown, delay?: unknown) {
      return arm('timeout', callback, normalizeDelay(delay), restArgs(arguments, 2));
    } as SessionTimers['setTimeout'],
    clearTimeout: function clearTimeout(handle: unknown) {
      clear(handle);
    },
    setInterval: function setInterval(callback: unknown, delay?: unknown) {
      return arm('interval', callback, normalizeDelay(delay), restArgs(arguments, 2));
    } as SessionTimers['setInterval'],
    clearInterval: function clearInterval(handle: unknown) {
      clear(handle);
    },
    setImmediate: function setImmediate(callback: unknown) {
      return arm('immediate', callback, 0, restArgs(arguments, 1));
    } as SessionTimers['setImmediate'],
    clearImmediate: function clearImmediate(handle: unknown) {
      clear(handle);
    },
  };
}
