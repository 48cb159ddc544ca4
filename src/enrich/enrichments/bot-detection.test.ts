import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sharedResolver } from '../../../test/helpers/enricher.js';
import { enrichmentConfig, pageView, runEnrichments } from '../../../test/helpers/enrichment-run.js';
import { writeMmdb } from '../../../test/helpers/mmdb-writer.js';
import { requireShared } from '../../../test/helpers/shared.js';
import type { EnrichedEvent } from '../event.js';
import { BOT_DETECTION_SCHEMA, botDetectionEnrichment } from './bot-detection.js';
import { defaultDeviceEnrichmentConfigs } from './defaults-device.js';
import { iabSpidersAndRobotsEnrichment } from './iab-spiders-and-robots.js';
import { ASN_SCHEMA, ipLookupsEnrichment } from './ip-lookups.js';
import { buildEnrichments, readEnrichmentDir } from './load.js';
import { type Enrichment, ORDER } from './types.js';
import { UA_PARSER_CONTEXT_SCHEMA } from './ua-parser.js';
import { YAUAA_CONTEXT_SCHEMA, yauaaEnrichment } from './yauaa.js';

const config = (
  p: Partial<Record<'useYauaa' | 'useIab' | 'useAsnLookups' | 'useClientSideDetection', boolean>>,
) =>
  enrichmentConfig('com.snowplowanalytics.snowplow.enrichments', 'bot_detection_enrichment_config', '1-0-1', {
    useYauaa: false,
    useIab: false,
    useAsnLookups: false,
    useClientSideDetection: false,
    ...p,
  });

const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0';

const botEntity = (derived: Array<{ schema: string; data: unknown }>) => {
  const found = derived.filter((d) => d.schema === BOT_DETECTION_SCHEMA);
  assert.equal(found.length, 1);
  return found[0].data;
};

test('configuration: flags must be booleans; unknown keys are rejected', async () => {
  const env = { resolver: null as never, baseDir: '.' };
  const make = async (p: Record<string, unknown>) =>
    botDetectionEnrichment.create({ ...config({}), parameters: p }, env);
  await assert.rejects(make({ useYauaa: 'yes' }), /parameters\.useYauaa: expected a boolean/);
  await assert.rejects(make({ useEverything: true }), /parameters\.useEverything/);
  assert.equal((await make({ useYauaa: true })).order, ORDER.botDetection);
});

test('yauaa indicator: from the YAUAA entity when configured, computed otherwise; always emitted', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const env = { resolver: sharedResolver(shared), baseDir: '.' };
  const bot = await botDetectionEnrichment.create(config({ useYauaa: true }), env);
  const yauaa = await yauaaEnrichment.create(
    enrichmentConfig('com.snowplowanalytics.snowplow.enrichments', 'yauaa_enrichment_config', '1-0-0', {}),
    env,
  );
  for (const steps of [[bot], [bot, yauaa]]) {
    const { derived, bad } = await runEnrichments(shared, steps, [
      pageView(GOOGLEBOT),
      pageView(FIREFOX),
      pageView(undefined),
    ]);
    assert.deepEqual(bad, []);
    assert.deepEqual(botEntity(derived[0]), { bot: true, indicators: ['yauaa'] });
    assert.deepEqual(botEntity(derived[1]), { bot: false, indicators: [] });
    assert.deepEqual(botEntity(derived[2]), { bot: false, indicators: [] });
    // bot_detection runs after YAUAA, so its entity comes first (prepended).
    assert.equal(derived[0][0].schema, BOT_DETECTION_SCHEMA);
    assert.equal(
      derived[0].some((d) => d.schema === YAUAA_CONTEXT_SCHEMA),
      steps.length === 2,
    );
  }
  // Disabled indicators are not consulted.
  const off = await botDetectionEnrichment.create(config({}), env);
  const { derived } = await runEnrichments(shared, [off], [pageView(GOOGLEBOT)]);
  assert.deepEqual(derived[0], [{ schema: BOT_DETECTION_SCHEMA, data: { bot: false, indicators: [] } }]);
});

test('iab, asnLookups and clientSideDetection indicators, in Snowplow’s order', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const dir = await mkdtemp(join(tmpdir(), 'furrow-bot-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'ip_exclude_current_cidr.txt'), '203.0.113.0/24\n');
  await writeFile(join(dir, 'include_current.txt'), 'mozilla|1|0\n');
  await writeFile(join(dir, 'exclude_current.txt'), '');
  await writeFile(
    join(dir, 'GeoLite2-ASN.mmdb'),
    writeMmdb('GeoLite2-ASN', [
      ['203.0.113.0/24', { autonomous_system_number: 64500, autonomous_system_organization: 'Hosting Co' }],
    ]),
  );
  const env = { resolver: sharedResolver(shared), baseDir: '.' };
  const iab = await iabSpidersAndRobotsEnrichment.create(
    enrichmentConfig(
      'com.snowplowanalytics.snowplow.enrichments',
      'iab_spiders_and_robots_enrichment',
      '1-0-1',
      {
        ipFile: { database: 'ip_exclude_current_cidr.txt', uri: dir },
        excludeUseragentFile: { database: 'exclude_current.txt', uri: dir },
        includeUseragentFile: { database: 'include_current.txt', uri: dir },
      },
    ),
    env,
  );
  const ip = await ipLookupsEnrichment.create(
    enrichmentConfig('com.snowplowanalytics.snowplow', 'ip_lookups', '2-0-1', {
      asn: { database: 'GeoLite2-ASN.mmdb', uri: dir },
    }),
    env,
  );
  t.after(async () => {
    await iab.close?.();
    await ip.close?.();
  });
  // Stands in for asn_lookups (another enrichment), which marks hosting ASNs as likely bots.
  const asnLookups: Enrichment = {
    order: ORDER.asnLookups,
    info: null,
    enrich(ev: EnrichedEvent) {
      for (const d of ev.derived)
        if (d.schema === ASN_SCHEMA) (d.data as Record<string, unknown>).likelyBot = true;
      return undefined;
    },
  };
  const bot = await botDetectionEnrichment.create(
    config({ useYauaa: true, useIab: true, useAsnLookups: true, useClientSideDetection: true }),
    env,
  );
  const clientSide = (isBot: boolean) => ({
    co: JSON.stringify({
      schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0',
      data: [
        {
          schema: 'iglu:com.snowplowanalytics.snowplow/client_side_bot_detection/jsonschema/1-0-0',
          data: isBot ? { bot: true, kind: 'headless_chrome' } : { bot: false },
        },
      ],
    }),
  });
  const { derived, bad } = await runEnrichments(
    shared,
    [bot, iab, ip, asnLookups],
    [
      pageView(GOOGLEBOT, '203.0.113.9', clientSide(true)),
      pageView(FIREFOX, '198.51.100.1', clientSide(false)),
      pageView(FIREFOX, '198.51.100.1', clientSide(true)),
    ],
  );
  assert.deepEqual(bad, []);
  assert.deepEqual(botEntity(derived[0]), {
    bot: true,
    indicators: ['yauaa', 'iab', 'asnLookups', 'clientSideDetection'],
  });
  assert.deepEqual(botEntity(derived[1]), { bot: false, indicators: [] });
  assert.deepEqual(botEntity(derived[2]), { bot: true, indicators: ['clientSideDetection'] });
});

test('defaultDeviceEnrichmentConfigs load unchanged and parse user agents and bots with no assets', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const dir = await mkdtemp(join(tmpdir(), 'furrow-bot-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const defaults = defaultDeviceEnrichmentConfigs();
  for (const [i, c] of defaults.entries()) await writeFile(join(dir, `${i}.json`), JSON.stringify(c));
  const built = await buildEnrichments(await readEnrichmentDir(dir), {
    resolver: sharedResolver(shared),
    baseDir: dir,
  });
  assert.deepEqual(
    built.map((e) => e.order),
    [ORDER.uaParser, ORDER.botDetection],
  );
  const { derived, bad } = await runEnrichments(shared, built, [pageView(GOOGLEBOT)]);
  assert.deepEqual(bad, []);
  assert.deepEqual(
    derived[0].map((d) => d.schema),
    [BOT_DETECTION_SCHEMA, UA_PARSER_CONTEXT_SCHEMA],
  );
  assert.deepEqual(derived[0][0].data, { bot: true, indicators: ['yauaa'] });
  // and the wrapper form (`enrichments/jsonschema/1-0-0`) is accepted too
  const wrapped = [
    {
      file: 'all.json',
      json: { schema: 'iglu:com.snowplowanalytics.snowplow/enrichments/jsonschema/1-0-0', data: defaults },
    },
  ];
  assert.equal(
    (await buildEnrichments(wrapped, { resolver: sharedResolver(shared), baseDir: dir })).length,
    2,
  );
});
