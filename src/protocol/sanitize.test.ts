import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sanitize } from './sanitize.js';

test('V12: tab becomes four spaces, other control characters are removed', () => {
  assert.equal(sanitize('Hi\t\u0002\ufffd \bJo\t\u0002'), 'Hi    \ufffd Jo    ');
  assert.equal(sanitize('line\r\nbreak\n'), 'linebreak');
  assert.equal(sanitize('a\u007fb\u001fc\u0000d'), 'abcd');
});

test('a value that is empty after sanitising is null', () => {
  assert.equal(sanitize('\b'), null);
  assert.equal(sanitize(''), null);
  assert.equal(sanitize('\r\n\u0000'), null);
});

test('a tab alone is not empty: it becomes spaces', () => {
  assert.equal(sanitize('\t'), '    ');
});

test('clean input is returned unchanged (same string)', () => {
  const s = 'https://example.com/ä?q=1 ~';
  assert.equal(sanitize(s), s);
});

test('C1 controls and other Unicode are kept (Java \\p{Cntrl} is ASCII only)', () => {
  assert.equal(sanitize('a\u0085b\u2028c'), 'a\u0085b\u2028c');
});
