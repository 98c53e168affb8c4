import * as inspector from 'node:inspector';
import { EnvironmentError, UsageError } from '../model/errors.js';

// `--inspect`: the Node inspector for a replay, so a debugger can step
// through the session in the app's TypeScript (the bundles carry source maps).

export interface InspectorHandle {
  /** The inspector's WebSocket URL (ws://host:port/id). */
  url: string;
  /** A URL Chrome opens as DevTools attached to this process. */
  devtoolsUrl: string;
  /** Block until a debugger attaches and resumes. */
  waitForDebugger(): void;
  close(): void;
}

export interface InspectAddress {
  host: string;
  port: number;
}

/** `host:port`, `[v6]:port` or a bare port; port 0 picks a free one. */
export function parseInspectAddress(address: string): InspectAddress {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address) ?? (/^\d+$/.test(address) ? [address, undefined, '127.0.0.1', address] : null);
  if (!match) throw new UsageError(`--inspect-address must be host:port, such as 127.0.0.1:9229, got "${address}"`);
  const host = match[1] ?? match[2] ?? '127.0.0.1';
  const port = Number(match[3]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--inspect-address has an invalid port: "${address}"`);
  return { host, port };
}

/** The DevTools URL for an inspector WebSocket URL. */
export function devtoolsUrl(url: string): string {
  return `devtools://devtools/bundled/js_app.html?experiments=true&v8only=true&ws=${url.replace(/^ws:\/\//, '')}`;
}

/** host:port of an inspector WebSocket URL (what chrome://inspect and VS Code ask for). */
export function inspectorHostPort(url: string): string {
  return /^ws:\/\/([^/]+)/.exec(url)?.[1] ?? url;
}

export function openInspector(address = '127.0.0.1:0'): InspectorHandle {
  const { host, port } = parseInspectAddress(address);
  try {
    inspector.open(port, host, false);
  } catch (error) {
    throw new EnvironmentError(`cannot start the inspector on ${host}:${port}: ${(error as Error).message}`, 'E_INSPECTOR', { cause: error });
  }
  const url = inspector.url();
  if (!url) throw new EnvironmentError(`cannot start the inspector on ${host}:${port} (is the port in use?)`, 'E_PORT_IN_USE');
  return {
    url,
    devtoolsUrl: devtoolsUrl(url),
    waitForDebugger: () => inspector.waitForDebugger(),
    close: () => inspector.close(),
  };
}
