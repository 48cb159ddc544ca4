/**
 * Hostile input never escapes as an exception: random bytes, broken base64, invalid UTF-8, deep and
 * huge JSON all become bad rows (or good events), and every record produces at least one output.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Enricher, EnrichOutput } from '../src/enrich/pipeline.js';
import {
  COLLECTOR_PAYLOAD_SCHEMA,
  type CollectorPayload,
  encodeCollectorPayload,
} from '../src/protocol/collector-payload.js';
import { sharedEnricher } from './helpers/enricher.js';
import { requireShared } from './helpers/shared.js';

function payload(extra: Partial<CollectorPayload>): CollectorPayload {
  return {
    schema: COLLECTOR_PAYLOAD_SCHEMA,
    ipAddress: '10.0.0.1',
    timestamp: Date.UTC(2025, 0, 1),
    encoding: 'UTF-8',
    collector: 'fuzz',
    path: '/com.snowplowanalytics.snowplow/tp2',
    querystring: '',
    ...extra,
  };
}

async function outputsOf(enricher: Enricher, bytes: Uint8Array): Promise<EnrichOutput> {
  const out: EnrichOutput = { good: [], bad: [] };
  await enricher.processRecord(bytes, out);
  assert.ok(out.good.length + out.bad.length >= 1, 'every record produces an output');
  for (const b of out.bad) JSON.parse(b);
  for (const g of out.good) assert.equal(g.split('\t').length, 131);
  return out;
}

test('random bytes only ever produce collector_payload_format_violation bad rows', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const enricher = sharedEnricher(shared);
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), async (bytes) => {
      const out = await outputsOf(enricher, bytes);
      assert.equal(out.good.length, 0);
      assert.match(out.bad[0], /collector_payload_format_violation/);
    }),
    { numRuns: 500 },
  );
});

test('mutated valid records never throw', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const enricher = sharedEnricher(shared);
  const valid = encodeCollectorPayload(
    payload({ path: '/i', querystring: 'e=pv&p=web&tv=js&url=https%3A%2F%2Fa.b%2F' }),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
      async (edits) => {
        const bytes = Buffer.from(valid);
        for (const [i, b] of edits) bytes[i] = b;
        await outputsOf(enricher, bytes);
      },
    ),
    { numRuns: 500 },
  );
});

test('arbitrary query strings, bodies, content types and headers never throw', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const enricher = sharedEnricher(shared);
  const text = fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }));
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(
        '/i',
        '/ice.png',
        '/com.snowplowanalytics.snowplow/tp2',
        '/r/tp2',
        '/com.snowplowanalytics.iglu/v1',
        '/x/y',
      ),
      text,
      fc.option(text, { nil: undefined }),
      fc.option(fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain'), {
        nil: undefined,
      }),
      fc.array(text, { maxLength: 3 }),
      async (path, querystring, body, contentType, headers) => {
        await outputsOf(
          enricher,
          encodeCollectorPayload(payload({ path, querystring, body, contentType, headers })),
        );
      },
    ),
    { numRuns: 400 },
  );
});

test('tracker parameters with hostile values become bad rows or clean events', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const enricher = sharedEnricher(shared);
  const keys = [
    'e',
    'p',
    'tv',
    'eid',
    'dtm',
    'stm',
    'ttm',
    'ue_px',
    'cx',
    'co',
    'ue_pr',
    'url',
    'refr',
    'res',
    'vid',
    'se_va',
    'tr_tt',
    'f_pdf',
    'ip',
    'sid',
    'tnuid',
  ];
  await fc.assert(
    fc.asyncProperty(
      fc.dictionary(fc.constantFrom(...keys), fc.string({ maxLength: 60 }), { maxKeys: 8 }),
      async (params) => {
        const body = JSON.stringify({
          schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4',
          data: [{ e: 'pv', p: 'web', tv: 'js', ...params }],
        });
        await outputsOf(enricher, encodeCollectorPayload(payload({ body, contentType: 'application/json' })));
        const qs = new URLSearchParams(params).toString();
        await outputsOf(enricher, encodeCollectorPayload(payload({ path: '/i', querystring: qs })));
      },
    ),
    { numRuns: 300 },
  );
});

test('deeply nested and huge JSON are rejected with precise messages', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const enricher = sharedEnricher(shared);
  const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
  const deepBody = await outputsOf(
    enricher,
    encodeCollectorPayload(payload({ body: deep, contentType: 'application/json' })),
  );
  assert.match(deepBody.bad[0], /maximum allowed JSON depth exceeded/);
  const deepUe = await outputsOf(
    enricher,
    encodeCollectorPayload(
      payload({ path: '/i', querystring: `e=ue&p=web&tv=js&ue_pr=${encodeURIComponent(deep)}` }),
    ),
  );
  assert.match(deepUe.bad[0], /maximum allowed JSON depth exceeded/);
  const huge = JSON.stringify({
    schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4',
    data: Array.from({ length: 20_000 }, (_, i) => ({ e: 'pv', p: 'web', tv: 'js', aid: `a${i}` })),
  });
  const many = await outputsOf(
    enricher,
    encodeCollectorPayload(payload({ body: huge, contentType: 'application/json' })),
  );
  assert.equal(many.good.length, 20_000);
});

test('invalid UTF-8 and broken base64 do not throw', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const enricher = sharedEnricher(shared);
  const valid = payload({ path: '/i', querystring: 'e=ue&p=web&tv=js&ue_px=%%%broken%%%' });
  await outputsOf(enricher, encodeCollectorPayload(valid));
  await outputsOf(enricher, encodeCollectorPayload({ ...valid, querystring: 'e=pv&p=web&tv=js&cx=!!!!' }));
  const bytes = Buffer.from(encodeCollectorPayload({ ...valid, querystring: 'e=pv&p=web&tv=js&page=ZZZZ' }));
  const at = bytes.indexOf('ZZZZ');
  bytes.set([0xc3, 0x28, 0xff, 0xfe], at);
  const out = await outputsOf(enricher, bytes);
  assert.equal(out.good.length, 1);
});
