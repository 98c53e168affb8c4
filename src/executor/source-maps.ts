import * as path from 'node:path';
import sourceMapSupport from 'source-map-support';

// Source maps of the app bundles this process runs, by script file name, so
// that stack traces (under --debug) and divergence locations point at the
// user's TypeScript. Errors thrown from vm code are not mapped by a plain
// install; retrieveSourceMap hands over the bundle's map (STACK.md).

const maps = new Map<string, string>();
/** The directory a bundle's sources came from, by script file name. */
const sourceRoots = new Map<string, string>();
/** Every source of a bundle (the app's and its dependencies'), as absolute paths, by script file name. */
const sourceFiles = new Map<string, Set<string>>();
let installed = false;

export function registerSourceMap(filename: string, map: string): void {
  maps.set(filename, map);
  try {
    const { sourceRoot: root, sources } = JSON.parse(map) as { sourceRoot?: string; sources?: unknown[] };
    if (root) sourceRoots.set(filename, root.endsWith('/') ? root : `${root}/`);
    if (root && Array.isArray(sources)) sourceFiles.set(filename, new Set(sources.map((s) => path.resolve(root, String(s)))));
  } catch {
    // a map without a sourceRoot: raw frames only
  }
  if (installed) return;
  installed = true;
  sourceMapSupport.install({
    environment: 'node',
    handleUncaughtExceptions: false,
    retrieveSourceMap(source: string) {
      const map = maps.get(source);
      return map ? { url: source, map } : null;
    },
  });
}

export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

/** Map a position in a registered bundle to the original source, or null. */
export function originalPosition(filename: string, line: number, column: number): SourceLocation | null {
  if (!maps.has(filename)) return null;
  const mapped = sourceMapSupport.mapSourcePosition({ source: filename, line, column });
  if (mapped.source === filename) return null;
  return { file: mapped.source.replace(/^file:\/\//, ''), line: mapped.line, column: mapped.column };
}

/**
 * The first frame of the current stack (or of `error`) that lies in app code,
 * mapped to its source. Frames in the sandbox and the host are skipped.
 */
export function appLocation(filename: string, error?: { stack?: string }): SourceLocation | null {
  if (error) return locationInStack(filename, error.stack ?? '');
  for (const site of callSites()) {
    if (site.getFileName() !== filename) continue;
    const line = site.getLineNumber();
    const column = site.getColumnNumber();
    if (line === null || column === null) continue;
    return mapped(filename, line, column);
  }
  return null;
}

/**
 * Where the app's bundle raised `error`: its innermost frame in any source
 * the bundle holds, the app's own or a dependency's (node_modules), mapped to
 * that source. For an error from the module's top level, which may come from
 * a dependency (a package that requires a Node built-in) reached through the
 * app's import line.
 */
export function bundleLocation(filename: string, error: { stack?: string }): SourceLocation | null {
  const files = sourceFiles.get(filename);
  for (const line of (error.stack ?? '').split('\n')) {
    const frame = /\(?((?:file:\/\/)?[^()\s]+?):(\d+):(\d+)\)?\s*$/.exec(line.trim());
    if (!frame) continue;
    const file = frame[1].replace(/^file:\/\//, '');
    if (files?.has(file)) return { file, line: Number(frame[2]), column: Number(frame[3]) };
    if (file === filename) {
      // A frame the stack left unmapped: one in the bundler's own helpers maps to no source.
      const original = originalPosition(filename, Number(frame[2]), Number(frame[3]) - 1);
      if (original) return { ...original, column: original.column + 1 };
    }
  }
  return null;
}

/** Structured frames of the current stack, whatever formats stack strings. */
function callSites(): NodeJS.CallSite[] {
  const original = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  Error.prepareStackTrace = (_error, sites) => sites;
  Error.stackTraceLimit = 50;
  try {
    const holder: { stack?: unknown } = {};
    Error.captureStackTrace(holder, callSites);
    return (holder.stack as NodeJS.CallSite[] | undefined) ?? [];
  } finally {
    Error.prepareStackTrace = original;
    Error.stackTraceLimit = limit;
  }
}

/**
 * In a stack string: a raw frame of the bundle (errors made inside the vm
 * context are not mapped), or a frame already mapped into the app's sources.
 */
function locationInStack(filename: string, stack: string): SourceLocation | null {
  const root = sourceRoots.get(filename);
  for (const line of stack.split('\n')) {
    const frame = /\(?((?:file:\/\/)?[^()\s]+?):(\d+):(\d+)\)?\s*$/.exec(line.trim());
    if (!frame) continue;
    const [, file, l, c] = frame;
    if (file === filename) return mapped(filename, Number(l), Number(c));
    const plain = file.replace(/^file:\/\//, '');
    if (root && plain.startsWith(root) && !plain.includes('/node_modules/')) return { file: plain, line: Number(l), column: Number(c) };
  }
  return null;
}

/** Map a 1-based bundle line and column; columns in results are 1-based too. */
function mapped(filename: string, line: number, column: number): SourceLocation {
  const original = originalPosition(filename, line, column - 1);
  return original ? { ...original, column: original.column + 1 } : { file: filename, line, column };
}

/** A stack string with the bundle's frames rewritten to the app's sources. */
export function mapStack(filename: string, stack: string): string {
  if (!maps.has(filename)) return stack;
  const escaped = filename.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return stack.replace(new RegExp(`${escaped}:(\\d+):(\\d+)`, 'g'), (whole, line: string, column: string) => {
    const original = originalPosition(filename, Number(line), Number(column) - 1);
    return original ? `${original.file}:${original.line}:${original.column + 1}` : whole;
  });
}
