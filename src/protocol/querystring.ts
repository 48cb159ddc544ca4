/**
 * `application/x-www-form-urlencoded` query-string decoding with the semantics of Snowplow's Thrift loader,
 * which runs `URLEncodedUtils.parse(URI.create("http://localhost/?" + qs), charset)`:
 *
 * - pairs are separated by `&` **and** `;` (HttpClient's convention), the first `=` splits name from value;
 * - `a` → `[a, null]`, `a=` → `[a, '']`, pairs with an empty name (`&&`, `=x`) are skipped;
 * - `+` is a space, `%XX` are bytes decoded with the payload charset (UTF-8 by default);
 * - order and duplicates are kept: callers choose last-wins;
 * - a `%` not followed by two hex digits makes `URI.create` throw, which Snowplow turns into a
 *   `collector_payload_format_violation`; we throw `QueryStringError` with the same message.
 *
 * Deliberately more lenient than `URI.create`: characters that are illegal in a URI query (space, `|`, `{`…)
 * are kept as they are rather than rejected, and raw non-ASCII characters are encoded with the charset
 * instead of being truncated to one byte.
 *
 * @example
 * parseQueryString('e=pv&url=http%3A%2F%2Fa.b%2F&uid=alex+123&x');
 * // [['e', 'pv'], ['url', 'http://a.b/'], ['uid', 'alex 123'], ['x', null]]
 */
export class QueryStringError extends Error {
  override name = 'QueryStringError';
}

export type QueryPair = [string, string | null];

interface Charset {
  /** Java's canonical name, as printed in error messages */
  name: string;
  decode(bytes: Uint8Array): string;
  /** bytes for a raw (unescaped) non-ASCII character */
  encodeChar(s: string): ArrayLike<number>;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

const UTF8: Charset = {
  name: 'UTF-8',
  decode: (b) => utf8Decoder.decode(b),
  encodeChar: (s) => utf8Encoder.encode(s),
};

function singleByteEncode(s: string): number[] {
  const c = s.charCodeAt(0);
  return [c <= 0xff ? c : 0x3f /* ? */];
}

// TextDecoder maps the labels `iso-8859-1`/`us-ascii` to windows-1252 (WHATWG), which differs from Java for
// 0x80–0x9F and for ASCII's high half, so these two are decoded by hand.
const LATIN1: Charset = {
  name: 'ISO-8859-1',
  decode: (b) => {
    let s = '';
    for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
    return s;
  },
  encodeChar: singleByteEncode,
};

const ASCII: Charset = {
  name: 'US-ASCII',
  decode: (b) => {
    let s = '';
    for (let i = 0; i < b.length; i++) s += b[i] < 0x80 ? String.fromCharCode(b[i]) : '\ufffd';
    return s;
  },
  encodeChar: () => [0x3f],
};

// Node's TextDecoder decodes windows-1252 as Latin-1, so the 0x80–0x9F block is mapped here (0 = unmapped,
// which Java decodes as U+FFFD).
const CP1252_HIGH = [
  0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0,
  0x017d, 0, 0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a,
  0x0153, 0, 0x017e, 0x0178,
];

const CP1252: Charset = {
  name: 'windows-1252',
  decode: (b) => {
    let s = '';
    for (let i = 0; i < b.length; i++) {
      const c = b[i];
      if (c < 0x80 || c > 0x9f) s += String.fromCharCode(c);
      else s += CP1252_HIGH[c - 0x80] === 0 ? '\ufffd' : String.fromCharCode(CP1252_HIGH[c - 0x80]);
    }
    return s;
  },
  encodeChar: (ch) => {
    const c = ch.charCodeAt(0);
    const k = CP1252_HIGH.indexOf(c);
    if (k >= 0) return [0x80 + k];
    return [c <= 0xff && (c < 0x80 || c > 0x9f) ? c : 0x3f];
  },
};

// A Map, not an object literal: labels come from payloads, and `constructor` must not resolve to anything.
const ALIASES = new Map<string, Charset>([
  ['windows-1252', CP1252],
  ['cp1252', CP1252],
  ['utf-8', UTF8],
  ['utf8', UTF8],
  ['iso-8859-1', LATIN1],
  ['iso8859_1', LATIN1],
  ['iso8859-1', LATIN1],
  ['iso_8859_1', LATIN1],
  ['iso_8859-1', LATIN1],
  ['latin1', LATIN1],
  ['l1', LATIN1],
  ['8859_1', LATIN1],
  ['cp819', LATIN1],
  ['ibm819', LATIN1],
  ['us-ascii', ASCII],
  ['ascii', ASCII],
  ['us_ascii', ASCII],
  ['iso646-us', ASCII],
  ['ascii7', ASCII],
  ['default', ASCII],
]);

const charsetCache = new Map<string, Charset>();

function charsetFor(encoding: string): Charset {
  const cached = charsetCache.get(encoding);
  if (cached !== undefined) return cached;
  const label = encoding.trim().toLowerCase();
  let cs = ALIASES.get(label);
  if (cs === undefined) {
    let decoder: InstanceType<typeof TextDecoder>;
    try {
      decoder = new TextDecoder(label, { fatal: false, ignoreBOM: true });
    } catch {
      // Java's UnsupportedCharsetException carries just the name.
      throw new QueryStringError(
        `could not extract name-value pairs from querystring with encoding ${encoding}: ${encoding}`,
      );
    }
    cs = { name: encoding, decode: (b) => decoder.decode(b), encodeChar: singleByteEncode };
  }
  // Bounded: encodings come from collector config, but a hostile payload could carry arbitrary labels.
  if (charsetCache.size < 64) charsetCache.set(encoding, cs);
  return cs;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** `URI.create` prefixes the query with this, so its error indexes are offset by the prefix length. */
const URI_PREFIX = 'http://localhost/?';

function checkEscapes(qs: string, charset: Charset): void {
  let i = qs.indexOf('%');
  while (i !== -1) {
    if (i + 2 >= qs.length || hexValue(qs.charCodeAt(i + 1)) < 0 || hexValue(qs.charCodeAt(i + 2)) < 0) {
      throw malformed(qs, i, charset);
    }
    i = qs.indexOf('%', i + 3);
  }
}

function malformed(qs: string, i: number, charset: Charset): QueryStringError {
  // Same tidying as Snowplow's `stripInstanceEtc`: tabs → 4 spaces, other control characters dropped.
  const uri = (URI_PREFIX + qs).replace(/\t/g, '    ').replace(/[\u0000-\u001f\u007f]/g, '');
  return new QueryStringError(
    `could not extract name-value pairs from querystring with encoding ${charset.name}: Malformed escape pair at index ${URI_PREFIX.length + i}: ${uri}`.trim(),
  );
}

// Reused across calls: decoding is synchronous, so one scratch buffer per thread is enough.
let scratch = new Uint8Array(1024);

function decodeComponent(s: string, charset: Charset): string {
  const pct = s.indexOf('%');
  if (pct === -1) return s.indexOf('+') === -1 ? s : s.replaceAll('+', ' ');
  // Worst case 4 bytes per code point = 2 UTF-16 units, so 3 bytes per unit bounds every charset.
  if (scratch.length < s.length * 3) scratch = new Uint8Array(s.length * 3);
  const bytes = scratch;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 37) {
      // Escapes were validated up front, so both hex digits are present.
      bytes[n++] = (hexValue(s.charCodeAt(i + 1)) << 4) | hexValue(s.charCodeAt(i + 2));
      i += 2;
    } else if (c === 43) bytes[n++] = 32;
    else if (c < 0x80) bytes[n++] = c;
    else {
      const cp = s.codePointAt(i)!;
      if (cp > 0xffff) i++;
      const enc = charset.encodeChar(String.fromCodePoint(cp));
      for (let k = 0; k < enc.length; k++) bytes[n++] = enc[k];
    }
  }
  return charset.decode(bytes.subarray(0, n));
}

export function parseQueryString(qs: string, encoding = 'UTF-8'): QueryPair[] {
  const out: QueryPair[] = [];
  const len = qs.length;
  if (len === 0) return out;
  const charset = charsetFor(encoding);
  const hasPct = qs.indexOf('%') !== -1;
  if (hasPct) checkEscapes(qs, charset);
  // Fast path: nothing to decode, names and values are plain slices.
  const decode = hasPct || qs.indexOf('+') !== -1;
  // Next positions of each delimiter, found with native indexOf and refreshed only once passed.
  let nextAmp = qs.indexOf('&');
  let nextSemi = qs.indexOf(';');
  let nextEq = qs.indexOf('=');
  let start = 0;
  while (start < len) {
    if (nextAmp !== -1 && nextAmp < start) nextAmp = qs.indexOf('&', start);
    if (nextSemi !== -1 && nextSemi < start) nextSemi = qs.indexOf(';', start);
    if (nextEq !== -1 && nextEq < start) nextEq = qs.indexOf('=', start);
    let end = nextAmp === -1 ? len : nextAmp;
    if (nextSemi !== -1 && nextSemi < end) end = nextSemi;
    if (nextEq === -1 || nextEq >= end) {
      if (end > start) {
        const name = qs.slice(start, end);
        out.push([decode ? decodeComponent(name, charset) : name, null]);
      }
    } else if (nextEq > start) {
      const name = qs.slice(start, nextEq);
      const value = qs.slice(nextEq + 1, end);
      out.push(decode ? [decodeComponent(name, charset), decodeComponent(value, charset)] : [name, value]);
    }
    start = end + 1;
  }
  return out;
}

/** Pairs → parameter map with last-wins for duplicates (Snowplow's `toMap`). */
export function toParameterMap(pairs: readonly QueryPair[]): Map<string, string | null> {
  const m = new Map<string, string | null>();
  for (const [k, v] of pairs) m.set(k, v);
  return m;
}
