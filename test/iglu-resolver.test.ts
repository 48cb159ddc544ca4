/**
 * The resolver against real Iglu Central schemas (the shared mirror), served by a loopback registry.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { createResolver } from '../src/iglu/resolver.js';
import type { CheckResult } from '../src/iglu/types.js';
import { IgluSystemError } from '../src/iglu/types.js';
import { tempSchemas, tinySchema } from './helpers/iglu-schemas.js';
import { type IgluServer, startIgluServer } from './helpers/iglu-server.js';
import { requireShared } from './helpers/shared.js';

const SP = 'iglu:com.snowplowanalytics.snowplow';
const FAST = { http: { retryDelayMs: 1 } };

function httpRepo(
  name: string,
  uri: string,
  extra: { priority?: number; vendorPrefixes?: string[]; apikey?: string } = {},
) {
  return {
    name,
    priority: extra.priority ?? 0,
    vendorPrefixes: extra.vendorPrefixes ?? [],
    connection: { http: { uri, apikey: extra.apikey ?? null } },
  };
}

/** Starts a loopback registry over the mirror; undefined (test skipped) without shared data. */
async function central(t: TestContext, opts: { apikey?: string; mode?: 'static' | 'server' } = {}) {
  const shared = requireShared(t);
  if (!shared) return undefined;
  const srv = await startIgluServer({ schemasRoot: join(shared, 'iglu-central', 'schemas'), ...opts });
  t.after(() => srv.close());
  return srv;
}

async function resolverOver(srv: IgluServer, extra: Record<string, unknown> = {}, now?: () => number) {
  return createResolver(
    {
      schema: 'iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-3',
      data: { cacheSize: 100, repositories: [httpRepo('Iglu Central', srv.uri)], ...extra },
    },
    { ...FAST, now },
  );
}

const check = async (r: ReturnType<typeof createResolver>, uri: string, data: unknown) =>
  (await r.check(uri, data)) as CheckResult;
const messages = (res: CheckResult) =>
  res.ok || res.error.error !== 'ValidationError' ? [] : res.error.dataReports.map((d) => d.message);

test('validates tracker wrappers and common entities from Iglu Central', async (t) => {
  const srv = await central(t);
  if (!srv) return;
  const r = await resolverOver(srv);
  const uuid = 'c6ef3124-b53a-4b13-a233-0088f79dcbcb';
  const ok = async (uri: string, data: unknown) =>
    assert.deepEqual(await check(r, uri, data), { ok: true }, uri);

  await ok(`${SP}/payload_data/jsonschema/1-0-4`, [
    { e: 'pv', tv: 'js-4.1.0', p: 'web', url: 'https://a.com' },
  ]);
  assert.deepEqual(messages(await check(r, `${SP}/payload_data/jsonschema/1-0-4`, [])), [
    '$: there must be a minimum of 1 items in the array',
  ]);
  assert.deepEqual(
    messages(
      await check(r, `${SP}/payload_data/jsonschema/1-0-4`, [
        { e: 'pv', tv: 'js', dtm: 1665000000000, custom: 'x' },
      ]),
    ),
    [
      '$[0].custom: is not defined in the schema and the schema does not allow additional properties',
      '$[0].dtm: integer found, string expected',
      '$[0].p: is missing but it is required',
    ],
  );

  const entity = { schema: `${SP}/web_page/jsonschema/1-0-0`, data: { id: uuid } };
  await ok(`${SP}/contexts/jsonschema/1-0-0`, [entity]);
  assert.deepEqual(messages(await check(r, `${SP}/contexts/jsonschema/1-0-0`, [])), [
    '$: there must be a minimum of 1 items in the array',
  ]);
  await ok(`${SP}/contexts/jsonschema/1-0-1`, []);
  assert.deepEqual(
    messages(await check(r, `${SP}/contexts/jsonschema/1-0-1`, [{ schema: 'iglu:x', data: {} }])),
    [
      '$[0].schema: does not match the regex pattern ^iglu:[a-zA-Z0-9-_.]+/[a-zA-Z0-9-_]+/[a-zA-Z0-9-_]+/[0-9]+-[0-9]+-[0-9]+$',
    ],
  );

  await ok(`${SP}/unstruct_event/jsonschema/1-0-0`, {
    schema: `${SP}/link_click/jsonschema/1-0-1`,
    data: {},
  });
  assert.deepEqual(
    messages(
      await check(r, `${SP}/unstruct_event/jsonschema/1-0-0`, {
        schema: `${SP}/link_click/jsonschema/1-0-1`,
      }),
    ),
    ['$.data: is missing but it is required'],
  );

  await ok(`${SP}/web_page/jsonschema/1-0-0`, { id: uuid });
  const badPage = await check(r, `${SP}/web_page/jsonschema/1-0-0`, { id: 'not-a-uuid' });
  assert.ok(!badPage.ok && badPage.error.error === 'ValidationError');
  assert.deepEqual(badPage.error.dataReports[0].path, '$.id');
  assert.equal(badPage.error.dataReports[0].keyword, 'pattern');

  await ok(`${SP}/link_click/jsonschema/1-0-1`, { targetUrl: 'https://b.com', elementClasses: ['x'] });
  assert.deepEqual(
    messages(await check(r, `${SP}/link_click/jsonschema/1-0-1`, { targetUrl: '', elementClasses: 'x' })),
    ['$.elementClasses: string found, array expected', '$.targetUrl: must be at least 1 characters long'],
  );
});

test('V44 and V52 report texts', async (t) => {
  const srv = await central(t);
  if (!srv) return;
  const r = await resolverOver(srv);
  assert.deepEqual(await check(r, `${SP}/geolocation_context/jsonschema/1-0-0`, { longitude: 20.1234 }), {
    ok: false,
    error: {
      error: 'ValidationError',
      dataReports: [
        {
          message: '$.latitude: is missing but it is required',
          path: '$',
          keyword: 'required',
          targets: ['latitude'],
        },
      ],
    },
  });
  // Compared as JSON text: the order of reports and of keys is what the bad row will carry.
  const v52 = await check(r, `${SP}/add_to_cart/jsonschema/1-0-0`, { skuu: 'pedals', quantity: 2 });
  assert.ok(!v52.ok);
  assert.equal(
    JSON.stringify(v52.error),
    '{"error":"ValidationError","dataReports":[{"message":"$.skuu: is not defined in the schema and the schema does not allow additional properties","path":"$","keyword":"additionalProperties","targets":["skuu"]},{"message":"$.sku: is missing but it is required","path":"$","keyword":"required","targets":["sku"]}]}',
  );
});

test('vendor prefixes win over priority; then lower priority first', async (t) => {
  const a = await central(t);
  const b = await central(t);
  if (!a || !b) return;
  const r = createResolver(
    {
      cacheSize: 10,
      repositories: [
        httpRepo('A', a.uri, { priority: 0 }),
        httpRepo('B', b.uri, { priority: 5, vendorPrefixes: ['com.snowplowanalytics'] }),
      ],
    },
    FAST,
  );
  assert.deepEqual(
    await check(r, `${SP}/web_page/jsonschema/1-0-0`, { id: 'c6ef3124-b53a-4b13-a233-0088f79dcbcb' }),
    { ok: true },
  );
  assert.deepEqual(
    [a.requests, b.requests],
    [[], ['GET /schemas/com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0']],
  );
  await check(r, 'iglu:com.mailchimp/subscribe/jsonschema/1-0-0', {});
  assert.deepEqual(a.requests, ['GET /schemas/com.mailchimp/subscribe/jsonschema/1-0-0']);
  assert.equal(b.requests.length, 1);

  const byPriority = createResolver(
    {
      cacheSize: 10,
      repositories: [httpRepo('A', a.uri, { priority: 2 }), httpRepo('B', b.uri, { priority: 1 })],
    },
    FAST,
  );
  await check(byPriority, 'iglu:com.mailchimp/unsubscribe/jsonschema/1-0-0', {});
  assert.equal(a.requests.length, 1);
  assert.deepEqual(b.requests.at(-1), 'GET /schemas/com.mailchimp/unsubscribe/jsonschema/1-0-0');

  // Not found in the first → the next is asked, and both appear in the history.
  const missing = await check(byPriority, `${SP}/no_such_schema/jsonschema/1-0-0`, {});
  assert.ok(!missing.ok && missing.error.error === 'ResolutionError');
  assert.deepEqual(
    missing.error.lookupHistory.map((h) => [h.repository, h.errors, h.attempts]),
    [
      ['B', [{ error: 'NotFound' }], 1],
      ['A', [{ error: 'NotFound' }], 1],
    ],
  );
});

test('Iglu Server: apikey is sent to /api', async (t) => {
  const key = '48b267d7-cd2b-4f22-bae4-0f002008b5ad';
  const srv = await central(t, { apikey: key, mode: 'server' });
  if (!srv) return;
  const r = createResolver(
    { cacheSize: 10, repositories: [httpRepo('Private', srv.uri, { apikey: key })] },
    FAST,
  );
  assert.deepEqual(
    await check(r, `${SP}/web_page/jsonschema/1-0-0`, { id: 'c6ef3124-b53a-4b13-a233-0088f79dcbcb' }),
    { ok: true },
  );
  assert.deepEqual(srv.requests, [
    'GET /api/schemas/com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0',
  ]);
  assert.deepEqual(srv.apikeys, [key]);
});

test('cache: warm checks skip the registry until cacheTtl; failures are cached too', async (t) => {
  const srv = await central(t);
  if (!srv) return;
  let now = Date.UTC(2025, 3, 30, 10, 5);
  const r = await resolverOver(srv, { cacheTtl: 60 }, () => now);
  const uri = `${SP}/link_click/jsonschema/1-0-1`;
  await check(r, uri, { targetUrl: 'x' });
  const warm = r.check(uri, { targetUrl: 'y' });
  assert.ok(!(warm instanceof Promise));
  assert.equal(srv.requests.length, 1);
  now += 60_000;
  await check(r, uri, { targetUrl: 'z' });
  assert.equal(srv.requests.length, 2);

  const missing = `${SP}/no_such_schema/jsonschema/1-0-0`;
  const first = await check(r, missing, {});
  assert.deepEqual(first, {
    ok: false,
    error: {
      error: 'ResolutionError',
      lookupHistory: [
        {
          repository: 'Iglu Central',
          errors: [{ error: 'NotFound' }],
          attempts: 1,
          lastAttempt: '2025-04-30T10:06:00.000Z',
        },
      ],
    },
  });
  assert.deepEqual(r.check(missing, {}), first);
  assert.equal(srv.requests.length, 3);
  now += 60_000;
  await check(r, missing, {});
  assert.equal(srv.requests.length, 4);
});

test('an unreachable registry is a system error, not a bad row', async (t) => {
  if (!requireShared(t)) return;
  const closed = createServer();
  await new Promise<void>((ok) => closed.listen(0, '127.0.0.1', ok));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((ok) => closed.close(() => ok()));
  const r = createResolver(
    { cacheSize: 10, repositories: [httpRepo('Iglu Central', `http://127.0.0.1:${port}`)] },
    FAST,
  );
  await assert.rejects(
    async () => r.check(`${SP}/web_page/jsonschema/1-0-0`, {}),
    (e: unknown) => {
      assert.ok(e instanceof IgluSystemError);
      assert.match(e.message, /Iglu Central: .*ECONNREFUSED/);
      return true;
    },
  );

  const srv = await central(t);
  if (!srv) return;
  srv.failWith(503);
  const r503 = await resolverOver(srv);
  await assert.rejects(async () => r503.check(`${SP}/web_page/jsonschema/1-0-0`, {}), IgluSystemError);
  assert.equal(srv.requests.length, 3);
});

test('directory registry over the mirror', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const r = createResolver({
    cacheSize: 10,
    repositories: [
      {
        name: 'Local',
        priority: 0,
        vendorPrefixes: [],
        connection: { embedded: { path: join(shared, 'iglu-central') } },
      },
    ],
  });
  assert.deepEqual(
    await check(r, `${SP}/web_page/jsonschema/1-0-0`, { id: 'c6ef3124-b53a-4b13-a233-0088f79dcbcb' }),
    { ok: true },
  );
  assert.deepEqual(
    messages(await check(r, `${SP}/geolocation_context/jsonschema/1-0-0`, { longitude: 20.1234 })),
    ['$.latitude: is missing but it is required'],
  );
  const missing = await check(r, `${SP}/no_such_schema/jsonschema/1-0-0`, {});
  assert.ok(
    !missing.ok &&
      missing.error.error === 'ResolutionError' &&
      missing.error.lookupHistory[0].repository === 'Local',
  );
});

test('superseding over HTTP: $supersededBy is followed and reported', async (t) => {
  const dir = await tempSchemas();
  t.after(() => dir.remove());
  await dir.put(
    'com.acme/tiny/jsonschema/1-0-0',
    tinySchema('com.acme', 'tiny', '1-0-0', { $supersededBy: '1-0-1' }),
  );
  await dir.put(
    'com.acme/tiny/jsonschema/1-0-1',
    tinySchema('com.acme', 'tiny', '1-0-1', {
      $supersedes: ['1-0-0'],
      properties: { a: { type: 'string' }, b: { type: 'integer' } },
    }),
  );
  const srv = await startIgluServer({ schemasRoot: dir.schemas });
  t.after(() => srv.close());
  const r = createResolver({ cacheSize: 10, repositories: [httpRepo('Acme', srv.uri)] }, FAST);
  const uri = 'iglu:com.acme/tiny/jsonschema/1-0-0';
  assert.deepEqual(await check(r, uri, { a: 'x', b: 1 }), { ok: true, supersededBy: '1-0-1' });
  assert.deepEqual(srv.requests, [
    'GET /schemas/com.acme/tiny/jsonschema/1-0-0',
    'GET /schemas/com.acme/tiny/jsonschema/1-0-1',
  ]);
  assert.deepEqual(r.check(uri, { a: 'x' }), { ok: true, supersededBy: '1-0-1' });
  assert.deepEqual(messages(await check(r, uri, { a: 'x', b: 'two' })), [
    '$.b: string found, integer expected',
  ]);
  assert.equal(srv.requests.length, 2);
});
