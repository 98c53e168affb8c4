// For stray-rejections.test.ts: loads an app (so the stray-rejection guard is
// installed), then leaves a promise rejected by host code unhandled. That is
// Windback's bug, not the app's, and must still end the process.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadApp } from '../../src/runtime/app-host.js';

const journalDir = fs.mkdtempSync(path.join(os.tmpdir(), 'windback-stray-host-'));
try {
  await loadApp(process.argv[2], { journalDir, timeZone: 'UTC', locale: 'en-US' });
} finally {
  fs.rmSync(journalDir, { recursive: true, force: true });
}
console.log('app loaded');
void Promise.reject(new Error('a host promise nobody handled'));
setTimeout(() => console.log('still alive'), 200);
