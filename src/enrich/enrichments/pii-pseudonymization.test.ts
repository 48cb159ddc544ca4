/**
 * pii_enrichment_config: V36 (with anon_ip before it), JSONPath replacement in contexts / unstruct_event /
 * derived_contexts, the pii_transformation entity validated against Iglu Central, anonymousOnly, config errors.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { sharedResolver } from '../../../test/helpers/enricher.js';
import { requireShared } from '../../../test/helpers/shared.js';
import { COLLECTOR_PAYLOAD_SCHEMA, type CollectorPayload } from '../../protocol/collector-payload.js';
import { F } from '../../protocol/enriched-fields.js';
import type { RawEvent } from '../../protocol/raw-event.js';
import { EnrichedEvent } from '../event.js';
import { Enricher, type EnrichOutput } from '../pipeline.js';
import { anonIpEnrichment } from './anon-ip.js';
import { httpHeaderExtractorEnrichment } from './http-header-extractor.js';
import { piiPseudonymizationEnrichment, toJsonPathPlus } from './pii-pseudonymization.js';
import type { Enrichment, EnrichmentConfig, EnrichmentEnv } from './types.js';

const SCHEMA = 'iglu:com.snowplowanalytics.snowplow.enrichments/pii_enrichment_config/jsonschema/2-0-1';

function config(
  pii: unknown[],
  opts: { hashFunction?: string; emitEvent?: boolean; anonymousOnly?: boolean } = {},
): EnrichmentConfig {
  const data = {
    vendor: 'com.snowplowanalytics.snowplow.enrichments',
    name: 'pii_enrichment_config',
    enabled: true,
    emitEvent: opts.emitEvent ?? false,
    anonymousOnly: opts.anonymousOnly ?? false,
    parameters: {
      pii,
      strategy: { pseudonymize: { hashFunction: opts.hashFunction ?? 'SHA-1', salt: 'pepper123' } },
    },
  };
  return {
    schemaKey: SCHEMA,
    vendor: data.vendor,
    name: data.name,
    enabled: true,
    parameters: data.parameters,
    data,
  } as EnrichmentConfig;
}

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

function env(shared: string): EnrichmentEnv {
  return { resolver: sharedResolver(shared), baseDir: '.' };
}

function payload(params: Record<string, string>, headers: string[] = []): CollectorPayload {
  return {
    schema: COLLECTOR_PAYLOAD_SCHEMA,
    ipAddress: '10.0.2.2',
    timestamp: Date.UTC(2024, 0, 1),
    encoding: 'UTF-8',
    collector: 'ssc-3.4.0-kafka',
    path: '/i',
    querystring: new URLSearchParams({ e: 'pv', p: 'web', tv: 'js-4.10.1', ...params }).toString(),
    headers,
  };
}

async function run(shared: string, enrichments: Enrichment[], p: CollectorPayload) {
  const out: EnrichOutput = { good: [], bad: [] };
  await new Enricher({ resolver: sharedResolver(shared), enrichments }).processPayload(p, out);
  assert.deepEqual(out.bad, [], 'no bad row: derived entities validate');
  assert.equal(out.good.length, 1);
  const v = out.good[0].split('\t');
  const derived = v[F.derived_contexts] === '' ? [] : JSON.parse(v[F.derived_contexts]).data;
  return { v, derived };
}

test('V36: user_id hashed with salt; user_ipaddress hashed after anon_ip masked it', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  assert.equal(sha1('10.0.2.xpepper123'), '850474a1f035479d332a5c2d2ad6fe4d07a3f722');
  const pii = await piiPseudonymizationEnrichment.create(
    config([{ pojo: { field: 'user_id' } }, { pojo: { field: 'user_ipaddress' } }]),
    env(shared),
  );
  const anon = await anonIpEnrichment.create(
    {
      schemaKey: 'iglu:com.snowplowanalytics.snowplow/anon_ip/jsonschema/1-0-1',
      vendor: 'com.snowplowanalytics.snowplow',
      name: 'anon_ip',
      enabled: true,
      parameters: { anonOctets: 1 },
    },
    env(shared),
  );
  // Configured in the "wrong" order on purpose: the pipeline sorts by Snowplow's order.
  const { v, derived } = await run(shared, [pii, anon], payload({ uid: 'alex 123' }));
  assert.equal(v[F.user_id], 'd1a21f2589511b4ed04ee297d88d950efb2612dc');
  assert.equal(v[F.user_ipaddress], '850474a1f035479d332a5c2d2ad6fe4d07a3f722');
  assert.deepEqual(derived, [], 'emitEvent false: no pii_transformation entity');
});

const LINK_CLICK = 'iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1';
const GA_COOKIES = 'iglu:com.google.analytics/cookies/jsonschema/1-0-0';

test('JSONPath on unstruct_event, contexts and derived_contexts; pii_transformation entity emitted', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const headers = await httpHeaderExtractorEnrichment.create(
    {
      schemaKey:
        'iglu:com.snowplowanalytics.snowplow.enrichments/http_header_extractor_config/jsonschema/1-0-0',
      vendor: 'com.snowplowanalytics.snowplow.enrichments',
      name: 'http_header_extractor_config',
      enabled: true,
      parameters: { headersPattern: 'X-Email' },
    },
    env(shared),
  );
  const pii = await piiPseudonymizationEnrichment.create(
    config(
      [
        { pojo: { field: 'user_id' } },
        {
          json: {
            field: 'unstruct_event',
            schemaCriterion: 'iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-*-*',
            jsonPath: "$.['elementId','elementClasses']",
          },
        },
        {
          json: {
            field: 'contexts',
            schemaCriterion: 'iglu:com.google.analytics/cookies/jsonschema/1-0-*',
            jsonPath: '$._ga',
          },
        },
        {
          json: {
            field: 'contexts',
            schemaCriterion: 'iglu:com.acme/other/jsonschema/1-*-*',
            jsonPath: '$._ga',
          },
        },
        {
          json: {
            field: 'derived_contexts',
            schemaCriterion: 'iglu:org.ietf/http_header/jsonschema/1-*-*',
            jsonPath: '$.value',
          },
        },
        {
          json: {
            field: 'contexts',
            schemaCriterion: 'iglu:com.google.analytics/cookies/jsonschema/1-*-*',
            jsonPath: '$.missing.path',
          },
        },
      ],
      { emitEvent: true },
    ),
    env(shared),
  );
  const ue = {
    schema: LINK_CLICK,
    data: { targetUrl: 'https://x.example/', elementId: 'me@x.example', elementClasses: ['a', 'b'] },
  };
  const cx = [{ schema: GA_COOKIES, data: { _ga: 'GA1.2.3', __utma: 'keep' } }];
  const { v, derived } = await run(
    shared,
    [headers, pii],
    payload(
      {
        e: 'ue',
        uid: 'alex 123',
        ue_pr: JSON.stringify({
          schema: 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0',
          data: ue,
        }),
        co: JSON.stringify({
          schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1',
          data: cx,
        }),
      },
      ['X-Email: me@x.example'],
    ),
  );
  const unstruct = JSON.parse(v[F.unstruct_event]).data;
  assert.deepEqual(unstruct.data, {
    targetUrl: 'https://x.example/',
    elementId: sha1('me@x.examplepepper123'),
    elementClasses: [sha1('apepper123'), sha1('bpepper123')],
  });
  assert.deepEqual(JSON.parse(v[F.contexts]).data[0].data, { _ga: sha1('GA1.2.3pepper123'), __utma: 'keep' });
  assert.equal(derived.length, 2);
  assert.equal(derived[0].schema, 'iglu:com.snowplowanalytics.snowplow/pii_transformation/jsonschema/1-0-0');
  assert.deepEqual(derived[1].data, { name: 'X-Email', value: sha1('me@x.examplepepper123') });
  const jsonEntry = (fieldName: string, originalValue: string, jsonPath: string, schema: string) => ({
    fieldName,
    originalValue,
    modifiedValue: sha1(`${originalValue}pepper123`),
    jsonPath,
    schema,
  });
  // Snowplow's fold prepends: both lists come out last-modified first.
  assert.deepEqual(derived[0].data, {
    pii: {
      pojo: [{ fieldName: 'user_id', originalValue: 'alex 123', modifiedValue: sha1('alex 123pepper123') }],
      json: [
        jsonEntry(
          'derived_contexts',
          'me@x.example',
          '$.value',
          'iglu:org.ietf/http_header/jsonschema/1-0-0',
        ),
        jsonEntry('contexts', 'GA1.2.3', '$._ga', GA_COOKIES),
        jsonEntry('unstruct_event', 'b', "$.['elementId','elementClasses']", LINK_CLICK),
        jsonEntry('unstruct_event', 'a', "$.['elementId','elementClasses']", LINK_CLICK),
        jsonEntry('unstruct_event', 'me@x.example', "$.['elementId','elementClasses']", LINK_CLICK),
      ],
    },
    strategy: { pseudonymize: { hashFunction: 'SHA-1' } },
  });
});

test('anonymousOnly: applied only with an SP-Anonymous header; nothing configured present leaves the event untouched', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const pii = await piiPseudonymizationEnrichment.create(
    config([{ pojo: { field: 'user_id' } }, { pojo: { field: 'domain_userid' } }], {
      anonymousOnly: true,
      emitEvent: true,
    }),
    env(shared),
  );
  let r = await run(shared, [pii], payload({ uid: 'alex 123' }));
  assert.equal(r.v[F.user_id], 'alex 123');
  assert.deepEqual(r.derived, []);
  r = await run(shared, [pii], payload({ uid: 'alex 123' }, ['SP-Anonymous: *']));
  assert.equal(r.v[F.user_id], sha1('alex 123pepper123'));
  assert.equal(r.derived.length, 1);
  r = await run(shared, [pii], payload({}, ['SP-Anonymous: *']));
  assert.equal(r.v[F.user_id], '');
  assert.deepEqual(r.derived, [], 'no replacement, no pii_transformation entity');
});

test('entities shared with other events (caches) are copied, never mutated in place', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const pii = await piiPseudonymizationEnrichment.create(
    config([
      {
        json: {
          field: 'derived_contexts',
          schemaCriterion: 'iglu:org.ietf/http_header/jsonschema/1-0-0',
          jsonPath: '$.value',
        },
      },
    ]),
    env(shared),
  );
  const cached = {
    schema: 'iglu:org.ietf/http_header/jsonschema/1-0-0',
    data: { name: 'X', value: 'secret' },
  };
  const raw = { parameters: new Map(), headers: [] } as unknown as RawEvent;
  const ev = new EnrichedEvent(raw);
  ev.derived = [cached];
  await pii.enrich(ev);
  assert.deepEqual(cached.data, { name: 'X', value: 'secret' });
  assert.deepEqual(ev.derived[0].data, { name: 'X', value: sha1('secretpepper123') });
});

test('Jayway paths are translated for jsonpath-plus', () => {
  assert.equal(toJsonPathPlus("$.['clientId','userId']"), '$[clientId,userId]');
  assert.equal(toJsonPathPlus('$["a", "b"].c'), '$[a,b].c');
  assert.equal(toJsonPathPlus("$.data['email']"), "$.data['email']");
  assert.equal(toJsonPathPlus('$.emails[*]'), '$.emails[*]');
});

test('configuration errors name the key; MD2 is refused when this Node.js lacks it', (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const e = env(shared);
  assert.throws(
    () => piiPseudonymizationEnrichment.create(config([{ pojo: { field: 'page_url' } }]), e),
    /parameters\.pii\[0\]\.pojo\.field: expected one of user_id/,
  );
  assert.throws(
    () =>
      piiPseudonymizationEnrichment.create(
        config([{ json: { field: 'contexts', schemaCriterion: 'nope', jsonPath: '$.a' } }]),
        e,
      ),
    /parameters\.pii\[0\]\.json\.schemaCriterion/,
  );
  assert.throws(
    () =>
      piiPseudonymizationEnrichment.create(
        config([{ pojo: { field: 'user_id' } }], { hashFunction: 'CRC' }),
        e,
      ),
    /parameters\.strategy\.pseudonymize\.hashFunction: expected one of MD2, MD5/,
  );
  const md2 = () =>
    piiPseudonymizationEnrichment.create(
      config([{ pojo: { field: 'user_id' } }], { hashFunction: 'MD2' }),
      e,
    );
  if (createHashAvailable('md2')) assert.doesNotThrow(md2);
  else assert.throws(md2, /hashFunction: MD2 is not available/);
});

function createHashAvailable(name: string): boolean {
  try {
    createHash(name);
    return true;
  } catch {
    return false;
  }
}
