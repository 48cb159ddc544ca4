import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sharedResolver } from '../../../test/helpers/enricher.js';
import {
  COLLECTOR_MS,
  enrichmentConfig,
  enrichmentFile,
  pageView,
  runEnrichments,
} from '../../../test/helpers/enrichment-run.js';
import { requireShared } from '../../../test/helpers/shared.js';
import {
  IAB_CONTEXT_SCHEMA,
  iabSpidersAndRobotsEnrichment,
  parseIabDate,
  parsePipeRecords,
} from './iab-spiders-and-robots.js';
import { buildEnrichments, readEnrichmentDir } from './load.js';
import { type Enrichment, ORDER } from './types.js';

const config = (uri: string, extra: Record<string, unknown> = {}) =>
  enrichmentConfig(
    'com.snowplowanalytics.snowplow.enrichments',
    'iab_spiders_and_robots_enrichment',
    '1-0-1',
    {
      ipFile: { database: 'ip_exclude_current_cidr.txt', uri },
      excludeUseragentFile: { database: 'exclude_current.txt', uri },
      includeUseragentFile: { database: 'include_current.txt', uri },
      ...extra,
    },
  );

/** Small lists in the IAB/ABC layout. */
async function writeLists(dir: string): Promise<void> {
  await writeFile(
    join(dir, 'ip_exclude_current_cidr.txt'),
    '# IAB IP exclude list\n192.168.151.0/24\n10.20.30.40\n2001:db8:1::/48\n\n',
  );
  await writeFile(
    join(dir, 'include_current.txt'),
    [
      '# pattern|active|start of string|inactive date',
      'Xdroid|1|1',
      'mozilla|1|0',
      'Oldbrowser|0|0|01/01/2030',
      'Gonebrowser|0|0|01/01/2020',
      '#Commented browser|1|1',
    ].join('\n'),
  );
  await writeFile(
    join(dir, 'exclude_current.txt'),
    [
      '# pattern|active|exceptions|additional flag|primary impact|start of string|inactive date',
      'examplebot|1|examplebot-friendly, notreally|0|2|0|',
      'oldcrawler|0||0|0|0|06/30/2024',
      'retiredcrawler|0||0|1|0|',
      'badimpact|1||0|7|0|',
    ].join('\n'),
  );
}

test('list parsing: pipes, quotes, comments, blank lines, dates', () => {
  assert.deepEqual(parsePipeRecords('# c\n\na|1| 0 \n"x|y"|1\n'), [
    ['a', '1', '0'],
    ['x|y', '1'],
  ]);
  assert.equal(parseIabDate('06/30/2024'), Date.UTC(2024, 5, 30));
  assert.equal(parseIabDate(''), null);
  assert.equal(parseIabDate(undefined), null);
});

test('configuration: the three files are required; inline lists are string arrays', async () => {
  const env = { resolver: null as never, baseDir: '.' };
  const make = async (p: Record<string, unknown>) =>
    iabSpidersAndRobotsEnrichment.create({ ...config('/x'), parameters: p }, env);
  const full = config('/nonexistent').parameters;
  await assert.rejects(make({ ...full, ipFile: undefined }), /parameters\.ipFile: expected an object/);
  await assert.rejects(
    make({ ...full, includeUseragentFile: { uri: '/x' } }),
    /parameters\.includeUseragentFile\.database/,
  );
  await assert.rejects(make({ ...full, excludeUseragents: 'bot' }), /parameters\.excludeUseragents/);
  await assert.rejects(make(full), /ip_exclude_current_cidr\.txt: file not found/);
});

test('V33 and the active/inactive rules through the pipeline', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const dir = await mkdtemp(join(tmpdir(), 'furrow-iab-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeLists(dir);
  const env = { resolver: sharedResolver(shared), baseDir: '.' };
  const e: Enrichment = await iabSpidersAndRobotsEnrichment.create(config(dir), env);
  t.after(() => e.close?.());
  assert.equal(e.order, ORDER.iabSpidersAndRobots);
  assert.deepEqual(e.info, { schemaKey: config(dir).schemaKey, identifier: 'iab-spiders-and-robots' });
  const browser = { spiderOrRobot: false, category: 'BROWSER', reason: 'PASSED_ALL', primaryImpact: 'NONE' };
  const cases: Array<[string | undefined, string, Record<string, unknown>]> = [
    // V33
    ['Xdroid', '192.168.0.1', browser],
    [
      'Mozilla/5.0',
      '192.168.151.21',
      {
        spiderOrRobot: true,
        category: 'SPIDER_OR_ROBOT',
        reason: 'FAILED_IP_EXCLUDE',
        primaryImpact: 'UNKNOWN',
      },
    ],
    [
      'xonitor',
      '192.168.0.1',
      {
        spiderOrRobot: true,
        category: 'SPIDER_OR_ROBOT',
        reason: 'FAILED_UA_INCLUDE',
        primaryImpact: 'UNKNOWN',
      },
    ],
    // plain address and IPv6 block in the IP list; no user agent at all
    [
      undefined,
      '10.20.30.40',
      {
        spiderOrRobot: true,
        category: 'SPIDER_OR_ROBOT',
        reason: 'FAILED_IP_EXCLUDE',
        primaryImpact: 'UNKNOWN',
      },
    ],
    [
      undefined,
      '2001:db8:1:2::5',
      {
        spiderOrRobot: true,
        category: 'SPIDER_OR_ROBOT',
        reason: 'FAILED_IP_EXCLUDE',
        primaryImpact: 'UNKNOWN',
      },
    ],
    [undefined, '192.168.0.1', browser],
    // start-of-string include pattern
    [
      'My Xdroid',
      '192.168.0.1',
      {
        spiderOrRobot: true,
        category: 'SPIDER_OR_ROBOT',
        reason: 'FAILED_UA_INCLUDE',
        primaryImpact: 'UNKNOWN',
      },
    ],
    // include records: inactive but still before their inactive date / already past it
    ['Oldbrowser/1.0', '192.168.0.1', browser],
    [
      'Gonebrowser/1.0',
      '192.168.0.1',
      {
        spiderOrRobot: true,
        category: 'SPIDER_OR_ROBOT',
        reason: 'FAILED_UA_INCLUDE',
        primaryImpact: 'UNKNOWN',
      },
    ],
    // exclude records: active; exception pattern; inactive by date; inactive without date (ignored)
    [
      'Mozilla/5.0 (compatible; ExampleBot/1.0)',
      '192.168.0.1',
      {
        spiderOrRobot: true,
        category: 'ACTIVE_SPIDER_OR_ROBOT',
        reason: 'FAILED_UA_EXCLUDE',
        primaryImpact: 'PAGE_AND_AD_IMPRESSIONS',
      },
    ],
    ['Mozilla/5.0 (compatible; ExampleBot-Friendly/1.0)', '192.168.0.1', browser],
    [
      'Mozilla/5.0 OldCrawler',
      '192.168.0.1',
      {
        spiderOrRobot: true,
        category: 'INACTIVE_SPIDER_OR_ROBOT',
        reason: 'FAILED_UA_EXCLUDE',
        primaryImpact: 'PAGE_IMPRESSIONS',
      },
    ],
    ['Mozilla/5.0 RetiredCrawler', '192.168.0.1', browser],
  ];
  const { events, derived, bad } = await runEnrichments(
    shared,
    [e],
    cases.map(([ua, ip]) => pageView(ua, ip)),
  );
  assert.deepEqual(bad, []);
  cases.forEach(([ua, ip, expected], i) => {
    assert.deepEqual(derived[i], [{ schema: IAB_CONTEXT_SCHEMA, data: expected }], `${ua} from ${ip}`);
  });
  // The raw IP is what is checked, and it stays in the TSV (anonymisation comes much later).
  assert.equal(events[1].user_ipaddress, '192.168.151.21');
  // An exclude record with an invalid impact flag fails the event as the IAB client does.
  const failed = await runEnrichments(shared, [e], [pageView('Mozilla/5.0 badimpact', '192.168.0.1')]);
  assert.equal(failed.bad.length, 1);
  assert.match(failed.bad[0].schema, /enrichment_failures/);
  assert.deepEqual(failed.bad[0].data.failure.messages, [
    { enrichment: e.info, message: { error: "Invalid value of impression flag: '7'" } },
  ]);
});

test('inline includeUseragents/excludeUseragents come first; an unchanged config file loads', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const dir = await mkdtemp(join(tmpdir(), 'furrow-iab-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeLists(dir);
  const cfg = config(`file://${dir}`, {
    includeUseragents: ['AcmeMonitor'],
    excludeUseragents: ['Mozilla/5.0 (Evil'],
  });
  await writeFile(join(dir, 'iab_spiders_and_robots_enrichment.json'), JSON.stringify(enrichmentFile(cfg)));
  const built = await buildEnrichments(await readEnrichmentDir(dir), {
    resolver: sharedResolver(shared),
    baseDir: dir,
  });
  t.after(() => built[0].close?.());
  const { derived, bad } = await runEnrichments(shared, built, [
    pageView('acmemonitor/2', '192.168.151.21'),
    pageView('Mozilla/5.0 (Evil)', '192.168.0.1'),
  ]);
  assert.deepEqual(bad, []);
  assert.equal((derived[0][0].data as { reason: string }).reason, 'PASSED_ALL');
  assert.deepEqual(derived[1][0].data, {
    spiderOrRobot: true,
    category: 'SPIDER_OR_ROBOT',
    reason: 'FAILED_UA_EXCLUDE',
    primaryImpact: 'UNKNOWN',
  });
});

test('derived_tstamp decides activity: the same robot is active before its inactive date', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const dir = await mkdtemp(join(tmpdir(), 'furrow-iab-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeLists(dir);
  const e = await iabSpidersAndRobotsEnrichment.create(config(dir), {
    resolver: sharedResolver(shared),
    baseDir: '.',
  });
  t.after(() => e.close?.());
  const before = Date.UTC(2024, 0, 1);
  assert.ok(before < COLLECTOR_MS);
  const { derived } = await runEnrichments(
    shared,
    [e],
    [pageView('Mozilla/5.0 OldCrawler', '192.168.0.1', { ttm: String(before) })],
  );
  assert.equal((derived[0][0].data as { category: string }).category, 'ACTIVE_SPIDER_OR_ROBOT');
});
