/** cross_navigation: V37/V38, the entity only when enabled, ISO timestamps as Java prints them, a config file loaded. */
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
import { crossNavigationTimestamp } from './cross-navigation.js';
import { buildEnrichments, readEnrichmentDir } from './load.js';
import type { Enrichment } from './types.js';

const CONFIG = {
  schema: 'iglu:com.snowplowanalytics.snowplow.enrichments/cross_navigation_config/jsonschema/1-0-0',
  data: {
    vendor: 'com.snowplowanalytics.snowplow.enrichments',
    name: 'cross_navigation_config',
    enabled: true,
  },
};

async function load(shared: string): Promise<Enrichment> {
  const dir = mkdtempSync(join(tmpdir(), 'furrow-crossnav-'));
  writeFileSync(join(dir, 'cross_navigation.json'), JSON.stringify(CONFIG));
  const built = await buildEnrichments(await readEnrichmentDir(dir), {
    resolver: sharedResolver(shared),
    baseDir: dir,
  });
  assert.equal(built.length, 1);
  assert.equal(built[0].info?.identifier, 'cross-navigation');
  return built[0];
}

function payload(sp: string): CollectorPayload {
  return {
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
      url: `https://shop.example/?a=1${sp}`,
    }).toString(),
    headers: [],
  };
}

async function run(shared: string, enrichments: Enrichment[], sp: string) {
  const out: EnrichOutput = { good: [], bad: [] };
  await new Enricher({ resolver: sharedResolver(shared), enrichments }).processPayload(payload(sp), out);
  return out;
}

const V37_ENTITY = {
  domain_user_id: 'abc',
  timestamp: '2023-10-13T05:44:03.762Z',
  session_id: null,
  user_id: null,
  source_id: null,
  source_platform: null,
  reason: null,
};

test('V37: refr_* always; the entity only with the enrichment, validated against cross_navigation/1-0-0', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const e = await load(shared);
  for (const enrichments of [[], [e]]) {
    const out = await run(shared, enrichments, '&_sp=abc.1697175843762');
    assert.deepEqual(out.bad, []);
    const v = out.good[0].split('\t');
    assert.equal(v[F.refr_domain_userid], 'abc');
    assert.equal(v[F.refr_dvce_tstamp], '2023-10-13 05:44:03.762');
    if (enrichments.length === 0) assert.equal(v[F.derived_contexts], '');
    else {
      assert.deepEqual(JSON.parse(v[F.derived_contexts]).data, [
        { schema: 'iglu:com.snowplowanalytics.snowplow/cross_navigation/jsonschema/1-0-0', data: V37_ENTITY },
      ]);
    }
  }
});

test('V38: all seven parts, base64url-decoded where they are encoded', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const out = await run(
    shared,
    [await load(shared)],
    '&_sp=abc.1697175843762.176ff68a-4769-4566-ad0e-3792c1c8148f.dGVzdGVy.c29tZVNvdXJjZUlk.web.dGVzdGluZ19yZWFzb24',
  );
  assert.deepEqual(out.bad, []);
  assert.deepEqual(JSON.parse(out.good[0].split('\t')[F.derived_contexts]).data[0].data, {
    ...V37_ENTITY,
    session_id: '176ff68a-4769-4566-ad0e-3792c1c8148f',
    user_id: 'tester',
    source_id: 'someSourceId',
    source_platform: 'web',
    reason: 'testing_reason',
  });
});

test('no _sp, an empty _sp, a missing timestamp or more than 7 parts: no entity', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const e = await load(shared);
  for (const sp of ['', '&_sp=', '&_sp=abc', '&_sp=abc.1697175843762.a.b.c.d.e.f']) {
    const out = await run(shared, [e], sp);
    assert.deepEqual(out.bad, [], sp);
    assert.equal(out.good[0].split('\t')[F.derived_contexts], '', sp);
  }
});

test('timestamps print like Java ISO_DATE_TIME: no trailing zeros in the fraction', () => {
  assert.equal(crossNavigationTimestamp(1697175843762), '2023-10-13T05:44:03.762Z');
  assert.equal(crossNavigationTimestamp(1697175843700), '2023-10-13T05:44:03.7Z');
  assert.equal(crossNavigationTimestamp(1697175843050), '2023-10-13T05:44:03.05Z');
  assert.equal(crossNavigationTimestamp(1697175840000), '2023-10-13T05:44:00Z');
});

test('a config the Iglu schema rejects (it takes no parameters) fails at start, naming the file', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const dir = mkdtempSync(join(tmpdir(), 'furrow-crossnav-bad-'));
  writeFileSync(
    join(dir, 'cross_navigation.json'),
    JSON.stringify({ ...CONFIG, data: { ...CONFIG.data, parameters: { x: 1 } } }),
  );
  await assert.rejects(
    async () =>
      buildEnrichments(await readEnrichmentDir(dir), { resolver: sharedResolver(shared), baseDir: dir }),
    /cross_navigation\.json: invalid cross_navigation_config configuration/,
  );
});
