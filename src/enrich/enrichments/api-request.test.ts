import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sharedResolver } from '../../../test/helpers/enricher.js';
import {
  enrichmentConfig,
  enrichmentFile,
  pageView,
  runEnrichments,
} from '../../../test/helpers/enrichment-run.js';
import { requireShared } from '../../../test/helpers/shared.js';
import { F } from '../../protocol/enriched-fields.js';
import type { RawEvent } from '../../protocol/raw-event.js';
import { EnrichedEvent } from '../event.js';
import { apiRequestEnrichment, javaUrlEncode, stringifyInput } from './api-request.js';
import { buildEnrichments, readEnrichmentDir } from './load.js';
import { EnrichmentConfigError, ORDER } from './types.js';

const SCHEMA_KEY =
  'iglu:com.snowplowanalytics.snowplow.enrichments/api_request_enrichment_config/jsonschema/1-0-2';
const COOKIE = 'iglu:org.ietf/http_cookie/jsonschema/1-0-0';
const SESSION = 'iglu:com.snowplowanalytics.snowplow/client_session/jsonschema/1-0-1';
const env = { resolver: null as never, baseDir: '.' };
const info = { schemaKey: SCHEMA_KEY, identifier: 'api-request' };

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

let server: Server;
let base = '';
const seen: Seen[] = [];

/** A stand-in API: `/users/<client>/<user>` answers a record, `/status/<n>`, `/slow`, `/text` misbehave. */
before(async () => {
  server = createServer(async (req: IncomingMessage, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    seen.push({
      method: req.method as string,
      url: req.url as string,
      authorization: req.headers.authorization,
      contentType: req.headers['content-type'],
      body,
    });
    const url = new URL(req.url as string, 'http://x');
    const json = (status: number, v: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(v));
    };
    const m = /^\/users\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (m !== null) {
      json(200, {
        record: { name: decodeURIComponent(m[2].replace(/\+/g, ' ')), value: decodeURIComponent(m[1]) },
        tags: ['a', 'b'],
        format: url.searchParams.get('format'),
      });
    } else if (url.pathname.startsWith('/status/')) json(Number(url.pathname.slice(8)), { error: 'nope' });
    else if (url.pathname === '/slow') setTimeout(() => json(200, { record: {} }), 1000);
    else if (url.pathname === '/text') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('not json');
    } else if (url.pathname === '/echo') json(200, { record: { name: 'echo', value: body } });
    else json(404, {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

/** Snowplow's documented example configuration, pointed at the stand-in API. */
function params(
  overrides: Record<string, unknown> = {},
  http: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    inputs: [
      {
        key: 'user',
        json: {
          field: 'contexts',
          schemaCriterion: 'iglu:com.snowplowanalytics.snowplow/client_session/jsonschema/1-*-*',
          jsonPath: '$.userId',
        },
      },
      { key: 'client', pojo: { field: 'app_id' } },
    ],
    api: {
      http: {
        method: 'GET',
        uri: `${base}/users/{{client}}/{{user}}?format=json`,
        timeout: 2000,
        authentication: { httpBasic: { username: 'xxx', password: 'yyy' } },
        ...http,
      },
    },
    outputs: [{ schema: COOKIE, json: { jsonPath: '$.record' } }],
    cache: { size: 3000, ttl: 60 },
    ignoreOnError: false,
    ...overrides,
  };
}

const config = (p: Record<string, unknown>) =>
  enrichmentConfig('com.snowplowanalytics.snowplow.enrichments', 'api_request_enrichment_config', '1-0-2', p);

function session(userId: string) {
  return {
    schema: SESSION,
    data: {
      userId,
      sessionId: '00000000-0000-4000-8000-000000000000',
      sessionIndex: 1,
      previousSessionId: null,
      storageMechanism: 'COOKIE_1',
    },
  };
}

function event(appId: string | null, userId: string | null): EnrichedEvent {
  const raw: RawEvent = {
    vendor: 'com.snowplowanalytics.snowplow',
    version: 'tp2',
    parameters: new Map(),
    contentType: null,
    loaderName: 'ssc',
    encoding: 'UTF-8',
    hostname: null,
    timestamp: 0,
    ipAddress: null,
    useragent: null,
    refererUri: null,
    headers: [],
    userId: null,
  };
  const ev = new EnrichedEvent(raw);
  ev.set(F.app_id, appId);
  if (userId !== null) ev.contexts = [session(userId)];
  return ev;
}

test('values are URL-encoded as Java does and JSONPath results stringified as Snowplow does', () => {
  assert.equal(javaUrlEncode("a b/c?d=é&*~!'()"), 'a+b%2Fc%3Fd%3D%C3%A9%26*%7E%21%27%28%29');
  assert.equal(stringifyInput('x'), 'x');
  assert.equal(stringifyInput(12), '12');
  assert.equal(stringifyInput(true), 'true');
  assert.equal(stringifyInput(null), 'null');
  assert.equal(stringifyInput([1, 'a', [true]]), '1,a,true');
  assert.equal(stringifyInput({ a: 1 }), '{"a":1}');
});

test('the documented GET example: template filled, basic auth sent, $.record wrapped as an entity', async () => {
  const api = await apiRequestEnrichment.create(config(params()), env);
  assert.equal(api.order, ORDER.apiRequest);
  assert.deepEqual(api.info, info);
  seen.length = 0;
  const ev = event('shop', 'a b/c');
  assert.equal(await api.enrich(ev), undefined);
  assert.deepEqual(ev.derived, [{ schema: COOKIE, data: { name: 'a b/c', value: 'shop' } }]);
  assert.equal(seen.length, 1);
  assert.equal(seen[0].method, 'GET');
  assert.equal(seen[0].url, '/users/shop/a+b%2Fc?format=json');
  assert.equal(seen[0].authorization, `Basic ${Buffer.from('xxx:yyy').toString('base64')}`);
  assert.equal(seen[0].body, '');

  // Same inputs again: answered from the cache.
  const again = event('shop', 'a b/c');
  await api.enrich(again);
  assert.equal(seen.length, 1);
  assert.deepEqual(again.derived, ev.derived);

  // A missing input means no request and no entity.
  const noUser = event('shop', null);
  assert.equal(await api.enrich(noUser), undefined);
  assert.deepEqual(noUser.derived, []);
  assert.equal(seen.length, 1);
});

test('a placeholder no input fills skips the request', async () => {
  const api = await apiRequestEnrichment.create(
    config(params({}, { uri: `${base}/users/{{client}}/{{ other }}` })),
    env,
  );
  seen.length = 0;
  const ev = event('shop', 'u1');
  assert.equal(await api.enrich(ev), undefined);
  assert.deepEqual(ev.derived, []);
  assert.equal(seen.length, 0);
});

test('POST and PUT send the inputs as a JSON object', async () => {
  for (const method of ['POST', 'PUT']) {
    const api = await apiRequestEnrichment.create(
      config(params({ cache: { size: 0, ttl: 0 } }, { method, uri: `${base}/echo`, authentication: {} })),
      env,
    );
    seen.length = 0;
    const ev = event('shop', 'u1');
    assert.equal(await api.enrich(ev), undefined);
    assert.equal(seen[0].method, method);
    assert.equal(seen[0].contentType, 'application/json');
    assert.equal(seen[0].authorization, undefined);
    assert.deepEqual(JSON.parse(seen[0].body), { user: 'u1', client: 'shop' });
    assert.deepEqual(ev.derived, [{ schema: COOKIE, data: { name: 'echo', value: seen[0].body } }]);
  }
});

test('several outputs; a JSONPath that finds nothing fails the event unless ignoreOnError', async () => {
  const outputs = [
    { schema: COOKIE, json: { jsonPath: '$.record' } },
    { schema: 'iglu:com.acme/tags/jsonschema/1-0-0', json: { jsonPath: '$.tags[*]' } },
    { schema: 'iglu:com.acme/format/jsonschema/1-0-0', json: { jsonPath: '$.format' } },
  ];
  const api = await apiRequestEnrichment.create(config(params({ outputs })), env);
  const ev = event('shop', 'u2');
  assert.equal(await api.enrich(ev), undefined);
  assert.deepEqual(ev.derived, [
    { schema: COOKIE, data: { name: 'u2', value: 'shop' } },
    { schema: 'iglu:com.acme/tags/jsonschema/1-0-0', data: ['a', 'b'] },
    { schema: 'iglu:com.acme/format/jsonschema/1-0-0', data: 'json' },
  ]);

  const missing = [
    ...outputs,
    { schema: 'iglu:com.acme/nope/jsonschema/1-0-0', json: { jsonPath: '$.nope' } },
  ];
  const strict = await apiRequestEnrichment.create(config(params({ outputs: missing })), env);
  const failed = event('shop', 'u3');
  const out = await strict.enrich(failed);
  assert.ok(Array.isArray(out));
  assert.equal(out.length, 1);
  assert.deepEqual(out[0].enrichment, info);
  assert.match(
    out[0].message.error as string,
    /^Error: no values were found by JSON Path \[\$\.nope\] in \[\{"record":\{"name":"u3","value":"shop"\},"tags":\["a","b"\],"format":"json"\}\]$/,
  );
  assert.deepEqual(failed.derived, []);
  const lenient = await apiRequestEnrichment.create(
    config(params({ outputs: missing, ignoreOnError: true })),
    env,
  );
  const ignored = event('shop', 'u3');
  assert.equal(await lenient.enrich(ignored), undefined);
  assert.deepEqual(ignored.derived, []);
});

test('HTTP errors, timeouts and non-JSON answers are failures; failures are cached for ttl/10', async () => {
  const run = async (uri: string, timeout = 2000) => {
    const api = await apiRequestEnrichment.create(config(params({}, { uri, timeout })), env);
    return { api, out: await api.enrich(event('shop', 'u1')) };
  };
  const errorOf = (out: unknown) => {
    assert.ok(Array.isArray(out));
    return out[0].message.error as string;
  };
  const { api: status, out } = await run(`${base}/status/500?u={{user}}&c={{client}}`);
  assert.equal(errorOf(out), 'Request failed with status 500 and body {"error":"nope"}');
  seen.length = 0;
  assert.equal(errorOf(await status.enrich(event('shop', 'u1'))), errorOf(out));
  assert.equal(seen.length, 0, 'the failure was answered from the cache');

  const started = Date.now();
  assert.match(errorOf((await run(`${base}/slow?u={{user}}&c={{client}}`, 100)).out), /timed? ?out/i);
  assert.ok(Date.now() - started < 900);
  assert.match(
    errorOf((await run(`${base}/text?u={{user}}&c={{client}}`)).out),
    /^Could not parse the API response as JSON/,
  );
  assert.ok(errorOf((await run('http://127.0.0.1:1/x?u={{user}}&c={{client}}')).out).length > 0);
});

test('configuration errors name the key', async () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [params({ inputs: [{ key: 'a b', pojo: { field: 'app_id' } }] }), /parameters\.inputs\[0\]\.key/],
    [params({ inputs: [{ key: 'a', pojo: { field: 'nope' } }] }), /parameters\.inputs\[0\]\.pojo\.field/],
    [
      params({ inputs: [{ key: 'a' }] }),
      /parameters\.inputs\[0\]: either json or pojo input must be specified/,
    ],
    [params({}, { method: 'DELETE' }), /parameters\.api\.http\.method/],
    [params({}, { uri: 'ftp://x' }), /parameters\.api\.http\.uri/],
    [params({}, { timeout: 0 }), /parameters\.api\.http\.timeout/],
    [params({ outputs: [] }), /parameters\.outputs: expected a non-empty array/],
    [
      params({ outputs: [{ schema: 'iglu:com.acme/x/jsonschema/1-0-0', json: { jsonPath: 'record' } }] }),
      /parameters\.outputs\[0\]\.json\.jsonPath/,
    ],
    [params({ outputs: [{ schema: 'nope', json: { jsonPath: '$' } }] }), /parameters\.outputs\[0\]\.schema/],
    [params({ cache: { size: -1, ttl: 1 } }), /parameters\.cache\.size/],
  ];
  for (const [p, re] of cases) {
    await assert.rejects(
      (async () => apiRequestEnrichment.create(config(p), env))(),
      (e: Error) => e instanceof EnrichmentConfigError && re.test(e.message),
      String(re),
    );
  }
});

test('pipeline: the entity lands in derived_contexts and validates; untouched events stay so', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const dir = await mkdtemp(join(tmpdir(), 'furrow-api-'));
  try {
    const p = params({
      inputs: [
        { key: 'client', pojo: { field: 'app_id' } },
        { key: 'user', pojo: { field: 'user_id' } },
      ],
    });
    await writeFile(
      join(dir, 'api_request_enrichment_config.json'),
      JSON.stringify(enrichmentFile(config(p))),
    );
    const built = await buildEnrichments(await readEnrichmentDir(dir), {
      resolver: sharedResolver(shared),
      baseDir: dir,
    });
    assert.equal(built.length, 1);
    const { events, derived, bad } = await runEnrichments(shared, built, [
      pageView('UA', '10.0.0.1', { aid: 'shop', uid: 'alice' }),
      pageView('UA', '10.0.0.1', { aid: 'shop' }),
    ]);
    assert.deepEqual(bad, []);
    assert.deepEqual(derived[0], [{ schema: COOKIE, data: { name: 'alice', value: 'shop' } }]);
    assert.equal(events[0].user_id, 'alice');
    assert.equal(events[1].derived_contexts, '');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
