import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildCollectorPayload, type RequestParts } from './payload-builder.js';

const TEXT = '{"schema":"iglu:x/y/jsonschema/1-0-0","data":[{"e":"pv","page":"Größe – ok"}]}';
const parts: RequestParts = {
  path: '/com.snowplowanalytics.snowplow/tp2',
  querystring: '',
  rawHeaders: [
    'Host',
    'c.example.com:8080',
    'User-Agent',
    'ua/1',
    'Content-Type',
    'Application/JSON; Charset=UTF-8',
  ],
  ipAddress: '::ffff:10.0.0.1',
  networkUserId: 'c0ffee00-1234-4abc-8def-0123456789ab',
};
const opts = { collector: 'furrow-test', timestamp: 1_700_000_000_000 };

test('a body kept as bytes reads, serialises and is replaced like a body given as text', () => {
  const fromText = buildCollectorPayload({ ...parts, body: TEXT }, opts);
  const fromBytes = buildCollectorPayload({ ...parts, bodyUtf8: Buffer.from(TEXT) }, opts);
  // the size-violation dump is JSON.stringify of the payload: the same text, key for key
  assert.equal(JSON.stringify(fromBytes), JSON.stringify(fromText));
  assert.equal(fromBytes.body, TEXT);
  assert.deepEqual(
    Object.keys(fromBytes),
    Object.keys(fromText).filter((k) => k !== 'body'),
  );
  for (const k of Object.keys(fromText) as (keyof typeof fromText)[])
    assert.deepEqual(fromBytes[k], fromText[k], k);
  fromBytes.body = 'replaced';
  assert.equal(fromBytes.body, 'replaced');
  // spreads copy own fields only: whoever spreads a payload sets the body (size.ts does)
  assert.equal({ ...fromBytes }.body, undefined);
  assert.equal({ ...fromBytes, body: 'x' }.body, 'x');
});

test('fields absent from the request are absent from the payload, whichever way the body came', () => {
  const bare = { path: '/i', querystring: 'e=pv', rawHeaders: [] };
  const p = buildCollectorPayload({ ...bare, bodyUtf8: Buffer.from('{}') }, opts);
  for (const k of ['userAgent', 'refererUri', 'contentType', 'hostname', 'networkUserId'])
    assert.equal(Object.hasOwn(p, k), false, k);
  assert.equal(p.ipAddress, 'unknown');
  assert.equal(JSON.stringify(p), JSON.stringify(buildCollectorPayload({ ...bare, body: '{}' }, opts)));
});
