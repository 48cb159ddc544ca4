import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseUuid, randomUuid } from './uuid.js';

test('V5: upper-case UUID is accepted and lower-cased', () => {
  assert.equal(parseUuid('A729D278-110A-4AC6-845B-D1F12CE45AC7'), 'a729d278-110a-4ac6-845b-d1f12ce45ac7');
});

test('V5: canonical lower-case UUID is kept as is', () => {
  const s = '6e6e6d0f-f191-4249-8ac8-469db39332a3';
  assert.equal(parseUuid(s), s);
});

test('non-canonical forms are rejected', () => {
  for (const s of [
    '',
    '1-1-1-1-1',
    '6e6e6d0f-f191-4249-8ac8-469db39332a',
    '6e6e6d0f-f191-4249-8ac8-469db39332a3a',
    '6e6e6d0ff191-4249-8ac8-469db39332a3-',
    '{6e6e6d0f-f191-4249-8ac8-469db39332a3}',
    '6e6e6d0f-f191-4249-8ac8-469db39332g3',
    ' 6e6e6d0f-f191-4249-8ac8-469db39332a',
    '6e6e6d0f_f191_4249_8ac8_469db39332a3',
  ]) {
    assert.equal(parseUuid(s), null, s);
  }
});

test('randomUuid gives distinct canonical v4 UUIDs', () => {
  const a = randomUuid();
  const b = randomUuid();
  assert.notEqual(a, b);
  assert.equal(parseUuid(a), a);
  assert.equal(a[14], '4');
});
