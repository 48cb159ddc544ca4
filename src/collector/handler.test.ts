import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { defaultCollectorConfig } from './config.js';
import { createSetCookie, setCookieHeaders } from './cookies.js';
import { queryParam } from './handler.js';
import { normaliseCookie } from './payload-builder.js';

test('queryParam reads a parameter as URLSearchParams.get does', () => {
  const names = ['nuid', 'u', 'n3pc', 'e'];
  const queries = [
    '',
    'nuid',
    'nuid=',
    'nuid=abc',
    'e=pv&nuid=abc&tv=js',
    'xnuid=1&nuid=2',
    'nuidx=1&nuid=2',
    'nuid=1&nuid=2',
    '%6Euid=enc&nuid=plain',
    'n%75id=enc',
    'nu+id=space&nuid=x',
    'nuid=a+b%20c',
    'nuid=%E2%82%AC',
    'nuid=%FF%FE',
    'nuid=%zz%2',
    'nuid=a=b=c',
    '&&nuid=x&&',
    'u=https%3A%2F%2Fexample.com%2F%3Fa%3D1%26b%3D2',
    'n3pc=true&e=se',
    'e',
    'e=&e=x',
    '=x&nuid=1',
  ];
  for (const q of queries)
    for (const n of names) {
      // as before, a query that never spells the name literally is not parsed at all
      const want = q.includes(n) ? (new URLSearchParams(q).get(n) ?? undefined) : undefined;
      assert.equal(queryParam(q, n), want, `${n} in ${JSON.stringify(q)}`);
    }
});

test('the per-request Set-Cookie renderer matches setCookieHeaders across seconds and domains', () => {
  const cfg = {
    ...defaultCollectorConfig().cookie,
    domains: ['example.com', 'other.org'],
    fallbackDomain: 'fallback.net',
    clientCookieName: 'sp_client',
  };
  const render = createSetCookie(cfg);
  const t0 = Date.UTC(2024, 5, 11, 9, 20, 0, 0);
  const hostSets = [[], ['shop.example.com'], ['other.org'], ['unrelated.io']];
  for (const dt of [0, 1, 999, 1000, 1001, 59_999, 60_000, 86_400_000])
    for (const hosts of hostSets) {
      assert.deepEqual(render('nuid-1', hosts, t0 + dt), setCookieHeaders(cfg, 'nuid-1', hosts, t0 + dt));
      assert.deepEqual(
        render('', hosts, t0 + dt, true),
        setCookieHeaders(cfg, '', hosts, t0 + dt, true),
        'the expired cookie for anonymous requests',
      );
    }
});

test('normaliseCookie: the one-regex path for clean headers agrees with the part-by-part rule', () => {
  const COOKIE_PART = /^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*$/;
  const reference = (value: string) => {
    const parts = value
      .split(';')
      .map((p) => p.trim())
      .filter((p) => p !== '' && COOKIE_PART.test(p));
    return parts.length === 0 ? null : parts.join(';');
  };
  const alphabet = ['a', 'Z', '0', '=', ';', ' ', '  ', '\t', '"', ',', '\\', '.', '-', '\u00a0', 'é'];
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...alphabet), { maxLength: 24 }), (chars) => {
      const v = chars.join('');
      assert.equal(normaliseCookie(v), reference(v), JSON.stringify(v));
    }),
    { numRuns: 5000 },
  );
  assert.equal(normaliseCookie('sp=abc; _sp_id.1=x.y'), 'sp=abc;_sp_id.1=x.y');
});
