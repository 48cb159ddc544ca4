/** The default page enrichments: valid Snowplow configs (checked against Iglu Central) that build and run. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { sharedResolver } from '../../../test/helpers/enricher.js';
import { requireShared } from '../../../test/helpers/shared.js';
import { COLLECTOR_PAYLOAD_SCHEMA } from '../../protocol/collector-payload.js';
import { F } from '../../protocol/enriched-fields.js';
import { Enricher, type EnrichOutput } from '../pipeline.js';
import { defaultPageEnrichmentConfigs } from './defaults-page.js';
import { buildEnrichments } from './load.js';

test('campaign attribution and event fingerprint by default; referer_parser only with a database path', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const resolver = sharedResolver(shared);
  const names = (configs: unknown[]) => configs.map((c) => (c as { data: { name: string } }).data.name);
  assert.deepEqual(names(defaultPageEnrichmentConfigs()), [
    'campaign_attribution',
    'event_fingerprint_config',
  ]);
  const configs = defaultPageEnrichmentConfigs(join(shared, 'referer-parser', 'referers.json'));
  assert.deepEqual(names(configs), ['campaign_attribution', 'event_fingerprint_config', 'referer_parser']);
  const built = await buildEnrichments(
    configs.map((json) => ({ file: 'defaults', json })),
    { resolver, baseDir: process.cwd() },
  );
  try {
    assert.deepEqual(
      built.map((e) => e.info?.identifier),
      ['campaign-attribution', 'event-fingerprint', 'referer-parser'],
    );
    const out: EnrichOutput = { good: [], bad: [] };
    await new Enricher({ resolver, enrichments: built }).processPayload(
      {
        schema: COLLECTOR_PAYLOAD_SCHEMA,
        ipAddress: '10.0.0.1',
        timestamp: Date.UTC(2024, 0, 1),
        encoding: 'UTF-8',
        collector: 'ssc-3.4.0-kafka',
        path: '/i',
        querystring: new URLSearchParams({
          e: 'pv',
          p: 'web',
          tv: 'js-4.10.1',
          url: 'https://shop.example/?utm_source=news&utm_medium=email&utm_campaign=spring',
          refr: 'https://www.bing.com/search?q=tarot+decks',
        }).toString(),
        headers: [],
      },
      out,
    );
    assert.deepEqual(out.bad, []);
    const v = out.good[0].split('\t');
    assert.deepEqual([v[F.mkt_source], v[F.mkt_medium], v[F.mkt_campaign]], ['news', 'email', 'spring']);
    assert.match(v[F.event_fingerprint], /^[0-9a-f]{32}$/);
    assert.deepEqual([v[F.refr_medium], v[F.refr_source], v[F.refr_term]], ['search', 'Bing', 'tarot decks']);
  } finally {
    for (const e of built) await e.close?.();
  }
});
