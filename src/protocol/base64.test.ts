import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeBase64Lenient, decodeBase64LenientBytes, encodeBase64, encodeBase64Url } from './base64.js';

describe('decodeBase64Lenient', () => {
  it('decodes the CUS vectors (V11)', () => {
    assert.equal(decodeBase64Lenient('Sm9obiBTbWl0aA'), 'John Smith');
    assert.equal(decodeBase64Lenient('am9obitzbWl0aA'), 'john+smith');
    assert.equal(decodeBase64Lenient('eyJhZ2UiOjIzLCJuYW1lIjoiSm9obiJ9'), '{"age":23,"name":"John"}');
    assert.equal(decodeBase64Lenient('äöü - &'), '');
  });

  it('accepts both alphabets, with or without padding', () => {
    const bytes = Uint8Array.from([0xfb, 0xff, 0xbf]);
    for (const s of ['+/+/', '-_-_', '+_-/']) assert.deepEqual([...decodeBase64LenientBytes(s)], [...bytes]);
    assert.equal(decodeBase64Lenient('YQ=='), 'a');
    assert.equal(decodeBase64Lenient('YQ'), 'a');
    assert.equal(decodeBase64Lenient('YWI='), 'ab');
    assert.equal(decodeBase64Lenient('YWI'), 'ab');
  });

  it('skips characters outside the alphabet and stops at the first =', () => {
    assert.equal(decodeBase64Lenient('Sm9o\nbiBT bWl0*aA'), 'John Smith');
    assert.equal(decodeBase64Lenient('YQ==YWJj'), 'a');
  });

  it('drops a trailing lone sextet', () => {
    assert.equal(decodeBase64Lenient('YWJjZ'), 'abc');
  });

  it('replaces invalid UTF-8', () => {
    assert.equal(decodeBase64Lenient('_w'), '\ufffd');
  });

  it('inverts both encoders for any text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        assert.equal(decodeBase64Lenient(encodeBase64Url(s)), s);
        assert.equal(decodeBase64Lenient(encodeBase64(s)), s);
      }),
    );
  });
});

describe('encodeBase64Url / encodeBase64', () => {
  it('writes url-safe without padding, standard with padding', () => {
    assert.equal(encodeBase64Url('John Smith'), 'Sm9obiBTbWl0aA');
    assert.equal(encodeBase64Url(Uint8Array.from([0xfb, 0xff])), '-_8');
    assert.equal(encodeBase64(Uint8Array.from([0xfb, 0xff])), '+/8=');
  });

  it('encodes a Uint8Array view, not its whole buffer', () => {
    const buf = Uint8Array.from([0, 97, 98, 0]);
    assert.equal(encodeBase64Url(buf.subarray(1, 3)), 'YWI');
  });
});
