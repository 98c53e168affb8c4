// The session's console: everything goes to bridge.log(level, args), which
// the host prints live and silences on replay. console.time() measures with
// the session's performance.now(), so even its output replays exactly.

import type { LogLevel, SessionBridge } from './bridge.js';

export interface SessionConsole {
  log(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
  debug(...args: unknown[]): void;
  trace(...args: unknown[]): void;
  dir(value?: unknown, options?: unknown): void;
  dirxml(...args: unknown[]): void;
  table(data?: unknown, properties?: unknown): void;
  assert(condition?: unknown, ...args: unknown[]): void;
  count(label?: string): void;
  countReset(label?: string): void;
  time(label?: string): void;
  timeLog(label?: string, ...args: unknown[]): void;
  timeEnd(label?: string): void;
  group(...label: unknown[]): void;
  groupCollapsed(...label: unknown[]): void;
  groupEnd(): void;
}

function formatDuration(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(3)}s` : `${ms.toFixed(3)}ms`;
}

export function createSessionConsole(bridge: SessionBridge, now: () => number): SessionConsole {
  const at = (level: LogLevel) =>
    function (...args: unknown[]): void {
      bridge.log(level, args);
    };
  const counts = new Map<string, number>();
  const started = new Map<string, number>();
  const label = (value: unknown): string => (value === undefined ? 'default' : String(value));
  const log = at('log');
  return {
    log,
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    debug: at('debug'),
    trace: function trace(...args: unknown[]): void {
      bridge.log('debug', ['Trace:', ...args]);
    },
    dir: function dir(value?: unknown): void {
      bridge.log('log', [value]);
    },
    dirxml: log,
    table: function table(data?: unknown): void {
      bridge.log('log', [data]);
    },
    assert: function assert(condition?: unknown, ...args: unknown[]): void {
      if (condition) return;
      if (typeof args[0] === 'string') args[0] = `Assertion failed: ${args[0]}`;
      else args.unshift('Assertion failed');
      bridge.log('warn', args);
    },
    count: function count(name?: string): void {
      const key = label(name);
      const n = (counts.get(key) ?? 0) + 1;
      counts.set(key, n);
      bridge.log('log', [`${key}: ${n}`]);
    },
    countReset: function countReset(name?: string): void {
      counts.delete(label(name));
    },
    time: function time(name?: string): void {
      const key = label(name);
      if (started.has(key)) bridge.log('warn', [`Label '${key}' already exists for console.time()`]);
      else started.set(key, now());
    },
    timeLog: function timeLog(name?: string, ...args: unknown[]): void {
      const key = label(name);
      const start = started.get(key);
      if (start === undefined) bridge.log('warn', [`No such label '${key}' for console.timeLog()`]);
      else bridge.log('log', [`${key}: ${formatDuration(now() - start)}`, ...args]);
    },
    timeEnd: function timeEnd(name?: string): void {
      const key = label(name);
      const start = started.get(key);
      if (start === undefined) bridge.log('warn', [`No such label '${key}' for console.timeEnd()`]);
      else {
        started.delete(key);
        bridge.log('log', [`${key}: ${formatDuration(now() - start)}`]);
      }
    },
    group: function group(...args: unknown[]): void {
      if (args.length > 0) bridge.log('log', args);
    },
    groupCollapsed: function groupCollapsed(...args: unknown[]): void {
      if (args.length > 0) bridge.log('log', args);
    },
    groupEnd: function groupEnd(): void {},
  };
}
