import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

// The key of a cached synthetic journal: a hash of the sources that decide
// the bytes the generator writes, so a change to any of them regenerates it.

const root = path.dirname(path.dirname(path.dirname(fileURLToPath(import.meta.url))));

export const GENERATOR_SOURCES = [
  'scripts/synthetic-journal.ts',
  'src/model/records.ts',
  'src/journal/codec.ts',
  'src/journal/constants.ts',
  'src/journal/segment-header.ts',
  'src/journal/writer.ts',
];

export function generatorVersion(): string {
  const hash = createHash('sha256');
  for (const file of GENERATOR_SOURCES) {
    hash.update(file).update('\0');
    try {
      hash.update(fs.readFileSync(path.join(root, file)));
    } catch {
      hash.update('missing');
    }
  }
  return hash.digest('hex').slice(0, 12);
}
