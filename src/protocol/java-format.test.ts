import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  formatBigDecimal,
  formatIsoInstant,
  formatIsoMillis,
  formatJavaFloat,
  formatTimestamp,
  isRedshiftCompatible,
  parseJavaInt,
  parseMsTimestamp,
} from './java-format.js';

// Date.UTC maps years 0..99 to 19xx, so build far years explicitly.
function utc(year: number, month = 0, day = 1, h = 0, m = 0, sec = 0, ms = 0): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month, day);
  d.setUTCHours(h, m, sec, ms);
  return d.getTime();
}

test('formatTimestamp: always three ms digits, UTC', () => {
  assert.equal(formatTimestamp(0), '1970-01-01 00:00:00.000');
  assert.equal(formatTimestamp(1), '1970-01-01 00:00:00.001');
  assert.equal(formatTimestamp(1_735_693_323_000), '2025-01-01 01:02:03.000');
  assert.equal(formatTimestamp(1_391_378_480_941), '2014-02-02 22:01:20.941');
  assert.equal(formatTimestamp(-1), '1969-12-31 23:59:59.999');
  assert.equal(formatTimestamp(951_782_400_000), '2000-02-29 00:00:00.000');
});

test('formatTimestamp agrees with Date for the whole JS range', () => {
  fc.assert(
    fc.property(fc.integer({ min: -62_167_219_200_000, max: 253_402_300_799_999 }), (ms) => {
      const iso = new Date(ms).toISOString();
      assert.equal(formatTimestamp(ms), iso.slice(0, 10) + ' ' + iso.slice(11, 23));
      assert.equal(formatIsoMillis(ms), iso);
    }),
  );
});

test('V23: years outside 0..9999 are formatted like Joda', () => {
  // 1970 minus 2000 years, and plus 10000 years
  const bc = utc(-30, 0, 1);
  const far = utc(11970, 0, 1);
  assert.equal(formatTimestamp(bc), '-0030-01-01 00:00:00.000');
  assert.equal(formatTimestamp(far), '11970-01-01 00:00:00.000');
  assert.equal(isRedshiftCompatible(bc), false);
  assert.equal(isRedshiftCompatible(far), false);
  assert.equal(isRedshiftCompatible(utc(0, 0, 1)), true);
  assert.equal(isRedshiftCompatible(utc(0, 0, 1) - 1), false);
  assert.equal(isRedshiftCompatible(utc(9999, 11, 31, 23, 59, 59, 999)), true);
  assert.equal(isRedshiftCompatible(utc(10000, 0, 1)), false);
});

test('V2: parseMsTimestamp', () => {
  assert.deepEqual(parseMsTimestamp('1735693323000'), { ok: true, ms: 1_735_693_323_000 });
  assert.deepEqual(parseMsTimestamp('1'), { ok: true, ms: 1 });
  assert.deepEqual(parseMsTimestamp('+1'), { ok: true, ms: 1 });
  assert.deepEqual(parseMsTimestamp('-1'), { ok: true, ms: -1 });
  assert.deepEqual(parseMsTimestamp('007'), { ok: true, ms: 7 });
  assert.deepEqual(parseMsTimestamp('-0'), { ok: true, ms: 0 });
  const bad = { ok: false, message: 'Not in the expected format: ms since epoch' };
  for (const s of [
    'v',
    '',
    '-',
    '+',
    ' 1',
    '1 ',
    '1.0',
    '1e3',
    '0x10',
    '9223372036854775808',
    '99999999999999999999',
  ]) {
    assert.deepEqual(parseMsTimestamp(s), bad, s);
  }
});

test('parseMsTimestamp: Java accepts non-ASCII decimal digits', () => {
  assert.deepEqual(parseMsTimestamp('\u0661\u0662'), { ok: true, ms: 12 });
  assert.deepEqual(parseMsTimestamp('\uff11\uff10'), { ok: true, ms: 10 });
});

test('parseMsTimestamp: out-of-range years are reported with the formatted value', () => {
  assert.deepEqual(parseMsTimestamp('1111111111111111'), {
    ok: false,
    message: 'Formatting as 37179-09-17 07:18:31.111 is not Redshift-compatible',
  });
  assert.deepEqual(parseMsTimestamp(String(utc(-30, 0, 1))), {
    ok: false,
    message: 'Formatting as -0030-01-01 00:00:00.000 is not Redshift-compatible',
  });
  // Long.MAX_VALUE: exact arithmetic even beyond 2^53
  assert.deepEqual(parseMsTimestamp('9223372036854775807'), {
    ok: false,
    message: 'Formatting as 292278994-08-17 07:12:55.807 is not Redshift-compatible',
  });
  assert.deepEqual(parseMsTimestamp('-9223372036854775808'), {
    ok: false,
    message: 'Formatting as -292275055-05-16 16:47:04.192 is not Redshift-compatible',
  });
});

test('formatIsoInstant drops a zero fraction, like Instant.toString', () => {
  assert.equal(formatIsoInstant(0), '1970-01-01T00:00:00Z');
  assert.equal(formatIsoInstant(1_697_175_843_762), '2023-10-13T05:44:03.762Z');
  assert.equal(formatIsoInstant(1_697_175_843_700), '2023-10-13T05:44:03.700Z');
  assert.equal(formatIsoInstant(utc(11970, 0, 1)), '+11970-01-01T00:00:00Z');
  assert.equal(formatIsoInstant(utc(-30, 0, 1)), '-0030-01-01T00:00:00Z');
  assert.equal(formatIsoMillis(1_697_175_843_762), '2023-10-13T05:44:03.762Z');
  assert.equal(formatIsoMillis(0), '1970-01-01T00:00:00.000Z');
});

test('V7: parseJavaInt', () => {
  assert.deepEqual(parseJavaInt('42'), { ok: true, value: 42 });
  assert.deepEqual(parseJavaInt('-42'), { ok: true, value: -42 });
  assert.deepEqual(parseJavaInt('+42'), { ok: true, value: 42 });
  assert.deepEqual(parseJavaInt('null'), { ok: true, value: null });
  assert.deepEqual(parseJavaInt('NULL'), { ok: true, value: null });
  assert.deepEqual(parseJavaInt('2147483647'), { ok: true, value: 2_147_483_647 });
  assert.deepEqual(parseJavaInt('-2147483648'), { ok: true, value: -2_147_483_648 });
  assert.deepEqual(parseJavaInt('-0'), { ok: true, value: 0 });
  assert.deepEqual(parseJavaInt('000000000000042'), { ok: true, value: 42 });
  const bad = { ok: false, message: 'Cannot be converted to java.lang.Integer' };
  for (const s of ['2147483648', '-2147483649', '', '-', '4 2', ' 42', '42.0', '1e3', 'abc', '99999999999']) {
    assert.deepEqual(parseJavaInt(s), bad, s);
  }
});

test('V6: formatBigDecimal', () => {
  const cases: Array<[string, string]> = [
    ['42', '42'],
    ['42.5', '42.5'],
    ['137777104559', '137777104559'],
    ['1E7', '10000000'],
    ['1.2E9', '1200000000'],
    ['6.72E9', '6720000000'],
    ['0.000001', '0.000001'],
    ['0.0000001', '1E-7'],
    ['7.51E-9', '7.51E-9'],
    ['0.0', '0.0'],
    ['1999.00', '1999.00'],
    ['23.', '23'],
    ['.5', '0.5'],
    ['-0.0', '0.0'],
    ['-12.30', '-12.30'],
    ['+5', '5'],
    ['007.10', '7.10'],
    ['0E-10', '0E-10'],
    ['0E5', '0'],
    ['1e+2', '100'],
    ['1.5e1', '15'],
    ['12345678901234567890.123', '12345678901234567890.123'],
    ['1.23E-5', '0.0000123'],
    ['-1.23E-10', '-1.23E-10'],
    ['\u0661\u0662.5', '12.5'],
  ];
  for (const [input, expected] of cases)
    assert.deepEqual(formatBigDecimal(input), { ok: true, value: expected }, input);
  assert.deepEqual(formatBigDecimal('null'), { ok: true, value: null });
  assert.deepEqual(formatBigDecimal('Null'), { ok: true, value: null });
});

test('V51-style BigDecimal errors carry Java detail', () => {
  const err = (d: string) => ({
    ok: false,
    message: 'Cannot be converted to java.math.BigDecimal. Error : ' + d,
  });
  assert.deepEqual(
    formatBigDecimal('hello'),
    err('Character h is neither a decimal digit number, decimal point, nor "e" notation exponential mark.'),
  );
  assert.deepEqual(
    formatBigDecimal('1,5'),
    err('Character , is neither a decimal digit number, decimal point, nor "e" notation exponential mark.'),
  );
  assert.deepEqual(
    formatBigDecimal('1234567890123456789x'),
    err("Character array is missing \"exponent\" mark 'e' or 'E'."),
  );
  assert.deepEqual(formatBigDecimal('1..2'), err('Character array contains more than one decimal point.'));
  assert.deepEqual(formatBigDecimal('-'), err('No digits found.'));
  assert.deepEqual(formatBigDecimal('.'), err('No digits found.'));
  assert.deepEqual(formatBigDecimal(''), err('null'));
  assert.deepEqual(formatBigDecimal('1e'), err('null'));
  assert.deepEqual(formatBigDecimal('1e-'), err('null'));
  assert.deepEqual(formatBigDecimal('1e5x'), err('Not a digit.'));
  assert.deepEqual(formatBigDecimal('1e12345678901'), err('Too many nonzero exponent digits.'));
  assert.deepEqual(formatBigDecimal('1e9999999999'), err('Exponent overflow.'));
  assert.deepEqual(
    formatBigDecimal(' 1'),
    err('Character   is neither a decimal digit number, decimal point, nor "e" notation exponential mark.'),
  );
  assert.equal(formatBigDecimal('1e100000').ok, false);
});

test('formatJavaFloat: shortest float32 repr, Java layout', () => {
  const cases: Array<[number, string]> = [
    [43.88, '43.88'],
    [125.3228, '125.3228'],
    [37.443604, '37.443604'],
    [-122.4124, '-122.4124'],
    [51, '51.0'],
    [0.0001, '1.0E-4'],
    [1e7, '1.0E7'],
    [123456789, '1.2345679E8'],
    [9999999, '9999999.0'],
    [0.001, '0.001'],
    [0.5, '0.5'],
    [100, '100.0'],
    [1.401298464324817e-45, '1.4E-45'],
    [3.4028234663852886e38, '3.4028235E38'],
    [0, '0.0'],
    [-0, '-0.0'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    [0.1, '0.1'],
    [1.1, '1.1'],
  ];
  for (const [input, expected] of cases) assert.equal(formatJavaFloat(input), expected, String(input));
});

test('formatJavaFloat output reads back as the same float32', () => {
  fc.assert(
    fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), (f) => {
      const s = formatJavaFloat(f);
      assert.equal(Math.fround(Number(s)), Math.fround(f));
      assert.ok(s.includes('.'));
    }),
  );
});
