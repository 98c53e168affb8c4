// The sandbox bundle's entry point (esbuild: format 'iife', platform
// 'neutral'). Evaluating the bundle in a vm context leaves the SandboxApi on
// the context's global object under SANDBOX_GLOBAL; installRealm removes it
// again, so app code never sees it. Never import this file in the host realm.

import { SANDBOX_GLOBAL } from './factory.js';
import { sandboxApi } from './index.js';

Object.defineProperty(globalThis, SANDBOX_GLOBAL, { value: sandboxApi, writable: false, enumerable: false, configurable: true });
