import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  COLLECTOR_PAYLOAD_SCHEMA,
  type CollectorPayload,
  decodeCollectorPayload,
  encodeCollectorPayload,
  encodeCollectorPayloadWith,
} from './collector-payload.js';
import { END_OF_BYTES_MESSAGE, ThriftDecodeError, ThriftReader, TType } from './thrift-binary.js';

// --- tiny hand encoder for building test vectors independently of the code under test -----------------------

function i16(v: number): number[] {
  return [(v >> 8) & 0xff, v & 0xff];
}
function i32(v: number): number[] {
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}
function str(s: string): number[] {
  const b = [...Buffer.from(s, 'utf8')];
  return [...i32(b.length), ...b];
}
function field(type: number, id: number, body: number[]): number[] {
  return [type, ...i16(id), ...body];
}

const FULL: CollectorPayload = {
  schema: COLLECTOR_PAYLOAD_SCHEMA,
  ipAddress: '1.2.3.4',
  timestamp: 1_700_000_000_000,
  encoding: 'UTF-8',
  collector: 'ssc-3.4.0-kinesissink',
  userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Ünïcödé',
  refererUri: 'https://example.com/a?b=c',
  path: '/com.snowplowanalytics.snowplow/tp2',
  querystring: 'e=pv&p=web',
  body: '{"schema":"iglu:x","data":[]}',
  headers: ['Host: example.com', 'Cookie: sp=abc', 'application/json; charset=utf-8'],
  contentType: 'application/json; charset=utf-8',
  hostname: 'example.com',
  networkUserId: 'a729d278-110a-4ac6-845b-d1f12ce45ac7',
};

function expectDecodeError(bytes: Uint8Array | number[], message: string | RegExp): ThriftDecodeError {
  let caught: unknown;
  try {
    decodeCollectorPayload(Uint8Array.from(bytes));
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ThriftDecodeError, `expected ThriftDecodeError, got ${String(caught)}`);
  if (typeof message === 'string') assert.equal(caught.message, message);
  else assert.match(caught.message, message);
  return caught;
}

test('round trip of a fully populated payload', () => {
  assert.deepEqual(decodeCollectorPayload(encodeCollectorPayload(FULL)), FULL);
});

test('round trip of a minimal payload keeps optionals absent', () => {
  const min: CollectorPayload = {
    schema: COLLECTOR_PAYLOAD_SCHEMA,
    ipAddress: 'unknown',
    timestamp: 0,
    encoding: 'UTF-8',
    collector: 'c',
  };
  const decoded = decodeCollectorPayload(encodeCollectorPayload(min));
  assert.deepEqual(decoded, min);
  assert.deepEqual(Object.keys(decoded).sort(), Object.keys(min).sort());
});

test('round trip with empty strings, empty header list and negative timestamp', () => {
  const p: CollectorPayload = {
    ...FULL,
    querystring: '',
    body: '',
    headers: [],
    timestamp: -62_167_219_200_001,
  };
  assert.deepEqual(decodeCollectorPayload(encodeCollectorPayload(p)), p);
});

test('encoding matches the hand-built byte vector from the spec (field ids, types, order)', () => {
  const p: CollectorPayload = {
    schema: COLLECTOR_PAYLOAD_SCHEMA,
    ipAddress: '1.2.3.4',
    timestamp: 1_700_000_000_000,
    encoding: 'UTF-8',
    collector: 'c',
    path: '/i',
    querystring: 'e=pv',
    headers: ['A: b'],
    networkUserId: 'n',
  };
  const expected = [
    ...[0x0b, 0x00, 0x64, ...str('1.2.3.4')], // 100 ipAddress
    ...[0x0a, 0x00, 0xc8, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00], // 200 timestamp i64
    ...[0x0b, 0x00, 0xd2, ...str('UTF-8')], // 210 encoding
    ...[0x0b, 0x00, 0xdc, ...str('c')], // 220 collector
    ...[0x0b, 0x01, 0x40, ...str('/i')], // 320 path
    ...[0x0b, 0x01, 0x4a, ...str('e=pv')], // 330 querystring
    ...[0x0f, 0x01, 0x5e, 0x0b, 0x00, 0x00, 0x00, 0x01, ...str('A: b')], // 350 headers list<string>
    ...[0x0b, 0x01, 0x9a, ...str('n')], // 410 networkUserId
    ...[0x0b, 0x7a, 0x69, ...str(COLLECTOR_PAYLOAD_SCHEMA)], // 31337 schema, last
    0x00, // stop
  ];
  assert.deepEqual([...encodeCollectorPayload(p)], expected);
  assert.deepEqual(decodeCollectorPayload(Uint8Array.from(expected)), p);
});

test('fields in reversed order decode the same', () => {
  const bytes = [
    ...field(TType.STRING, 31337, str(COLLECTOR_PAYLOAD_SCHEMA)),
    ...field(TType.STRING, 410, str('nuid')),
    ...field(TType.LIST, 350, [TType.STRING, ...i32(2), ...str('X: 1'), ...str('text/plain')]),
    ...field(TType.STRING, 320, str('/i')),
    ...field(TType.STRING, 220, str('coll')),
    ...field(TType.STRING, 210, str('UTF-8')),
    ...field(TType.I64, 200, [0, 0, 0, 0, 0, 0, 0x03, 0xe8]),
    ...field(TType.STRING, 100, str('9.9.9.9')),
    TType.STOP,
  ];
  assert.deepEqual(decodeCollectorPayload(Uint8Array.from(bytes)), {
    schema: COLLECTOR_PAYLOAD_SCHEMA,
    ipAddress: '9.9.9.9',
    timestamp: 1000,
    encoding: 'UTF-8',
    collector: 'coll',
    path: '/i',
    headers: ['X: 1', 'text/plain'],
    networkUserId: 'nuid',
  });
});

test('unknown fields of every type are skipped, including nested containers', () => {
  const nestedStruct = [
    ...field(TType.I32, 1, i32(7)),
    ...field(TType.STRUCT, 2, [...field(TType.STRING, 1, str('deep')), TType.STOP]),
    TType.STOP,
  ];
  const extras = [
    ...field(TType.BOOL, 1, [1]),
    ...field(TType.BYTE, 2, [0xff]),
    ...field(TType.DOUBLE, 3, [0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18]),
    ...field(TType.I16, 4, i16(-2)),
    ...field(TType.I32, 5, i32(123)),
    ...field(TType.I64, 6, [1, 2, 3, 4, 5, 6, 7, 8]),
    ...field(TType.STRING, 7, str('ignored')),
    ...field(TType.STRUCT, 8, nestedStruct),
    ...field(TType.MAP, 9, [
      TType.STRING,
      TType.LIST,
      ...i32(1),
      ...str('k'),
      TType.I16,
      ...i32(2),
      ...i16(1),
      ...i16(2),
    ]),
    ...field(TType.SET, 10, [TType.STRUCT, ...i32(2), TType.STOP, ...field(TType.BOOL, 1, [0]), TType.STOP]),
    ...field(TType.LIST, 11, [TType.MAP, ...i32(1), TType.I32, TType.DOUBLE, ...i32(0)]),
    ...field(TType.STRING, -5, str('negative id')),
  ];
  const base = [...encodeCollectorPayload(FULL)];
  const withExtras = [...extras, ...base];
  assert.deepEqual(decodeCollectorPayload(Uint8Array.from(withExtras)), FULL);
  // and interleaved before the stop byte
  const interleaved = [...base.slice(0, -1), ...extras, TType.STOP];
  assert.deepEqual(decodeCollectorPayload(Uint8Array.from(interleaved)), FULL);
});

test('a known field with an unexpected wire type is skipped (libthrift behaviour)', () => {
  const base = [...encodeCollectorPayload({ ...FULL, path: undefined })];
  // path (320) sent as i32: ignored, so the decoded payload has no path
  const bytes = [...field(TType.I32, 320, i32(5)), ...base];
  const p = decodeCollectorPayload(Uint8Array.from(bytes));
  assert.equal(p.path, undefined);
  // headers sent as list<i32>: dropped
  const h = [...field(TType.LIST, 350, [TType.I32, ...i32(1), ...i32(9)]), ...base];
  assert.deepEqual(decodeCollectorPayload(Uint8Array.from(h)).headers, FULL.headers);
});

test('a repeated field: the last value wins', () => {
  const base = [...encodeCollectorPayload(FULL)];
  const bytes = [...base.slice(0, -1), ...field(TType.STRING, 320, str('/again')), TType.STOP];
  assert.equal(decodeCollectorPayload(Uint8Array.from(bytes)).path, '/again');
});

test('invalid UTF-8 decodes with replacement characters', () => {
  const bytes = [...encodeCollectorPayload({ ...FULL, path: undefined })];
  const withBad = [...field(TType.STRING, 320, [...i32(3), 0x2f, 0xff, 0xc3]), ...bytes];
  assert.equal(decodeCollectorPayload(Uint8Array.from(withBad)).path, '/\ufffd\ufffd');
});

test('"Unrecognized type 110" for text that is not thrift', () => {
  // 'n' = 110 is read as a field type, "ot" as an (unknown) field id, then skipping type 110 fails
  expectDecodeError(Buffer.from('not thrift at all', 'latin1'), 'Unrecognized type 110');
  expectDecodeError([0xff, 0x00, 0x01], 'Unrecognized type -1');
  expectDecodeError([...field(TType.LIST, 9, [0x63, ...i32(1), 0])], 'Unrecognized type 99');
});

test('running out of bytes gives the end-of-bytes message', () => {
  const full = encodeCollectorPayload(FULL);
  for (let cut = 0; cut < full.length; cut++) {
    const e = expectDecodeError(full.subarray(0, cut), END_OF_BYTES_MESSAGE);
    assert.equal(e.kind, 'end-of-bytes');
  }
  assert.equal(END_OF_BYTES_MESSAGE, 'Reached end of bytes when parsing as thrift format');
});

test('bogus length prefixes: negative is reported, oversized never allocates', () => {
  const neg = expectDecodeError(field(TType.STRING, 100, i32(-1)), 'Negative length: -1');
  assert.equal(neg.kind, 'negative-size');
  const big = expectDecodeError(field(TType.STRING, 100, [...i32(0x7fffffff), 0x41]), END_OF_BYTES_MESSAGE);
  assert.equal(big.detail, 'string length 2147483647 at offset 3 exceeds the 1 bytes left');
  const bigList = expectDecodeError(
    field(TType.LIST, 350, [TType.STRING, ...i32(1_000_000_000)]),
    END_OF_BYTES_MESSAGE,
  );
  assert.match(bigList.detail ?? '', /list length 1000000000/);
  expectDecodeError(field(TType.MAP, 1, [TType.I64, TType.I64, ...i32(0x10000000)]), END_OF_BYTES_MESSAGE);
  expectDecodeError(field(TType.SET, 1, [TType.BYTE, ...i32(-7)]), 'Negative length: -7');
});

test('deeply nested unknown structs hit the depth limit instead of the stack', () => {
  const depth = 10_000;
  const bytes: number[] = [];
  for (let i = 0; i < depth; i++) bytes.push(TType.STRUCT, 0, 1);
  const e = expectDecodeError(bytes, 'Maximum skip depth exceeded');
  assert.equal(e.kind, 'depth-limit');
});

test('missing required fields are reported by name', () => {
  const noEncoding = [
    ...field(TType.STRING, 31337, str(COLLECTOR_PAYLOAD_SCHEMA)),
    ...field(TType.STRING, 100, str('ip')),
    ...field(TType.I64, 200, [0, 0, 0, 0, 0, 0, 0, 1]),
    ...field(TType.STRING, 220, str('c')),
    TType.STOP,
  ];
  const e = expectDecodeError(noEncoding, /^Required field 'encoding' was not present/);
  assert.equal(e.kind, 'missing-field');
  expectDecodeError([TType.STOP], /^Required field 'schema'/);
  // timestamp sent with the wrong type counts as missing
  const wrongTs = [
    ...field(TType.STRING, 31337, str(COLLECTOR_PAYLOAD_SCHEMA)),
    ...field(TType.STRING, 100, str('ip')),
    ...field(TType.I32, 200, i32(1)),
    ...field(TType.STRING, 210, str('UTF-8')),
    ...field(TType.STRING, 220, str('c')),
    TType.STOP,
  ];
  expectDecodeError(wrongTs, /^Required field 'timestamp'/);
});

test('input given as a Uint8Array view at an offset decodes correctly', () => {
  const enc = encodeCollectorPayload(FULL);
  const big = new Uint8Array(enc.length + 10);
  big.set(enc, 7);
  assert.deepEqual(decodeCollectorPayload(big.subarray(7, 7 + enc.length)), FULL);
});

test('random bytes only ever throw ThriftDecodeError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      try {
        decodeCollectorPayload(bytes);
      } catch (e) {
        assert.ok(e instanceof ThriftDecodeError, String(e));
      }
    }),
    { numRuns: 5000 },
  );
});

test('mutated valid payloads only ever throw ThriftDecodeError', () => {
  const valid = encodeCollectorPayload(FULL);
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      (edits) => {
        const bytes = Buffer.from(valid);
        for (const [i, b] of edits) bytes[i] = b;
        try {
          decodeCollectorPayload(bytes);
        } catch (e) {
          assert.ok(e instanceof ThriftDecodeError, String(e));
        }
      },
    ),
    { numRuns: 3000 },
  );
});

test('arbitrary payloads round trip', () => {
  const optStr = fc.option(fc.string({ unit: 'binary' }), { nil: undefined });
  fc.assert(
    fc.property(
      fc.record({
        schema: fc.string(),
        ipAddress: fc.string(),
        timestamp: fc.maxSafeInteger(),
        encoding: fc.string(),
        collector: fc.string(),
        userAgent: optStr,
        path: optStr,
        body: optStr,
        headers: fc.option(fc.array(fc.string({ unit: 'grapheme' })), { nil: undefined }),
      }),
      (p) => {
        const clean = Object.fromEntries(
          Object.entries(p).filter(([, v]) => v !== undefined),
        ) as unknown as CollectorPayload;
        const decoded = decodeCollectorPayload(encodeCollectorPayload(clean));
        // lone surrogates cannot survive UTF-8; compare through the same normalisation
        const norm = (s: string) => Buffer.from(s, 'utf8').toString('utf8');
        assert.equal(decoded.timestamp, clean.timestamp);
        assert.equal(decoded.schema, norm(clean.schema));
        assert.equal(decoded.body, clean.body === undefined ? undefined : norm(clean.body));
        assert.deepEqual(decoded.headers, clean.headers);
      },
    ),
  );
});

test('ThriftReader exposes primitive reads for other Thrift structs', () => {
  const r = new ThriftReader(
    Uint8Array.from([0x7f, ...i16(-2), ...i32(-3), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]),
  );
  assert.equal(r.readByte(), 127);
  assert.equal(r.readI16(), -2);
  assert.equal(r.readI32(), -3);
  assert.equal(r.readI64(), -2);
  assert.equal(r.remaining, 0);
});

test('a body given as its UTF-8 bytes encodes exactly as the string', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme' }), (body) => {
      const p = { ...FULL, body };
      const bytes = Buffer.from(body, 'utf8');
      assert.deepEqual(encodeCollectorPayloadWith(p, Buffer.allocUnsafe, bytes), encodeCollectorPayload(p));
    }),
  );
  // the bytes are the body, without `body` being read (the collector decodes it lazily)
  const { body: _, ...noBody } = FULL;
  const lazy = Object.defineProperty({ ...noBody }, 'body', {
    get: () => assert.fail('body read although its bytes were given'),
    enumerable: true,
  });
  assert.deepEqual(
    encodeCollectorPayloadWith(lazy, Buffer.allocUnsafe, Buffer.from('x')),
    encodeCollectorPayload({ ...noBody, body: 'x' }),
  );
});

test('ascii mode writes the same bytes as the general encoder for every ASCII payload', () => {
  const unit = fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c));
  // short strings are copied by a loop, longer ones by Buffer#write: both sides of the 32-character cut
  const ascii = fc.oneof(
    fc.string({ unit, maxLength: 40 }),
    fc.string({ unit, minLength: 25, maxLength: 300 }),
  );
  fc.assert(
    fc.property(
      fc.record({
        ipAddress: ascii,
        userAgent: fc.option(ascii, { nil: undefined }),
        refererUri: fc.option(ascii, { nil: undefined }),
        querystring: ascii,
        headers: fc.array(ascii, { maxLength: 6 }),
        hostname: fc.option(ascii, { nil: undefined }),
        networkUserId: fc.option(ascii, { nil: undefined }),
        // the body is never taken as ASCII: any text
        body: fc.option(fc.string({ unit: 'binary' }), { nil: undefined }),
      }),
      (parts) => {
        const p: CollectorPayload = { ...FULL, ...parts };
        for (const k of Object.keys(p) as (keyof CollectorPayload)[]) if (p[k] === undefined) delete p[k];
        const general = encodeCollectorPayload(p);
        assert.deepEqual(encodeCollectorPayloadWith(p, Buffer.allocUnsafe, undefined, true), general);
        assert.deepEqual(decodeCollectorPayload(general), p);
      },
    ),
  );
});
