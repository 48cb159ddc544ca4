/** campaign_attribution: spec vectors V24/V25, click ids, TSV effect, config errors, a config file loaded unchanged. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sharedResolver } from '../../../test/helpers/enricher.js';
import { requireShared } from '../../../test/helpers/shared.js';
import { COLLECTOR_PAYLOAD_SCHEMA, type CollectorPayload } from '../../protocol/collector-payload.js';
import { F } from '../../protocol/enriched-fields.js';
import { Enricher, type EnrichOutput } from '../pipeline.js';
import { campaignAttributionEnrichment } from './campaign-attribution.js';
import { buildEnrichments, readEnrichmentDir } from './load.js';
import type { Enrichment, EnrichmentConfig } from './types.js';

const SCHEMA = 'iglu:com.snowplowanalytics.snowplow/campaign_attribution/jsonschema/1-0-1';

function config(fields: Record<string, unknown>): EnrichmentConfig {
  return {
    schemaKey: SCHEMA,
    vendor: 'com.snowplowanalytics.snowplow',
    name: 'campaign_attribution',
    enabled: true,
    parameters: { mapping: 'static', fields },
  };
}

const V24_FIELDS = {
  mktMedium: ['utm_medium', 'medium'],
  mktSource: ['utm_source', 'source'],
  mktTerm: ['utm_term', 'legacy_term'],
  mktContent: ['utm_content'],
  mktCampaign: ['utm_campaign', 'cid', 'legacy_campaign'],
};

function payload(url: string | null): CollectorPayload {
  const params: Record<string, string> = { e: 'pv', p: 'web', tv: 'js-4.10.1' };
  if (url !== null) params.url = url;
  return {
    schema: COLLECTOR_PAYLOAD_SCHEMA,
    ipAddress: '10.0.0.1',
    timestamp: Date.UTC(2024, 0, 1),
    encoding: 'UTF-8',
    collector: 'ssc-3.4.0-kafka',
    path: '/i',
    querystring: new URLSearchParams(params).toString(),
    headers: [],
  };
}

async function enrich(shared: string, e: Enrichment, url: string | null): Promise<string[]> {
  const enricher = new Enricher({ resolver: sharedResolver(shared), enrichments: [e] });
  const out: EnrichOutput = { good: [], bad: [] };
  await enricher.processPayload(payload(url), out);
  assert.deepEqual(out.bad, []);
  assert.equal(out.good.length, 1);
  return out.good[0].split('\t');
}

test('V24: first configured parameter present wins, msclkid sets the Microsoft network', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const e = await campaignAttributionEnrichment.create(config(V24_FIELDS), {
    resolver: sharedResolver(shared),
    baseDir: '.',
  });
  const v = await enrich(
    shared,
    e,
    'http://www.example.com/?utm_source=GoogleSearch&source=bad_source&utm_medium=cpc&legacy_term=bad_term' +
      '&utm_term=native%20american%20tarot%20deck&legacy_campaign=bad_campaign&cid=uk-tarot--native-american&msclkid=500',
  );
  assert.equal(v[F.mkt_medium], 'cpc');
  assert.equal(v[F.mkt_source], 'GoogleSearch');
  assert.equal(v[F.mkt_term], 'native american tarot deck');
  assert.equal(v[F.mkt_content], '');
  assert.equal(v[F.mkt_campaign], 'uk-tarot--native-american');
  assert.equal(v[F.mkt_clickid], '500');
  assert.equal(v[F.mkt_network], 'Microsoft');
  assert.equal(v[F.derived_contexts], '');
});

test('V25: configuration order wins over URL order; the last occurrence of a parameter wins', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const e = await campaignAttributionEnrichment.create(
    config({ ...V24_FIELDS, mktCampaign: ['utm_campaign', 'legacy_campaign'] }),
    { resolver: sharedResolver(shared), baseDir: '.' },
  );
  let v = await enrich(shared, e, 'http://www.example.com/?legacy_campaign=old&utm_campaign=new');
  assert.equal(v[F.mkt_campaign], 'new');
  v = await enrich(shared, e, 'http://www.example.com/?utm_campaign=first&utm_campaign=last+one');
  assert.equal(v[F.mkt_campaign], 'last one');
});

test('click ids: configured entries extend and override the defaults; a present-but-empty parameter still counts', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const e = await campaignAttributionEnrichment.create(
    config({ ...V24_FIELDS, mktClickId: { gclid: 'Google Ads', fbclid: 'Facebook' } }),
    { resolver: sharedResolver(shared), baseDir: '.' },
  );
  let v = await enrich(shared, e, 'http://www.example.com/?fbclid=f1&gclid=g1');
  assert.equal(v[F.mkt_clickid], 'g1', 'gclid keeps its default position before fbclid');
  assert.equal(v[F.mkt_network], 'Google Ads');
  v = await enrich(shared, e, 'http://www.example.com/?fbclid=f1&utm_medium&medium=email');
  assert.equal(v[F.mkt_clickid], 'f1');
  assert.equal(v[F.mkt_network], 'Facebook');
  assert.equal(v[F.mkt_medium], '', 'utm_medium without a value is present, so medium is not used');
});

test('no page URL or no query: mkt_* stay empty', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const e = await campaignAttributionEnrichment.create(config(V24_FIELDS), {
    resolver: sharedResolver(shared),
    baseDir: '.',
  });
  for (const url of [null, 'http://www.example.com/page']) {
    const v = await enrich(shared, e, url);
    for (const i of [
      F.mkt_medium,
      F.mkt_source,
      F.mkt_term,
      F.mkt_content,
      F.mkt_campaign,
      F.mkt_clickid,
      F.mkt_network,
    ]) {
      assert.equal(v[i], '');
    }
  }
});

test('configuration errors name the key', () => {
  const env = { resolver: sharedResolver('.'), baseDir: '.' };
  assert.throws(
    () => campaignAttributionEnrichment.create(config({ ...V24_FIELDS, mktTerm: 'utm_term' }), env),
    /parameters\.fields\.mktTerm: expected an array/,
  );
  assert.throws(
    () => campaignAttributionEnrichment.create(config({ ...V24_FIELDS, mktClickId: { x: 1 } }), env),
    /parameters\.fields\.mktClickId\.x/,
  );
  assert.throws(
    () => campaignAttributionEnrichment.create({ ...config(V24_FIELDS), parameters: {} }, env),
    /parameters\.fields: expected an object/,
  );
});

test('a Snowplow config file loads unchanged through buildEnrichments (validated against Iglu Central)', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const dir = mkdtempSync(join(tmpdir(), 'furrow-campaign-'));
  const file = {
    schema: SCHEMA,
    data: {
      vendor: 'com.snowplowanalytics.snowplow',
      name: 'campaign_attribution',
      enabled: true,
      parameters: config(V24_FIELDS).parameters,
    },
  };
  writeFileSync(join(dir, 'campaign_attribution.json'), JSON.stringify(file));
  const [e] = await buildEnrichments(await readEnrichmentDir(dir), {
    resolver: sharedResolver(shared),
    baseDir: dir,
  });
  assert.equal(e.info?.identifier, 'campaign-attribution');
  const v = await enrich(shared, e, 'http://www.example.com/?utm_source=newsletter');
  assert.equal(v[F.mkt_source], 'newsletter');
  // The Iglu schema rejects what the enrichment would also reject.
  writeFileSync(
    join(dir, 'campaign_attribution.json'),
    JSON.stringify({ ...file, data: { ...file.data, parameters: { fields: {} } } }),
  );
  await assert.rejects(
    async () =>
      buildEnrichments(await readEnrichmentDir(dir), { resolver: sharedResolver(shared), baseDir: dir }),
    /invalid campaign_attribution configuration/,
  );
});
