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
import {
  bundledUapParser,
  UA_PARSER_CONTEXT_SCHEMA,
  UapParser,
  uaParserContextData,
  uaParserEnrichment,
} from './ua-parser.js';

const config = (parameters: Record<string, unknown> = {}) =>
  enrichmentConfig('com.snowplowanalytics.snowplow', 'ua_parser_config', '1-0-1', parameters);

const IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 5_1_1 like Mac OS X) AppleWebKit/534.46 (KHTML, like Gecko) Version/5.1 Mobile/9B206 Safari/7534.48.3';
const MAC_SAFARI =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10) AppleWebKit/600.1.25 (KHTML, like Gecko) Version/8.0 Safari/600.1.25';

const V28 = {
  useragentFamily: 'Mobile Safari',
  useragentMajor: '5',
  useragentMinor: '1',
  useragentPatch: null,
  useragentVersion: 'Mobile Safari 5.1',
  osFamily: 'iOS',
  osMajor: '5',
  osMinor: '1',
  osPatch: '1',
  osPatchMinor: null,
  osVersion: 'iOS 5.1.1',
  deviceFamily: 'iPhone',
};
const V29 = {
  useragentFamily: 'Safari',
  useragentMajor: '8',
  useragentMinor: '0',
  useragentPatch: null,
  useragentVersion: 'Safari 8.0',
  osFamily: 'Mac OS X',
  osMajor: '10',
  osMinor: '10',
  osPatch: null,
  osPatchMinor: null,
  osVersion: 'Mac OS X 10.10',
  deviceFamily: 'Mac',
};

test('V28, V29: the bundled uap-core rules give Snowplow’s context, key order included', () => {
  const p = bundledUapParser();
  assert.deepEqual(uaParserContextData(p.parse(IPHONE)), V28);
  assert.deepEqual(Object.keys(uaParserContextData(p.parse(IPHONE))), Object.keys(V28));
  assert.deepEqual(uaParserContextData(p.parse(MAC_SAFARI)), V29);
});

test('unknown user agents are family Other with null versions', () => {
  const d = uaParserContextData(bundledUapParser().parse('zzz'));
  assert.deepEqual(d, {
    useragentFamily: 'Other',
    useragentMajor: null,
    useragentMinor: null,
    useragentPatch: null,
    useragentVersion: 'Other',
    osFamily: 'Other',
    osMajor: null,
    osMinor: null,
    osPatch: null,
    osPatchMinor: null,
    osVersion: 'Other',
    deviceFamily: 'Other',
  });
});

test('replacements: $n placeholders, case-insensitive device rules, first match wins, results cached', () => {
  const p = new UapParser(`
user_agent_parsers:
  - regex: '(Namoroka|Shiretoko|Minefield)/(\\d+)\\.(\\d+)\\.(\\d+(?:pre)?)'
    family_replacement: 'Firefox ($1)'
  - regex: '(Firefox)/(\\d+)\\.(\\d+)'
    v2_replacement: '9'
os_parsers:
  - regex: 'Win(95|98|NT)'
    os_replacement: 'Windows $1'
device_parsers:
  - regex: '; *(PEDI)_(PLUS)_(W) Build'
    device_replacement: 'Odys $1 $2 $3'
    brand_replacement: 'Odys'
    model_replacement: '$1 $2 $3'
  - regex: 'nokia(\\w+)'
    regex_flag: 'i'
`);
  const a = p.parse('Mozilla/5.0 (Windows; Win95; rv:2.0b3pre) Gecko/20100727 Minefield/4.0.1pre');
  assert.deepEqual(a.userAgent, {
    family: 'Firefox (Minefield)',
    major: '4',
    minor: '0',
    patch: '1pre',
    patchMinor: null,
  });
  assert.equal(a.os.family, 'Windows 95');
  assert.equal(p.parse('Firefox/3.6').userAgent.minor, '9');
  const d = p.parse('Mozilla/5.0 (Linux; U; Android 4.2.2; de-de; PEDI_PLUS_W Build/JDQ39)').device;
  assert.deepEqual(d, { family: 'Odys PEDI PLUS W', brand: 'Odys', model: 'PEDI PLUS W' });
  assert.deepEqual(p.parse('NOKIA6300/2.0').device, { family: '6300', brand: null, model: '6300' });
  assert.equal(p.parse('NOKIA6300/2.0'), p.parse('NOKIA6300/2.0'));
});

test('configuration: unknown keys and half a custom asset are rejected, naming the key', async () => {
  const env = { resolver: null as never, baseDir: '.' };
  const make = async (p: Record<string, unknown>) => uaParserEnrichment.create(config(p), env);
  await assert.rejects(make({ database: 'regexes.yaml' }), /parameters\.uri/);
  await assert.rejects(make({ uri: 'x' }), /parameters\.database/);
  await assert.rejects(make({ rules: 1 }), /parameters\.rules/);
  await assert.rejects(
    make({ uri: '/nonexistent', database: 'regexes.yaml' }),
    /regexes\.yaml: file not found/,
  );
});

test('pipeline: ua_parser_context is derived and validates; events without a user agent are untouched', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const e = await uaParserEnrichment.create(config(), { resolver: sharedResolver(shared), baseDir: '.' });
  assert.equal(e.order, ORDER.uaParser);
  assert.deepEqual(e.info, { schemaKey: config().schemaKey, identifier: 'ua-parser' });
  const { events, derived, bad } = await runEnrichments(
    shared,
    [e],
    [pageView(IPHONE), pageView(undefined), pageView('Mozilla/5.0', '10.0.0.1', { ua: MAC_SAFARI })],
  );
  assert.deepEqual(bad, []);
  assert.deepEqual(derived[0], [{ schema: UA_PARSER_CONTEXT_SCHEMA, data: V28 }]);
  assert.equal(events[0].useragent, IPHONE);
  assert.equal(events[1].derived_contexts, '');
  // the tracker's `ua` parameter overrides the header, and that is what is parsed
  assert.deepEqual(derived[2], [{ schema: UA_PARSER_CONTEXT_SCHEMA, data: V29 }]);
});

test('a custom regexes.yaml given as {uri, database} loads through an unchanged Snowplow config file', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const dir = await mkdtemp(join(tmpdir(), 'furrow-ua-parser-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(
    join(dir, 'custom-regexes.yaml'),
    `user_agent_parsers:
  - regex: '(AcmeBrowser)/(\\d+)\\.(\\d+)'
os_parsers:
  - regex: '(AcmeOS) (\\d+)'
device_parsers:
  - regex: '(AcmePhone)'
    brand_replacement: 'Acme'
`,
  );
  const cfg = config({ uri: `file://${dir}`, database: 'custom-regexes.yaml' });
  await writeFile(join(dir, 'ua_parser_config.json'), JSON.stringify(enrichmentFile(cfg)));
  const built = await buildEnrichments(await readEnrichmentDir(dir), {
    resolver: sharedResolver(shared),
    baseDir: dir,
  });
  t.after(() => built[0].close?.());
  const { derived, bad } = await runEnrichments(shared, built, [
    pageView('AcmeBrowser/3.14 (AcmeOS 7; AcmePhone)'),
  ]);
  assert.deepEqual(bad, []);
  assert.deepEqual(derived[0][0].data, {
    useragentFamily: 'AcmeBrowser',
    useragentMajor: '3',
    useragentMinor: '14',
    useragentPatch: null,
    useragentVersion: 'AcmeBrowser 3.14',
    osFamily: 'AcmeOS',
    osMajor: '7',
    osMinor: null,
    osPatch: null,
    osPatchMinor: null,
    osVersion: 'AcmeOS 7',
    deviceFamily: 'AcmePhone',
  });
  // A corrupt rules file fails at start and names the file.
  await writeFile(join(dir, 'custom-regexes.yaml'), 'user_agent_parsers:\n  - regex: "(unclosed"\n');
  await assert.rejects(
    buildEnrichments(await readEnrichmentDir(dir), { resolver: sharedResolver(shared), baseDir: dir }),
    /custom-regexes\.yaml.*user_agent_parsers\[0\]\.regex/,
  );
});
