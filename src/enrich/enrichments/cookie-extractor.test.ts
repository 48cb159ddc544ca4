/** cookie_extractor: HttpCore cookie parsing rules, entities validated against org.ietf/http_cookie, config errors. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sharedResolver } from '../../../test/helpers/enricher.js';
import { requireShared } from '../../../test/helpers/shared.js';
import { COLLECTOR_PAYLOAD_SCHEMA, type CollectorPayload } from '../../protocol/collector-payload.js';
import { F } from '../../protocol/enriched-fields.js';
import { Enricher, type EnrichOutput } from '../pipeline.js';
import { cookieExtractorEnrichment, parseCookieParameters } from './cookie-extractor.js';
import type { EnrichmentConfig } from './types.js';

function config(parameters: Record<string, unknown>): EnrichmentConfig {
  return {
    schemaKey: 'iglu:com.snowplowanalytics.snowplow/cookie_extractor_config/jsonschema/1-0-0',
    vendor: 'com.snowplowanalytics.snowplow',
    name: 'cookie_extractor_config',
    enabled: true,
    parameters,
  };
}

test('cookie header parsing follows HttpCore: quotes, bare names, whitespace, a comma ends the list', () => {
  assert.deepEqual(parseCookieParameters(' sp=abc-123; _ga=GA1.2.3 ;flag; q="a \\"b\\" c"; e='), [
    ['sp', 'abc-123'],
    ['_ga', 'GA1.2.3'],
    ['flag', null],
    ['q', 'a "b" c'],
    ['e', ''],
  ]);
  assert.deepEqual(parseCookieParameters('a=1, b=2; c=3'), [['a', '1']]);
  assert.deepEqual(parseCookieParameters('a = x  y ;b'), [
    ['a', 'x y'],
    ['b', null],
  ]);
  assert.deepEqual(parseCookieParameters(''), []);
});

function payload(headers: string[]): CollectorPayload {
  return {
    schema: COLLECTOR_PAYLOAD_SCHEMA,
    ipAddress: '10.0.0.1',
    timestamp: Date.UTC(2024, 0, 1),
    encoding: 'UTF-8',
    collector: 'ssc-3.4.0-kafka',
    path: '/i',
    querystring: 'e=pv&p=web&tv=js-4.10.1',
    headers,
  };
}

test('pipeline: one http_cookie entity per wanted cookie, in header order; no Cookie header, no entity', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const e = await cookieExtractorEnrichment.create(config({ cookies: ['sp', '_ga', 'flag', 'absent'] }), {
    resolver: sharedResolver(shared),
    baseDir: '.',
  });
  const enricher = new Enricher({ resolver: sharedResolver(shared), enrichments: [e] });
  const out: EnrichOutput = { good: [], bad: [] };
  await enricher.processPayload(
    payload(['Host: c.example', 'Cookie: sp=abc; other=1; _ga=GA1.2.3', 'COOKIE: flag', 'X-Cookie: sp=no']),
    out,
  );
  await enricher.processPayload(payload(['Host: c.example']), out);
  assert.deepEqual(out.bad, [], 'entities validate against org.ietf/http_cookie/1-0-0');
  const derived = JSON.parse(out.good[0].split('\t')[F.derived_contexts]);
  assert.deepEqual(derived.data, [
    { schema: 'iglu:org.ietf/http_cookie/jsonschema/1-0-0', data: { name: 'sp', value: 'abc' } },
    { schema: 'iglu:org.ietf/http_cookie/jsonschema/1-0-0', data: { name: '_ga', value: 'GA1.2.3' } },
    { schema: 'iglu:org.ietf/http_cookie/jsonschema/1-0-0', data: { name: 'flag', value: null } },
  ]);
  assert.equal(out.good[1].split('\t')[F.derived_contexts], '');
});

test('configuration errors name the key', () => {
  assert.throws(
    () =>
      cookieExtractorEnrichment.create(config({ cookies: 'sp' }), {
        resolver: sharedResolver('.'),
        baseDir: '.',
      }),
    /parameters\.cookies: expected an array/,
  );
});
