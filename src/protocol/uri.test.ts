import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type ParsedUri, parseUri } from './uri.js';

function ok(s: string): ParsedUri {
  const r = parseUri(s);
  assert.ok(r.ok, `expected ${s} to parse: ${r.ok ? '' : r.error}`);
  return r.value;
}

test('V13: components of a full URL', () => {
  assert.deepEqual(ok('http://www.psychicbazaar.com/oracles/119-psycards-deck.html?view=print#detail'), {
    uri: 'http://www.psychicbazaar.com/oracles/119-psycards-deck.html?view=print#detail',
    scheme: 'http',
    host: 'www.psychicbazaar.com',
    port: 80,
    path: '/oracles/119-psycards-deck.html',
    query: 'view=print',
    fragment: 'detail',
  });
});

test('V14: default and explicit ports, empty components are null', () => {
  const a = ok('https://www.lancs.ac.uk#footer');
  assert.equal(a.port, 443);
  assert.equal(a.path, null);
  assert.equal(a.query, null);
  assert.equal(a.fragment, 'footer');
  assert.equal(ok('http://www.nbnz.co.nz:440/login.asp').port, 440);
  const c = ok('https://www2.williamhill.com/');
  assert.equal(c.path, '/');
  assert.equal(c.port, 443);
  assert.equal(ok('http://x.com/?#').query, null);
  assert.equal(ok('http://x.com/?#').fragment, null);
  assert.equal(ok('https://x.com:/p').port, 443);
});

test('V15: the query stays raw-encoded', () => {
  assert.equal(
    ok('http://www.ebay.co.uk/sch/i.html?_from=R40&_nkw=%09+Clear%0ADowsing').query,
    '_from=R40&_nkw=%09+Clear%0ADowsing',
  );
});

test('V16: file://file:/// URLs', () => {
  const u = ok('file://file:///Users/alex/Documents/overridden-url/');
  assert.equal(u.scheme, 'file');
  assert.equal(u.host, 'file');
  assert.equal(u.port, 80);
  assert.equal(u.path, '///Users/alex/Documents/overridden-url/');
});

test('spaces become %20 and the URI is re-serialised', () => {
  const u = ok('http://example.com/a b?c d#e f');
  assert.equal(u.uri, 'http://example.com/a%20b?c%20d#e%20f');
  assert.equal(u.path, '/a%20b');
  assert.equal(u.query, 'c%20d');
  assert.equal(u.fragment, 'e%20f');
});

test('a URL without a scheme is a relative URI: no scheme or host, port 80, text as path', () => {
  assert.deepEqual(ok('www.example.com/page?x=1'), {
    uri: 'www.example.com/page?x=1',
    scheme: null,
    host: null,
    port: 80,
    path: 'www.example.com/page',
    query: 'x=1',
    fragment: null,
  });
  assert.equal(ok('//cdn.example.com/x').host, 'cdn.example.com');
});

test('Java quirks: opaque host:port, registry-based authorities, IPv6 brackets, odd schemes', () => {
  const opaque = ok('localhost:3000/x');
  assert.equal(opaque.scheme, 'localhost');
  assert.equal(opaque.host, null);
  assert.equal(opaque.path, null);
  const mail = ok('mailto:someone@example.com?subject=hi');
  assert.equal(mail.scheme, 'mailto');
  assert.equal(mail.query, null); // opaque URIs have no query in java.net.URI
  assert.equal(ok('http://under_score.example.com/p').host, null);
  assert.equal(ok('http://under_score.example.com/p').path, '/p');
  assert.equal(ok('http://1.2.3.4.5/').host, null);
  assert.equal(ok('http://host:abc/').host, null);
  assert.equal(ok('http://exämple.com/').host, null);
  assert.equal(ok('http://1.2.3.4:8080/').host, '1.2.3.4');
  assert.equal(ok('http://EXAMPLE.com/').host, 'EXAMPLE.com');
  assert.equal(ok('http://user:pw@example.com/').host, 'example.com');
  assert.equal(ok('http://example.com./').host, 'example.com.');
  const v6 = ok('http://[2001:db8::1]:8080/x');
  assert.equal(v6.host, '[2001:db8::1]');
  assert.equal(v6.port, 8080);
  assert.equal(ok('ftp://files.example.com/a').port, 80);
  assert.equal(ok('android-app://com.example/http/host').scheme, 'android-app');
});

test('non-ASCII characters are accepted raw by the strict parser', () => {
  const u = ok('https://example.com/straße?q=ü#ö');
  assert.equal(u.path, '/straße');
  assert.equal(u.query, 'q=ü');
  assert.equal(u.uri, 'https://example.com/straße?q=ü#ö');
});

test('lenient fallback re-encodes what Java rejects', () => {
  const u = ok('http://x.com/a|b?q={1}&r=50%off#f#g');
  assert.equal(u.uri, 'http://x.com/a%7Cb?q=%7B1%7D&r=50%25off#f%23g');
  assert.equal(u.host, 'x.com');
  assert.equal(u.path, '/a%7Cb');
  assert.equal(u.query, 'q=%7B1%7D&r=50%25off');
  assert.equal(u.fragment, 'f%23g');
  // '+' is left alone by upstream's encoder; valid escapes are decoded then re-encoded
  assert.equal(ok('http://x.com/?a=b+c&d=%7C|').query, 'a=b+c&d=%7C%7C');
  assert.equal(ok('http://x.com/p?a="quoted"').query, 'a=%22quoted%22');
  assert.equal(ok('http://x.com/[1]').path, '/%5B1%5D');
});

test('what only the lenient pass accepts keeps the strict error out of the result', () => {
  // Java rejects ':x' (no scheme name); the lenient pass sees a relative path and encodes the colon
  assert.equal(ok(':x').path, '%3Ax');
});

test("both parsers failing gives upstream's message", () => {
  const r = parseUri('http://');
  assert.deepEqual(r, {
    ok: false,
    error:
      'Provided URI [http://] could not be parsed, neither by Java parsing (error: [Expected authority at index 7: http://]) nor by Scala parsing (error: [Expected authority at index 7: http://]).',
  });
  const bad = parseUri('http://[bad/');
  assert.equal(bad.ok, false);
  assert.match(
    bad.ok ? '' : bad.error,
    /^Provided URI \[http:\/\/\[bad\/\] could not be parsed, neither by Java parsing \(error: \[Expected closing bracket for IPv6 address at index 11: http:\/\/\[bad\/\]\) nor by Scala parsing/,
  );
  const port = parseUri('http://a%zz:x/');
  assert.equal(port.ok, false);
  assert.match(
    port.ok ? '' : port.error,
    /Java parsing \(error: \[Malformed escape pair at index 8: http:\/\/a%zz:x\/\]\)/,
  );
});

test('Java error messages for the strict parser appear verbatim', () => {
  const cases: Array<[string, string]> = [
    ['mailto:', 'Expected scheme-specific part at index 7: mailto:'],
    ['http://[::1', 'Expected closing bracket for IPv6 address at index 11: http://[::1'],
    ['http://[1:2:3]/', 'IPv6 address too short at index 8: http://[1:2:3]/'],
  ];
  for (const [input, javaError] of cases) {
    const r = parseUri(input);
    assert.equal(r.ok, false, input);
    assert.ok(!r.ok && r.error.includes(`Java parsing (error: [${javaError}])`), r.ok ? '' : r.error);
  }
});

test('never throws, on any string', () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.string({ unit: 'binary' }), fc.webUrl({ withFragments: true, withQueryParameters: true })),
      (s) => {
        const r = parseUri(s);
        if (r.ok) assert.equal(typeof r.value.uri, 'string');
        else assert.match(r.error, /^Provided URI \[/);
      },
    ),
    { numRuns: 3000 },
  );
});

test('well-formed web URLs parse strictly and keep their text', () => {
  fc.assert(
    fc.property(fc.webUrl({ withFragments: true, withQueryParameters: true }), (s) => {
      const r = parseUri(s);
      assert.ok(r.ok);
      assert.ok(r.value.scheme === 'http' || r.value.scheme === 'https');
    }),
    { numRuns: 1000 },
  );
});
