// Code inside a ctx.call() function (bridge.inCall() true) is the call's, and
// on replay that function does not run: its Math.random draws and timers must
// leave the session's own sequences (draw count, generator state, timer ids)
// exactly as if they had not happened.

import { beforeAll, describe, expect, it } from 'vitest';
import type { TimerRequest } from '../../src/sandbox/index.js';
import { xoshiroDraws } from '../helpers/xoshiro.js';
import { FakeBridge, createRealm, runApp, type Realm } from './harness.js';

/** A FakeBridge whose test says when the app is inside a call. */
class CallBridge extends FakeBridge {
  insideCall = false;
  readonly armed: { id: number; inCall: boolean }[] = [];
  inCall(): boolean {
    return this.insideCall;
  }
  override setTimer(timer: TimerRequest): void {
    this.armed.push({ id: timer.id, inCall: timer.inCall === true });
    super.setTimer(timer);
  }
}

let realm: Realm;
beforeAll(() => {
  realm = createRealm();
});

const SEED = [1, 2, 3, 4];
const CALL_SEED = [9, 8, 7, 6];

describe('Math.random inside a call', () => {
  it('draws from a generator of its own and neither counts nor advances the session generator', () => {
    const bridge = new CallBridge({ values: { 'random-seed': [SEED, CALL_SEED] } });
    const { scope, exports } = runApp(realm, `module.exports = () => Math.random();`, bridge);
    const draw = exports as unknown as () => number;
    const first = draw();
    bridge.insideCall = true;
    const inCall = [draw(), draw()];
    bridge.insideCall = false;
    const second = draw();
    expect(scope.randomDraws()).toBe(2);
    // The session's draws are its seed's first two, as if the call's had not been made.
    expect([first, second]).toEqual(xoshiroDraws(SEED, 2));
    // The call's come from the seed it asked for (which the host answers live and does not journal).
    expect(inCall).toEqual(xoshiroDraws(CALL_SEED, 2));
    expect(bridge.valueSources).toEqual(['random-seed', 'random-seed']);
  });

  it('asks for its seed apart from the session, even when the call draws first', () => {
    const bridge = new CallBridge({ values: { 'random-seed': [CALL_SEED, SEED] } });
    const { scope, exports } = runApp(realm, `module.exports = () => Math.random();`, bridge);
    const draw = exports as unknown as () => number;
    bridge.insideCall = true;
    const inCall = draw();
    bridge.insideCall = false;
    expect(scope.randomDraws()).toBe(0);
    expect([inCall, draw()]).toEqual([xoshiroDraws(CALL_SEED, 1)[0], xoshiroDraws(SEED, 1)[0]]);
    expect(scope.randomDraws()).toBe(1);
  });
});

describe('timers inside a call', () => {
  it('are numbered apart (-1, -2, ...) and marked inCall, so the session timers keep their ids', () => {
    const bridge = new CallBridge();
    const { exports } = runApp(
      realm,
      `module.exports = { arm: () => setTimeout(() => {}, 5), clear: (t) => clearTimeout(t), refresh: (t) => t.refresh(), id: (t) => +t };`,
      bridge,
    );
    const api = exports as unknown as { arm: () => object; clear: (t: object) => void; refresh: (t: object) => void; id: (t: object) => number };
    bridge.insideCall = true;
    const a = api.arm();
    const b = api.arm();
    bridge.insideCall = false;
    const s = api.arm();
    expect([api.id(a), api.id(b), api.id(s)]).toEqual([-1, -2, 1]);
    // A call's timer stays the call's when re-armed, wherever from.
    api.refresh(a);
    expect(api.id(a)).toBe(-3);
    api.clear(b);
    bridge.insideCall = true;
    const c = api.arm();
    expect(api.id(c)).toBe(-4);
    expect(bridge.armed).toEqual([
      { id: -1, inCall: true },
      { id: -2, inCall: true },
      { id: 1, inCall: false },
      { id: -3, inCall: true },
      { id: -4, inCall: true },
    ]);
    expect(bridge.events.filter((e) => e.op === 'clearTimer')).toEqual([
      { op: 'clearTimer', id: -1 },
      { op: 'clearTimer', id: -2 },
    ]);
  });
});
