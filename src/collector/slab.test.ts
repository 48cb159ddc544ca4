import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Slab } from './slab.js';

test('slab buffers have the asked size, never overlap, and large ones get their own memory', () => {
  const slab = new Slab(4096);
  const got: Buffer[] = [];
  for (let i = 0; i < 200; i++) {
    const n = 1 + ((i * 37) % 500);
    const b = slab.alloc(n);
    assert.equal(b.length, n);
    b.fill(i & 0xff);
    got.push(b);
  }
  for (let i = 0; i < got.length; i++)
    assert.ok(
      got[i].every((x) => x === (i & 0xff)),
      `buffer ${i} intact`,
    );
  const big = slab.alloc(4096);
  assert.equal(big.length, 4096);
  assert.equal(big.byteOffset, 0);
  assert.equal(big.buffer.byteLength, 4096, 'not cut from a slab');
});
