import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sharedResolver } from '../../../test/helpers/enricher.js';
import {
  enrichmentConfig,
  enrichmentFile,
  pageView,
  runEnrichments,
} from '../../../test/helpers/enrichment-run.js';
import { requireShared } from '../../../test/helpers/shared.js';
import { buildEnrichments, readEnrichmentDir } from './load.js';
import { ORDER } from './types.js';
import { analyzeUserAgent, YAUAA_CONTEXT_SCHEMA, YauaaAnalyzer, yauaaEnrichment } from './yauaa.js';

const config = (parameters: Record<string, unknown> = {}) =>
  enrichmentConfig(
    'com.snowplowanalytics.snowplow.enrichments',
    'yauaa_enrichment_config',
    '1-0-0',
    parameters,
  );

// The user agents of Snowplow's YauaaEnrichmentSpec.
const UA = {
  ipad: 'Mozilla/5.0 (iPad; CPU OS 6_1_3 like Mac OS X) AppleWebKit/536.26 (KHTML, like Gecko) Version/6.0 Mobile/10B329 Safari/8536.25',
  iphoneX:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 11_0 like Mac OS X) AppleWebKit/604.1.38 (KHTML, like Gecko) Version/11.0 Mobile/15A372 Safari/604.1',
  iphone7:
    'Mozilla/5.0 (iPhone9,3; U; CPU iPhone OS 10_0_1 like Mac OS X) AppleWebKit/602.1.50 (KHTML, like Gecko) Version/10.0 Mobile/14A403 Safari/602.1',
  galaxyTab:
    'Mozilla/5.0 (Linux; U; Android 2.2; fr-fr; GT-P1000 Build/FROYO) AppleWebKit/533.1 (KHTML, like Gecko) Version/4.0 Mobile Safari/533.1',
  galaxyS9:
    'Mozilla/5.0 (Linux; Android 8.0.0; SM-G960F Build/R16NW) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/62.0.3202.84 Mobile Safari/537.36',
  galaxyS8:
    'Mozilla/5.0 (Linux; Android 7.0; SM-G892A Build/NRD90M; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/60.0.3112.107 Mobile Safari/537.36',
  nexusS:
    'Mozilla/5.0 (Linux; Android 4.1.2; Nexus S Build/JZO54K) AppleWebKit/535.19 (KHTML, like Gecko) Chrome/18.0.1025.166 Mobile Safari/535.19',
  nexusOne:
    'Mozilla/5.0 (Linux; U; Android 2.2; en-us; Nexus One Build/FRF91) AppleWebKit/533.1 (KHTML, like Gecko) Version/4.0 Mobile Safari/533.1',
  playstation4: 'Mozilla/5.0 (PlayStation 4 1.52) AppleWebKit/536.26 (KHTML, like Gecko)',
  chrome:
    'Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/535.1 (KHTML, like Gecko) Chrome/13.0.782.112 Safari/535.1',
  chromium:
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.22 (KHTML, like Gecko) Ubuntu Chromium/25.0.1364.160 Chrome/25.0.1364.160 Safari/537.22',
  firefox: 'Mozilla/5.0 (Windows NT 6.1; rv:2.0b7pre) Gecko/20100921 Firefox/4.0b7pre',
  ie: 'Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.0; Trident/5.0)',
  opera: 'Mozilla/4.0 (compatible; MSIE 6.0; MSIE 5.5; Windows NT 5.0) Opera 7.02 Bork-edition [en]',
  safari:
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_8_4) AppleWebKit/536.30.1 (KHTML, like Gecko) Version/6.0.5 Safari/536.30.1',
  googlebot: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
};

const field = (ua: string, name: string) => analyzeUserAgent(ua)[name];

test('V30: deviceClass', () => {
  assert.equal(field(UA.chromium, 'deviceClass'), 'Desktop');
  assert.equal(field(UA.galaxyTab, 'deviceClass'), 'Tablet');
  assert.equal(field(UA.ipad, 'deviceClass'), 'Tablet');
  assert.equal(field(UA.nexusS, 'deviceClass'), 'Phone');
  assert.equal(field(UA.playstation4, 'deviceClass'), 'Game Console');
  assert.equal(field(UA.googlebot, 'deviceClass'), 'Robot');
});

test('V30: a null or empty user agent gives {"deviceClass":"Unknown"}', () => {
  assert.deepEqual(analyzeUserAgent(null), { deviceClass: 'Unknown' });
  assert.deepEqual(analyzeUserAgent(''), { deviceClass: 'Unknown' });
});

test('the full Galaxy S9 entity matches YAUAA’s', () => {
  assert.deepEqual(analyzeUserAgent(UA.galaxyS9), {
    deviceBrand: 'Samsung',
    deviceName: 'Samsung SM-G960F',
    layoutEngineNameVersion: 'Blink 62.0',
    operatingSystemNameVersion: 'Android 8.0.0',
    operatingSystemVersionBuild: 'R16NW',
    layoutEngineNameVersionMajor: 'Blink 62',
    operatingSystemName: 'Android',
    agentVersionMajor: '62',
    layoutEngineVersionMajor: '62',
    deviceClass: 'Phone',
    agentNameVersionMajor: 'Chrome 62',
    operatingSystemClass: 'Mobile',
    layoutEngineName: 'Blink',
    agentName: 'Chrome',
    agentVersion: '62.0.3202.84',
    layoutEngineClass: 'Browser',
    agentNameVersion: 'Chrome 62.0.3202.84',
    operatingSystemVersion: '8.0.0',
    agentClass: 'Browser',
    layoutEngineVersion: '62.0',
    operatingSystemNameVersionMajor: 'Android 8',
    operatingSystemVersionMajor: '8',
  });
});

test('deviceName, operatingSystem*, layoutEngineClass, agentClass and agentName as in YauaaEnrichmentSpec', () => {
  const expect = (name: string, cases: Array<[string, string]>) => {
    for (const [ua, v] of cases) assert.equal(field(ua, name), v, `${name} of ${ua}`);
  };
  expect('deviceName', [
    [UA.galaxyS9, 'Samsung SM-G960F'],
    [UA.galaxyS8, 'Samsung SM-G892A'],
    [UA.iphone7, 'Apple iPhone'],
    [UA.iphoneX, 'Apple iPhone'],
    [UA.nexusS, 'Google Nexus S'],
    [UA.playstation4, 'Sony PlayStation 4'],
    [UA.googlebot, 'Google'],
  ]);
  expect('operatingSystemClass', [
    [UA.chromium, 'Desktop'],
    [UA.ie, 'Desktop'],
    [UA.ipad, 'Mobile'],
    [UA.nexusS, 'Mobile'],
    [UA.playstation4, 'Game Console'],
    [UA.googlebot, 'Cloud'],
  ]);
  expect('operatingSystemName', [
    [UA.chromium, 'Ubuntu'],
    [UA.ie, 'Windows NT'],
    [UA.nexusOne, 'Android'],
    [UA.iphoneX, 'iOS'],
    [UA.ipad, 'iOS'],
    [UA.safari, 'Mac OS X'],
    [UA.googlebot, 'Google'],
  ]);
  const browsers = [UA.chrome, UA.ie, UA.nexusOne, UA.iphoneX, UA.ipad, UA.safari, UA.playstation4];
  expect('layoutEngineClass', [
    ...browsers.map((u) => [u, 'Browser'] as [string, string]),
    [UA.googlebot, 'Robot'],
  ]);
  expect('agentClass', [
    ...[UA.chromium, UA.ie, UA.nexusOne, UA.iphoneX, UA.ipad, UA.safari, UA.playstation4].map(
      (u) => [u, 'Browser'] as [string, string],
    ),
    [UA.googlebot, 'Robot'],
  ]);
  expect('agentName', [
    [UA.chrome, 'Chrome'],
    [UA.chromium, 'Chromium'],
    [UA.firefox, 'Firefox'],
    [UA.ie, 'Internet Explorer'],
    [UA.nexusOne, 'Stock Android Browser'],
    [UA.iphoneX, 'Safari'],
    [UA.ipad, 'Safari'],
    [UA.opera, 'Opera'],
    [UA.safari, 'Safari'],
    [UA.googlebot, 'Googlebot'],
  ]);
});

test('Furrow’s own deviceClass rules: TV, watch, eReader, handheld console, mobile robot, scripted client', () => {
  const cases: Array<[string, string]> = [
    [
      'Mozilla/5.0 (SMART-TV; Linux; Tizen 5.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/2.2 TV Safari/537.36',
      'TV',
    ],
    [
      'Mozilla/5.0 (Linux; Android 9; AFTMM Build/PS7233) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.110 Mobile Safari/537.36',
      'TV',
    ],
    ['Mozilla/5.0 (Linux; Android 11; SM-R870 Build/RWD5.210203.001; wv) AppleWebKit/537.36 Watch', 'Watch'],
    [
      'Mozilla/5.0 (X11; U; Linux armv7l like Android; en-us) AppleWebKit/531.2+ (KHTML, like Gecko) Version/5.0 Safari/533.2+ Kindle/3.0+',
      'eReader',
    ],
    [
      'Mozilla/5.0 (Nintendo Switch; WifiWebAuthApplet) AppleWebKit/606.4 (KHTML, like Gecko) NF/6.0.1.15.4 NintendoBrowser/5.1.0.20393',
      'Handheld Game Console',
    ],
    [
      'Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/41.0.2272.96 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
      'Robot Mobile',
    ],
    ['curl/7.64.1', 'Robot'],
    [
      'Mozilla/5.0 (Linux; Android 4.4.2; Nexus 7 Build/KOT49H) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/34.0.1847.114 Safari/537.36',
      'Tablet',
    ],
    [
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
      'Desktop',
    ],
    ['zzz', 'Unknown'],
  ];
  for (const [ua, cls] of cases) assert.equal(field(ua, 'deviceClass'), cls, ua);
});

test('the analyser caches by raw user agent and honours cacheSize 0', () => {
  const a = new YauaaAnalyzer(2);
  assert.equal(a.analyze(UA.ipad), a.analyze(UA.ipad));
  const none = new YauaaAnalyzer(0);
  assert.notEqual(none.analyze(UA.ipad), none.analyze(UA.ipad));
  assert.deepEqual(none.analyze(UA.ipad), a.analyze(UA.ipad));
});

test('configuration: cacheSize must be a non-negative integer; unknown keys are rejected', async () => {
  const env = { resolver: null as never, baseDir: '.' };
  const make = async (p: Record<string, unknown>) => yauaaEnrichment.create(config(p), env);
  await assert.rejects(make({ cacheSize: 'big' }), /parameters\.cacheSize/);
  await assert.rejects(make({ cacheSize: -1 }), /parameters\.cacheSize/);
  await assert.rejects(make({ size: 1 }), /parameters\.size/);
  const e = await make({ cacheSize: 42 });
  assert.equal(e.order, ORDER.yauaa);
});

test('pipeline: the entity is always emitted when enabled and validates against yauaa_context 1-0-5', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const dir = await mkdtemp(join(tmpdir(), 'furrow-yauaa-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'yauaa.json'), JSON.stringify(enrichmentFile(config({ cacheSize: 100 }))));
  const built = await buildEnrichments(await readEnrichmentDir(dir), {
    resolver: sharedResolver(shared),
    baseDir: dir,
  });
  assert.equal(built.length, 1);
  const { events, derived, bad } = await runEnrichments(shared, built, [
    ...Object.values(UA).map((ua) => pageView(ua)),
    pageView(undefined),
  ]);
  assert.deepEqual(bad, []);
  assert.equal(events.length, Object.keys(UA).length + 1);
  for (const d of derived) {
    assert.equal(d.length, 1);
    assert.equal(d[0].schema, YAUAA_CONTEXT_SCHEMA);
  }
  assert.equal(derived[0][0].data.deviceClass, 'Tablet');
  assert.deepEqual(derived[derived.length - 1][0].data, { deviceClass: 'Unknown' });
  assert.equal(events[0].useragent, UA.ipad);
});
