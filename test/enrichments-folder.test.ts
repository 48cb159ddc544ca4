/**
 * A folder of Snowplow enrichment configuration files, in Snowplow's own format, loads unchanged into
 * `furrow enrich --enrichments DIR` and every enrichment shows in the output, with the derived contexts
 * valid against Iglu Central.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { F } from '../src/protocol/enriched-fields.js';
import { requireShared } from './helpers/shared.js';

const sd = (schema: string, vendor: string, name: string, parameters: unknown, extra: object = {}) => ({
  schema,
  data: { vendor, name, enabled: true, ...(parameters === undefined ? {} : { parameters }), ...extra },
});

function folder(shared: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'furrow-enrichments-'));
  const files: Record<string, unknown> = {
    'anon_ip.json': sd(
      'iglu:com.snowplowanalytics.snowplow/anon_ip/jsonschema/1-0-1',
      'com.snowplowanalytics.snowplow',
      'anon_ip',
      {
        anonOctets: 1,
        anonSegments: 1,
      },
    ),
    'campaign_attribution.json': sd(
      'iglu:com.snowplowanalytics.snowplow/campaign_attribution/jsonschema/1-0-1',
      'com.snowplowanalytics.snowplow',
      'campaign_attribution',
      {
        mapping: 'static',
        fields: {
          mktMedium: ['utm_medium'],
          mktSource: ['utm_source'],
          mktTerm: ['utm_term'],
          mktContent: ['utm_content'],
          mktCampaign: ['utm_campaign'],
        },
      },
    ),
    'cookie_extractor.json': sd(
      'iglu:com.snowplowanalytics.snowplow/cookie_extractor_config/jsonschema/1-0-0',
      'com.snowplowanalytics.snowplow',
      'cookie_extractor_config',
      { cookies: ['consent'] },
    ),
    'event_fingerprint.json': sd(
      'iglu:com.snowplowanalytics.snowplow/event_fingerprint_config/jsonschema/1-0-1',
      'com.snowplowanalytics.snowplow',
      'event_fingerprint_config',
      { excludeParameters: ['eid', 'nuid', 'stm', 'cv'], hashAlgorithm: 'MD5' },
    ),
    'http_header_extractor.json': sd(
      'iglu:com.snowplowanalytics.snowplow.enrichments/http_header_extractor_config/jsonschema/1-0-0',
      'com.snowplowanalytics.snowplow.enrichments',
      'http_header_extractor_config',
      { headersPattern: 'X-Experiment.*' },
    ),
    'referer_parser.json': sd(
      'iglu:com.snowplowanalytics.snowplow/referer_parser/jsonschema/2-0-0',
      'com.snowplowanalytics.snowplow',
      'referer_parser',
      {
        internalDomains: ['www.shop.example'],
        database: 'referers.json',
        uri: pathToFileURL(join(shared, 'referer-parser')).href,
      },
    ),
    'ua_parser.json': sd(
      'iglu:com.snowplowanalytics.snowplow/ua_parser_config/jsonschema/1-0-1',
      'com.snowplowanalytics.snowplow',
      'ua_parser_config',
      {},
    ),
    'yauaa.json': sd(
      'iglu:com.snowplowanalytics.snowplow.enrichments/yauaa_enrichment_config/jsonschema/1-0-0',
      'com.snowplowanalytics.snowplow.enrichments',
      'yauaa_enrichment_config',
      { cacheSize: 1000 },
    ),
    'cross_navigation.json': sd(
      'iglu:com.snowplowanalytics.snowplow.enrichments/cross_navigation_config/jsonschema/1-0-0',
      'com.snowplowanalytics.snowplow.enrichments',
      'cross_navigation_config',
      undefined,
    ),
    'bot_detection.json': sd(
      'iglu:com.snowplowanalytics.snowplow.enrichments/bot_detection_enrichment_config/jsonschema/1-0-1',
      'com.snowplowanalytics.snowplow.enrichments',
      'bot_detection_enrichment_config',
      { useYauaa: true, useIab: false, useAsnLookups: false, useClientSideDetection: false },
    ),
    'javascript.json': sd(
      'iglu:com.snowplowanalytics.snowplow/javascript_script_config/jsonschema/1-0-0',
      'com.snowplowanalytics.snowplow',
      'javascript_script_config',
      {
        script: Buffer.from(
          'function process(event) { if (event.getApp_id() === "drop-me") { event.drop(); return []; } ' +
            'return [{ schema: "iglu:com.acme/unknown_but_not_validated/jsonschema/1-0-0", data: {} }].slice(0, 0).concat(' +
            '[{ schema: "iglu:com.snowplowanalytics.snowplow/duplicate/jsonschema/1-0-0", data: { originalEventId: event.getEvent_id() } }]); }',
        ).toString('base64'),
      },
    ),
    'pii.json': sd(
      'iglu:com.snowplowanalytics.snowplow.enrichments/pii_enrichment_config/jsonschema/2-0-0',
      'com.snowplowanalytics.snowplow.enrichments',
      'pii_enrichment_config',
      {
        pii: [{ pojo: { field: 'user_id' } }],
        strategy: { pseudonymize: { hashFunction: 'SHA-1', salt: 'pepper123' } },
      },
      { emitEvent: false },
    ),
    'disabled.json': {
      schema: 'iglu:com.snowplowanalytics.snowplow/anon_ip/jsonschema/1-0-0',
      data: {
        vendor: 'com.snowplowanalytics.snowplow',
        name: 'anon_ip',
        enabled: false,
        parameters: { anonOctets: 4 },
      },
    },
  };
  for (const [name, json] of Object.entries(files))
    writeFileSync(join(dir, name), JSON.stringify(json, null, 2));
  return dir;
}

const REQUESTS = `GET /i?e=pv&p=web&tv=js-4.10.1&aid=shop&uid=alex%20123&url=https%3A%2F%2Fwww.shop.example%2Fp%3Futm_source%3Dnews%26utm_medium%3Demail%26_sp%3Dabc.1697175843762&refr=http%3A%2F%2Fwww.google.com%2Fsearch%3Fq%3Dfurrow%2Bpipeline
User-Agent: Mozilla/5.0 (iPhone; CPU iPhone OS 5_1_1 like Mac OS X) AppleWebKit/534.46 (KHTML, like Gecko) Version/5.1 Mobile/9B206 Safari/7534.48.3
X-Forwarded-For: 54.242.102.43
X-Experiment-Arm: blue
Cookie: consent=granted; other=x
---
GET /i?e=pv&p=web&tv=js-4.10.1&aid=drop-me
`;

test('a Snowplow enrichments folder loads unchanged and every enrichment shows in the output', async (t) => {
  const shared = requireShared(t);
  if (shared === undefined) return;
  const dir = folder(shared);
  const resolver = join(mkdtempSync(join(tmpdir(), 'furrow-resolver-')), 'resolver.json');
  writeFileSync(
    resolver,
    JSON.stringify({
      schema: 'iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-1',
      data: {
        cacheSize: 500,
        repositories: [
          {
            name: 'mirror',
            priority: 0,
            vendorPrefixes: [],
            connection: { embedded: { path: join(shared, 'iglu-central') } },
          },
        ],
      },
    }),
  );
  mkdirSync(join(dir, 'unrelated-subfolder'));
  const run = spawnSync(
    process.execPath,
    [join(process.cwd(), 'bin', 'furrow.js'), 'enrich', '--resolver', resolver, '--enrichments', dir, '-'],
    {
      input: REQUESTS,
      timeout: 120_000,
    },
  );
  const stdout = run.stdout.toString();
  const stderr = run.stderr.toString();
  assert.equal(run.status, 0, stderr);
  const lines = stdout.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one good event (the other is dropped by the script); stderr: ${stderr}`);
  assert.ok(
    !stderr.includes('"schema":"iglu:com.snowplowanalytics.snowplow.badrows'),
    `no bad rows: ${stderr}`,
  );
  const f = lines[0].split('\t');
  assert.equal(f[F.user_ipaddress], '54.242.102.x', 'anon_ip');
  assert.equal(f[F.mkt_source], 'news', 'campaign_attribution');
  assert.equal(f[F.mkt_medium], 'email');
  assert.equal(f[F.refr_medium], 'search', 'referer_parser');
  assert.equal(f[F.refr_source], 'Google');
  assert.equal(f[F.refr_term], 'furrow pipeline');
  assert.match(f[F.event_fingerprint], /^[0-9a-f]{32}$/, 'event_fingerprint');
  assert.equal(f[F.user_id], 'd1a21f2589511b4ed04ee297d88d950efb2612dc', 'pii_enrichment (V36)');
  assert.equal(f[F.refr_domain_userid], 'abc');
  const derived = JSON.parse(f[F.derived_contexts]) as { data: Array<{ schema: string; data: any }> };
  const bySchema = (part: string) => derived.data.filter((e) => e.schema.includes(part));
  assert.equal(bySchema('/ua_parser_context/')[0].data.useragentFamily, 'Mobile Safari');
  assert.equal(bySchema('/yauaa_context/')[0].data.deviceClass, 'Phone');
  assert.deepEqual(bySchema('/http_cookie/')[0].data, { name: 'consent', value: 'granted' });
  assert.deepEqual(bySchema('/http_header/')[0].data, { name: 'X-Experiment-Arm', value: 'blue' });
  assert.equal(bySchema('/cross_navigation/')[0].data.domain_user_id, 'abc');
  assert.equal(bySchema('/bot_detection/')[0].data.bot, false);
  assert.equal(
    bySchema('/duplicate/')[0].data.originalEventId,
    f[F.event_id],
    'javascript_script_enrichment',
  );
});
