/**
 * referer_parser: the public referer-parser database and its conformance cases, read in place from
 * ../shared/referer-parser (GPL data, never copied here), spec vectors V26/V27, YAML databases, custom
 * referrers and the TSV effect through the whole pipeline.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { sharedResolver } from '../../../test/helpers/enricher.js';
import { requireShared } from '../../../test/helpers/shared.js';
import { COLLECTOR_PAYLOAD_SCHEMA, type CollectorPayload } from '../../protocol/collector-payload.js';
import { F } from '../../protocol/enriched-fields.js';
import { parseUri } from '../../protocol/uri.js';
import { Enricher, type EnrichOutput } from '../pipeline.js';
import { buildEnrichments } from './load.js';
import { parseReferer, parseRefererDatabase, refererParserEnrichment } from './referer-parser.js';
import type { Enrichment, EnrichmentConfig } from './types.js';

const SCHEMA = 'iglu:com.snowplowanalytics.snowplow/referer_parser/jsonschema/2-0-1';

function config(parameters: Record<string, unknown>): EnrichmentConfig {
  return {
    schemaKey: SCHEMA,
    vendor: 'com.snowplowanalytics.snowplow',
    name: 'referer_parser',
    enabled: true,
    parameters,
  };
}

function dbDir(shared: string): string {
  return join(shared, 'referer-parser');
}

function payload(params: Record<string, string>): CollectorPayload {
  return {
    schema: COLLECTOR_PAYLOAD_SCHEMA,
    ipAddress: '10.0.0.1',
    timestamp: Date.UTC(2024, 0, 1),
    encoding: 'UTF-8',
    collector: 'ssc-3.4.0-kafka',
    path: '/i',
    querystring: new URLSearchParams({ e: 'pv', p: 'web', tv: 'js-4.10.1', ...params }).toString(),
    headers: [],
  };
}

async function enrichOne(shared: string, enrichment: Enrichment, params: Record<string, string>) {
  const enricher = new Enricher({ resolver: sharedResolver(shared), enrichments: [enrichment] });
  const out: EnrichOutput = { good: [], bad: [] };
  await enricher.processPayload(payload(params), out, Date.UTC(2024, 0, 1));
  assert.deepEqual(out.bad, [], 'no bad row');
  assert.equal(out.good.length, 1);
  return out.good[0].split('\t');
}

function classify(
  db: ReturnType<typeof parseRefererDatabase>,
  uri: string,
  pageHost: string,
  internal: string[] = [],
) {
  const r = parseUri(uri);
  assert.ok(r.ok, uri);
  const u = r.value;
  return parseReferer(db, new Set(internal), u.scheme, u.host, u.path, u.query, pageHost);
}

test('conformance: every case of referer-tests.json against referers.json and referers.yml', (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const cases = JSON.parse(readFileSync(join(dbDir(shared), 'referer-tests.json'), 'utf8')) as Array<{
    spec: string;
    uri: string;
    medium: string;
    source: string | null;
    term: string | null;
  }>;
  assert.ok(cases.length > 100);
  for (const file of ['referers.json', 'referers.yml']) {
    const db = parseRefererDatabase(readFileSync(join(dbDir(shared), file)), file);
    for (const c of cases) {
      assert.deepEqual(
        classify(db, c.uri, 'www.snowplowanalytics.com'),
        { medium: c.medium, source: c.source, term: c.term },
        `${file}: ${c.spec}`,
      );
    }
  }
});

test('V26/V27: search term, social, chatbot, internal by page host and by internalDomains, unknown', (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const db = parseRefererDatabase(readFileSync(join(dbDir(shared), 'referers.json')), 'referers.json');
  const page = 'www.snowplowanalytics.com';
  const internal = ['www.internaldomain.com'];
  const c = (uri: string) => classify(db, uri, page, internal);
  assert.deepEqual(c('http://www.google.com/search?q=gateway+oracle+cards+denise+linn&hl=en&client=safari'), {
    medium: 'search',
    source: 'Google',
    term: 'gateway oracle cards denise linn',
  });
  assert.deepEqual(c('http://www.facebook.com/l.php?u=http%3A%2F%2Fwww.psychicbazaar.com&h=yAQHZtXxS&s=1'), {
    medium: 'social',
    source: 'Facebook',
    term: null,
  });
  assert.deepEqual(c('https://www.chatgpt.com'), { medium: 'chatbot', source: 'ChatGPT', term: null });
  assert.deepEqual(c('https://www.snowplowanalytics.com/account/profile'), {
    medium: 'internal',
    source: null,
    term: null,
  });
  assert.deepEqual(c('https://www.internaldomain.com/path'), {
    medium: 'internal',
    source: null,
    term: null,
  });
  assert.deepEqual(c('http://www.spyfu.com/domain.aspx?d=3897225171967988459'), {
    medium: 'unknown',
    source: null,
    term: null,
  });
  // Unsupported scheme or no host: no medium at all.
  assert.equal(c('ftp://www.google.com/search?q=x'), null);
  assert.equal(c('/relative/path'), null);
});

test('custom referrers are merged over the file; a YAML database loads through the config', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const e = await refererParserEnrichment.create(
    config({
      uri: pathToFileURL(dbDir(shared)).href,
      database: 'referers.yml',
      internalDomains: [],
      referrers: { social: { 'Acme Social': { domains: ['acme-social.example', 'google.com/acme'] } } },
    }),
    { resolver: sharedResolver(shared), baseDir: process.cwd() },
  );
  try {
    let v = await enrichOne(shared, e, {
      url: 'https://shop.example/',
      refr: 'https://m.acme-social.example/feed',
    });
    assert.equal(v[F.refr_medium], 'social');
    assert.equal(v[F.refr_source], 'Acme Social');
    // A domain+path entry is tried before the bare domain.
    v = await enrichOne(shared, e, {
      url: 'https://shop.example/',
      refr: 'https://www.google.com/acme/x?q=y',
    });
    assert.equal(v[F.refr_source], 'Acme Social');
    v = await enrichOne(shared, e, {
      url: 'https://shop.example/',
      refr: 'https://www.google.com/search?q=y',
    });
    assert.equal(v[F.refr_source], 'Google');
  } finally {
    await e.close?.();
  }
});

test('pipeline: refr_* fields in the TSV, an event without referer untouched, Snowplow config file loads unchanged', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const dir = mkdtempSync(join(tmpdir(), 'furrow-referer-'));
  writeFileSync(
    join(dir, 'referer_parser.json'),
    JSON.stringify({
      schema: SCHEMA,
      data: {
        vendor: 'com.snowplowanalytics.snowplow',
        name: 'referer_parser',
        enabled: true,
        parameters: {
          uri: pathToFileURL(dbDir(shared)).href,
          database: 'referers.json',
          internalDomains: [' blog.shop.example '],
        },
      },
    }),
  );
  const { readEnrichmentDir } = await import('./load.js');
  const [e] = await buildEnrichments(await readEnrichmentDir(dir), {
    resolver: sharedResolver(shared),
    baseDir: dir,
  });
  try {
    assert.equal(e.info?.identifier, 'referer-parser');
    let v = await enrichOne(shared, e, {
      url: 'https://shop.example/p',
      refr: 'http://www.google.com/search?q=tarot%09cards&hl=en',
    });
    assert.equal(v[F.refr_medium], 'search');
    assert.equal(v[F.refr_source], 'Google');
    assert.equal(v[F.refr_term], 'tarot    cards', 'tabs in the term are made TSV-safe');
    v = await enrichOne(shared, e, { url: 'https://shop.example/p', refr: 'https://blog.shop.example/post' });
    assert.equal(v[F.refr_medium], 'internal');
    assert.equal(v[F.refr_source], '');
    v = await enrichOne(shared, e, { url: 'https://shop.example/p' });
    assert.equal(v[F.refr_medium], '');
    assert.equal(v[F.refr_urlhost], '');
  } finally {
    await e.close?.();
  }
});

test('configuration errors name the key; a corrupt database fails start naming the file', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const env = { resolver: sharedResolver(shared), baseDir: process.cwd() };
  await assert.rejects(
    async () => refererParserEnrichment.create(config({ uri: '.', database: 'x.json' }), env),
    /parameters\.internalDomains/,
  );
  await assert.rejects(
    async () => refererParserEnrichment.create(config({ database: 'x.json', internalDomains: [] }), env),
    /parameters\.uri/,
  );
  await assert.rejects(
    async () =>
      refererParserEnrichment.create(
        config({ uri: '.', database: 'x.json', internalDomains: [], referrers: { nonsense: {} } }),
        env,
      ),
    /parameters\.referrers: unrecognized medium 'nonsense'/,
  );
  const dir = mkdtempSync(join(tmpdir(), 'furrow-referer-bad-'));
  writeFileSync(join(dir, 'referers.json'), '{"search": {"X": {"domains": "not-a-list"}}}');
  await assert.rejects(
    async () =>
      refererParserEnrichment.create(
        config({ uri: dir, database: 'referers.json', internalDomains: [] }),
        env,
      ),
    /referers\.json.*domains: expected an array of strings/,
  );
});
