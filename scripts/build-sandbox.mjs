// Part of `npm run build`, after tsc: bundles the compiled sandbox
// (dist/sandbox/entry.js) into dist/sandbox/sandbox.bundle.js, the script that
// src/executor/realm.ts evaluates in every vm context. Without it (running from
// src/ through tsx, or after a bare tsc) realm.ts bundles the sandbox with
// esbuild at run time instead, once per process (100-200 ms).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist'));
const { buildSandboxSource, SANDBOX_BUNDLE_FILE } = await import(path.join(dist, 'executor', 'realm.js'));
const dir = path.join(dist, 'sandbox');
const file = path.join(dir, SANDBOX_BUNDLE_FILE);
const tmp = `${file}.${process.pid}.tmp`;
fs.writeFileSync(tmp, buildSandboxSource(dir));
fs.renameSync(tmp, file);
