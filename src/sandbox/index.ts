// The sandbox: code that runs inside a vm context to make one app session
// deterministic. See docs/sandbox.md.
//
// Everything under src/sandbox runs in a bare vm context: it imports nothing
// but model types and its own files, and uses no Node API.
//
// The executor (host side) uses it through the object that entry.ts leaves on
// the context's global object (SandboxApi); the types and the pure helpers in
// factory.ts it may import directly.

import { appDefinitionOf } from './app.js';
import { DeterminismError, isDeterminismError, isRetryableError } from './errors.js';
import { SCOPE_PARAMETERS } from './factory.js';
import { installRealm, realmChanges } from './realm.js';
import { createSession, runFactory } from './session.js';

export { installRealm, realmChanges, type RealmHost, type RealmIntrinsics, type RealmInfo, type HostClass } from './realm.js';
export { createSession, runFactory, type SessionScope } from './session.js';
export { SCOPE_PARAMETERS, SANDBOX_GLOBAL, wrapAppFactory, type ScopeParameter, type WrapOptions } from './factory.js';
export { defineApp, appDefinitionOf } from './app.js';
export {
  DeterminismError,
  RetryableError,
  BridgeProtocolError,
  isDeterminismError,
  isRetryableError,
  type DeterminismErrorLike,
} from './errors.js';
export type * from './bridge.js';
export type * from './app-types.js';

/** Bumped when SandboxApi or SessionBridge change incompatibly. */
export const SANDBOX_API_VERSION = 1;

/** What the evaluated sandbox bundle exposes to the executor. */
export const sandboxApi = {
  version: SANDBOX_API_VERSION,
  installRealm,
  createSession,
  runFactory,
  realmChanges,
  appDefinitionOf,
  isDeterminismError,
  isRetryableError,
  /**
   * A DeterminismError of this realm (so app code's `instanceof` works), for
   * the host to throw from its own app API (ctx.tx inside a ctx.call, ...);
   * the stack starts at the caller of `hideFrom`.
   */
  determinismError: (construct: string, instead: string, hideFrom?: Function): Error => new DeterminismError(construct, instead, hideFrom),
  SCOPE_PARAMETERS,
};

export type SandboxApi = typeof sandboxApi;
