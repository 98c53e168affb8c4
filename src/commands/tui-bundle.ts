import { createHash } from 'node:crypto';
import * as fs from 'node:fs';

// Which TUI `replay tui` loads: dist/tui/run.bundle.js (ink, react and the
// TUI in one file, scripts/build-tui.mjs) when it was built from the compiled
// TUI now next to it, else the separate modules. The build records the
// bundled files of dist/tui and a hash of their contents; a `tsc` after it
// that changed them makes the bundle stale (one that changed nothing, which
// still rewrites every file, does not).

export const BUNDLE_FILE = 'run.bundle.js';
export const BUNDLE_INPUTS_FILE = 'run.bundle.inputs.json';

export interface BundleInputs {
  /** The bundled files of dist/tui, relative to it. */
  files: string[];
  sha256: string;
}

/** The hash of `files` (relative to the directory `dir`), as the build records it. */
export function inputsHash(dir: URL, files: string[]): string {
  const hash = createHash('sha256');
  for (const file of files) hash.update(file).update('\0').update(fs.readFileSync(new URL(file, dir))).update('\0');
  return hash.digest('hex');
}

/** The bundle in the directory `dir` (a URL ending in /) if it matches the compiled TUI there, else null. */
export function currentBundle(dir: URL): URL | null {
  try {
    const inputs = JSON.parse(fs.readFileSync(new URL(BUNDLE_INPUTS_FILE, dir), 'utf8')) as BundleInputs;
    const bundle = new URL(BUNDLE_FILE, dir);
    if (inputs.files.length > 0 && fs.existsSync(bundle) && inputsHash(dir, inputs.files) === inputs.sha256) return bundle;
  } catch {
    // no bundle built here (running from src/, a tsc-only build), or a file gone since
  }
  return null;
}
