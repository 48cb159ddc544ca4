/** http_header_extractor: V39, Java-regex full match translated once, entities validated, config errors. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sharedResolver } from '../../../test/helpers/enricher.js';
import { requireShared } from '../../../test/helpers/shared.js';
import { COLLECTOR_PAYLOAD_SCHEMA, type CollectorPayload } from '../../protocol/collector-payload.js';
import { F } from '../../protocol/enriched-fields.js';
import { Enricher, type EnrichOutput } from '../pipeline.js';
import { compileFullMatch, httpHeaderExtractorEnrichment, javaTrim } from './http-header-extractor.js';
import type { EnrichmentConfig } from './types.js';

function config(headersPattern: unknown): EnrichmentConfig {
  return {
    schemaKey:
      'iglu:com.snowplowanalytics.snowplow.enrichments/http_header_extractor_config/jsonschema/1-0-0',
    vendor: 'com.snowplowanalytics.snowplow.enrichments',
    name: 'http_header_extractor_config',
    enabled: true,
    parameters: { headersPattern },
  };
}

test('Java patterns: full match, inline flags, POSIX classes, \\Q…\\E, possessive quantifiers', () => {
  const m = (p: string, s: string) => compileFullMatch(p).test(s);
  assert.ok(m('.*', 'X-Tract-Me'));
  assert.ok(m('X-.*', 'X-Tract-Me'));
  assert.ok(!m('Tract', 'X-Tract-Me'), 'String.matches needs the whole name, not a substring');
  assert.ok(!m('X-Tract', 'X-Tract-Me'));
  assert.ok(m('(?i)x-tract-me', 'X-Tract-Me'));
  assert.ok(m('\\p{Upper}\\p{Punct}\\p{Alpha}+-\\p{Alpha}+', 'X-Tract-Me'));
  assert.ok(!m('\\P{Upper}.*', 'X-Tract-Me'));
  assert.ok(m('\\QX-\\E.*', 'X-Tract-Me'));
  assert.ok(m('X-\\w++-Me', 'X-Tract-Me'));
  assert.ok(m('\\AX-Tract-Me\\z', 'X-Tract-Me'));
  assert.ok(m('X-Tract-Me|Host', 'Host'), 'alternation is grouped inside the anchors');
  assert.equal(javaTrim(' \u00a0v \t'), '\u00a0v');
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

async function derivedOf(shared: string, pattern: string, headers: string[]) {
  const e = await httpHeaderExtractorEnrichment.create(config(pattern), {
    resolver: sharedResolver(shared),
    baseDir: '.',
  });
  const out: EnrichOutput = { good: [], bad: [] };
  await new Enricher({ resolver: sharedResolver(shared), enrichments: [e] }).processPayload(
    payload(headers),
    out,
  );
  assert.deepEqual(out.bad, [], 'entities validate against org.ietf/http_header/1-0-0');
  const text = out.good[0].split('\t')[F.derived_contexts];
  return text === '' ? [] : JSON.parse(text).data;
}

test('V39: `.*` extracts `X-Tract-Me: moo` as {name, value}', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  assert.deepEqual(await derivedOf(shared, '.*', ['X-Tract-Me: moo']), [
    { schema: 'iglu:org.ietf/http_header/jsonschema/1-0-0', data: { name: 'X-Tract-Me', value: 'moo' } },
  ]);
});

test('only matching names, trimmed, split at the first colon; none matching leaves the event untouched', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const headers = [
    'Host: c.example',
    'X-Forwarded-For: 1.2.3.4, 5.6.7.8',
    'X-Time: 10:20:30',
    'application/json',
  ];
  assert.deepEqual(
    (await derivedOf(shared, 'X-.*', headers)).map((d: { data: unknown }) => d.data),
    [
      { name: 'X-Forwarded-For', value: '1.2.3.4, 5.6.7.8' },
      { name: 'X-Time', value: '10:20:30' },
    ],
  );
  assert.deepEqual(await derivedOf(shared, 'Accept-Language', headers), []);
});

test('configuration errors name the key', () => {
  const env = { resolver: sharedResolver('.'), baseDir: '.' };
  assert.throws(
    () => httpHeaderExtractorEnrichment.create(config(42), env),
    /parameters\.headersPattern: expected/,
  );
  assert.throws(
    () => httpHeaderExtractorEnrichment.create(config('X-(.*'), env),
    /parameters\.headersPattern: invalid pattern/,
  );
  assert.throws(
    () => httpHeaderExtractorEnrichment.create(config('X-(?i:a)'), env),
    /parameters\.headersPattern: .*not supported/,
  );
  assert.throws(
    () => httpHeaderExtractorEnrichment.create(config('[a-z&&[^x]]'), env),
    /parameters\.headersPattern: .*not supported/,
  );
});
