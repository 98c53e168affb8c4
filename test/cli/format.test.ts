import { describe, expect, it } from 'vitest';
import { formatTable } from '../../src/commands/format.js';

// The table printer behind `replay sessions` and `replay wind`, at the sizes
// a production journal reaches.

describe('formatTable', () => {
  it('prints half a million rows, aligned to the widest cell', () => {
    const rows = Array.from({ length: 500_000 }, (_, i) => [String(i + 1), i === 123_456 ? 'a-much-longer-kind' : 'transfer', 'ok']);
    const lines = formatTable(['ID', 'KIND', 'STATUS'], rows, new Set([0])).replace(/\x1b\[[0-9;]*m/g, '').split('\n');
    expect(lines).toHaveLength(500_001);
    const statusAt = lines[0].indexOf('STATUS');
    expect(statusAt).toBe('500000'.length + 2 + 'a-much-longer-kind'.length + 2);
    for (const i of [1, 123_457, 500_000]) expect(lines[i].slice(statusAt)).toBe('ok');
    // Ids are right-aligned.
    expect(lines[1].startsWith('     1  ')).toBe(true);
  });
});
