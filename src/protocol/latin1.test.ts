import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readLatin1, writeLatin1 } from './latin1.js';

test('every byte value round-trips through writeLatin1 and readLatin1 at an offset', () => {
  const s = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join('');
  const b = Buffer.alloc(300, 0xaa);
  assert.equal(writeLatin1(b, s, 10), 256);
  assert.deepEqual([...b.subarray(10, 266)], [...Array(256).keys()]);
  // nothing written outside the range
  assert.equal(b[9], 0xaa);
  assert.equal(b[266], 0xaa);
  assert.equal(readLatin1(b, 10, 266), s);
  assert.equal(readLatin1(b, 10 + 65, 10 + 91), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ');
});
