import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseQueryString, QueryStringError, toParameterMap } from './querystring.js';

describe('parseQueryString', () => {
  it('splits pairs in order, keeping duplicates', () => {
    assert.deepEqual(parseQueryString('e=pv&p=web&e=pp'), [
      ['e', 'pv'],
      ['p', 'web'],
      ['e', 'pp'],
    ]);
  });

  it('distinguishes a bare name (null) from an empty value', () => {
    assert.deepEqual(parseQueryString('a&b=&c=1'), [
      ['a', null],
      ['b', ''],
      ['c', '1'],
    ]);
  });

  it('skips empty pairs and pairs with an empty name', () => {
    assert.deepEqual(parseQueryString('&&a=1&&=x&='), [['a', '1']]);
    assert.deepEqual(parseQueryString(''), []);
  });

  it('treats ; as a separator like HttpClient, and only the first = as the split', () => {
    assert.deepEqual(parseQueryString('a=1;b=x=y'), [
      ['a', '1'],
      ['b', 'x=y'],
    ]);
  });

  it('decodes + as space and percent escapes as UTF-8 (V10)', () => {
    assert.deepEqual(parseQueryString('uid=alex+123&url=http%3A%2F%2Fa.b%2F%3Fq%3D1&n=%C3%A4%E2%82%AC'), [
      ['uid', 'alex 123'],
      ['url', 'http://a.b/?q=1'],
      ['n', 'ä€'],
    ]);
    assert.deepEqual(parseQueryString('a%20b=c%2Bd'), [['a b', 'c+d']]);
  });

  it('keeps raw non-ASCII characters next to escapes', () => {
    assert.deepEqual(parseQueryString('a=ä%20😀'), [['a', 'ä 😀']]);
  });

  it('replaces invalid UTF-8 with U+FFFD', () => {
    assert.deepEqual(parseQueryString('a=%FF'), [['a', '\ufffd']]);
  });

  it('decodes with the payload charset', () => {
    assert.deepEqual(parseQueryString('a=%E4', 'ISO-8859-1'), [['a', 'ä']]);
    assert.deepEqual(parseQueryString('a=%80', 'ISO-8859-1'), [['a', '\u0080']]);
    assert.deepEqual(parseQueryString('a=%80%81%E4', 'windows-1252'), [['a', '€\ufffdä']]);
    assert.deepEqual(parseQueryString('a=€%20', 'cp1252'), [['a', '€ ']]);
    assert.deepEqual(parseQueryString('a=%E4%41', 'US-ASCII'), [['a', '\ufffdA']]);
    assert.deepEqual(parseQueryString('a=%C3%A4', 'utf-8'), [['a', 'ä']]);
  });

  it('throws the Thrift loader message on a malformed escape, wherever it is', () => {
    assert.throws(
      () => parseQueryString('a=%zz'),
      (e: unknown) =>
        e instanceof QueryStringError &&
        e.message ===
          'could not extract name-value pairs from querystring with encoding UTF-8: Malformed escape pair at index 20: http://localhost/?a=%zz',
    );
    assert.throws(() => parseQueryString('a=1&b=%2'), QueryStringError);
    assert.throws(() => parseQueryString('a=%'), QueryStringError);
    // in a pair that would be skipped anyway
    assert.throws(() => parseQueryString('=%G1&a=1'), QueryStringError);
    assert.throws(
      () => parseQueryString('a=%zz', 'iso-8859-1'),
      /with encoding ISO-8859-1: Malformed escape pair at index 20/,
    );
  });

  it('rejects an unknown charset', () => {
    assert.throws(() => parseQueryString('a=1', 'no-such-charset'), QueryStringError);
    assert.throws(() => parseQueryString('a=1', 'constructor'), QueryStringError);
  });

  it('round-trips anything encodeURIComponent produced', () => {
    const text = fc.string({ unit: 'grapheme' });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string({ unit: 'grapheme', minLength: 1 }), text)), (pairs) => {
        const qs = pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
        assert.deepEqual(parseQueryString(qs), pairs);
      }),
    );
  });

  it('never throws on input without %, and never yields an empty name', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const qs = s.replaceAll('%', '');
        for (const [name] of parseQueryString(qs)) assert.notEqual(name, '');
      }),
    );
  });
});

describe('toParameterMap', () => {
  it('lets the last duplicate win', () => {
    const m = toParameterMap(parseQueryString('e=pv&x&e=pp'));
    assert.deepEqual(
      [...m],
      [
        ['e', 'pp'],
        ['x', null],
      ],
    );
  });
});
