/** event_fingerprint: spec vectors V34/V35, retries collide, TSV effect, config errors. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { sharedResolver } from '../../../test/helpers/enricher.js';
import { requireShared } from '../../../test/helpers/shared.js';
import { COLLECTOR_PAYLOAD_SCHEMA, type CollectorPayload } from '../../protocol/collector-payload.js';
import { F } from '../../protocol/enriched-fields.js';
import { Enricher, type EnrichOutput } from '../pipeline.js';
import { eventFingerprintEnrichment, fingerprintInput } from './event-fingerprint.js';
import type { EnrichmentConfig } from './types.js';

function config(parameters: Record<string, unknown>): EnrichmentConfig {
  return {
    schemaKey: 'iglu:com.snowplowanalytics.snowplow/event_fingerprint_config/jsonschema/1-0-1',
    vendor: 'com.snowplowanalytics.snowplow',
    name: 'event_fingerprint_config',
    enabled: true,
    parameters,
  };
}

test('V34: the hashed text is name␟value␟ over sorted, non-excluded, non-null parameters (15 chars)', () => {
  const params = new Map<string, string | null>([
    ['stm', '1000000000000'],
    ['se_ac', 'buy'],
    ['e', 'se'],
    ['nothing', null],
  ]);
  const text = fingerprintInput(params, new Set(['stm']));
  assert.equal(text, 'e\u001fse\u001fse_ac\u001fbuy\u001f');
  // Snowplow's test uses a `length` pseudo-algorithm; the same text under MD5 is V35's value.
  assert.equal(text.length, 15);
  assert.equal(createHash('md5').update(text).digest('hex'), '6829c2021516783f1ef03a9e9736ac77');
});

test('V35: MD5 excluding stm and eid', () => {
  const params = new Map<string, string | null>([
    ['e', 'se'],
    ['se_ac', 'buy'],
    ['stm', '1700000000000'],
    ['eid', 'b6a2a0f1-8f2e-4a53-9c53-6d8a1c1d0c7e'],
  ]);
  const e = eventFingerprintEnrichment.create(
    config({ hashAlgorithm: 'MD5', excludeParameters: ['stm', 'eid'] }),
    {
      resolver: sharedResolver('.'),
      baseDir: '.',
    },
  );
  assert.ok(!(e instanceof Promise));
  const ev = { raw: { parameters: params }, fields: new Array(131).fill(null) } as never;
  e.enrich(ev);
  assert.equal((ev as { fields: string[] }).fields[F.event_fingerprint], '6829c2021516783f1ef03a9e9736ac77');
});

function payload(params: Record<string, string>): CollectorPayload {
  return {
    schema: COLLECTOR_PAYLOAD_SCHEMA,
    ipAddress: '10.0.0.1',
    timestamp: Date.UTC(2024, 0, 1),
    encoding: 'UTF-8',
    collector: 'ssc-3.4.0-kafka',
    path: '/i',
    querystring: new URLSearchParams({
      e: 'se',
      p: 'web',
      tv: 'js-4.10.1',
      se_ca: 'shop',
      ...params,
    }).toString(),
    headers: [],
  };
}

test('pipeline: a retry with new eid/stm gets the same fingerprint, another event a different one; SHA512 fits the field', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const env = { resolver: sharedResolver(shared), baseDir: '.' };
  const md5 = await eventFingerprintEnrichment.create(
    config({ hashAlgorithm: 'MD5', excludeParameters: ['eid', 'nuid', 'stm', 'cv'] }),
    env,
  );
  const enricher = new Enricher({ resolver: sharedResolver(shared), enrichments: [md5] });
  const out: EnrichOutput = { good: [], bad: [] };
  await enricher.processPayload(
    payload({ se_ac: 'buy', eid: '11111111-1111-4111-8111-111111111111', stm: '1700000000000' }),
    out,
  );
  await enricher.processPayload(
    payload({ se_ac: 'buy', eid: '22222222-2222-4222-8222-222222222222', stm: '1700000005000' }),
    out,
  );
  await enricher.processPayload(
    payload({ se_ac: 'sell', eid: '33333333-3333-4333-8333-333333333333', stm: '1700000000000' }),
    out,
  );
  assert.deepEqual(out.bad, []);
  const fp = out.good.map((l) => l.split('\t')[F.event_fingerprint]);
  assert.match(fp[0], /^[0-9a-f]{32}$/);
  assert.equal(fp[0], fp[1]);
  assert.notEqual(fp[0], fp[2]);

  const sha = await eventFingerprintEnrichment.create(
    config({ hashAlgorithm: 'SHA512', excludeParameters: [] }),
    env,
  );
  const out2: EnrichOutput = { good: [], bad: [] };
  await new Enricher({ resolver: sharedResolver(shared), enrichments: [sha] }).processPayload(
    payload({ se_ac: 'buy' }),
    out2,
  );
  assert.deepEqual(out2.bad, []);
  assert.match(out2.good[0].split('\t')[F.event_fingerprint], /^[0-9a-f]{128}$/);
});

test('without the enrichment the field stays empty; configuration errors name the key', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const out: EnrichOutput = { good: [], bad: [] };
  await new Enricher({ resolver: sharedResolver(shared) }).processPayload(payload({ se_ac: 'buy' }), out);
  assert.equal(out.good[0].split('\t')[F.event_fingerprint], '');
  const env = { resolver: sharedResolver(shared), baseDir: '.' };
  assert.throws(
    () => eventFingerprintEnrichment.create(config({ hashAlgorithm: 'CRC32', excludeParameters: [] }), env),
    /parameters\.hashAlgorithm: expected one of MD5, SHA1, SHA256, SHA384, SHA512/,
  );
  assert.throws(
    () => eventFingerprintEnrichment.create(config({ hashAlgorithm: 'MD5', excludeParameters: 'stm' }), env),
    /parameters\.excludeParameters/,
  );
});
