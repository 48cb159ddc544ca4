/**
 * The Micro-compatible API over real HTTP: a `node:http` server on loopback with `createMicroHandler`, a store
 * filled by hand, every endpoint exercised with `fetch` the way Micro-based suites (Cypress `cy.request`,
 * Node helpers) call it.
 */
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import type { IgluClientError, Resolver } from '../src/iglu/types.js';
import { createMicroHandler, SUPPORTED_ENDPOINTS } from '../src/micro/routes.js';
import { MicroStore } from '../src/micro/store.js';
import type { CollectorPayload } from '../src/protocol/collector-payload.js';
import { F, FIELD_COUNT, type FieldName } from '../src/protocol/enriched-fields.js';
import type { RawEvent } from '../src/protocol/raw-event.js';

const WEB_PAGE = 'iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0';
const LINK_CLICK = 'iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1';
const BAD_ROW =
  '{"schema":"iglu:com.snowplowanalytics.snowplow.badrows/schema_violations/jsonschema/2-0-0","data":{"failure":{}}}';
const ADAPTER_ROW =
  '{"schema":"iglu:com.snowplowanalytics.snowplow.badrows/adapter_failures/jsonschema/1-0-0","data":{"failure":{}}}';

function line(values: Partial<Record<FieldName, string>>): string {
  const f = new Array<string>(FIELD_COUNT).fill('');
  f[F.v_collector] = 'ssc-3.7.0-stdout';
  f[F.v_etl] = 'furrow-0.1.0';
  f[F.platform] = 'web';
  for (const [k, v] of Object.entries(values)) f[F[k as FieldName]] = v as string;
  return f.join('\t');
}

function raw(params: Record<string, string>, version = 'tp2'): RawEvent {
  return {
    vendor: 'com.snowplowanalytics.snowplow',
    version,
    parameters: new Map(Object.entries(params)),
    contentType: version === 'tp2' ? 'application/json; charset=utf-8' : null,
    loaderName: 'ssc-3.7.0-stdout',
    encoding: 'UTF-8',
    hostname: 'localhost',
    timestamp: Date.UTC(2021, 7, 29, 12, 1, 5, 787),
    ipAddress: '127.0.0.1',
    useragent: 'node',
    refererUri: 'http://localhost/page',
    headers: ['Host: localhost'],
    userId: 'ecdff4d0-9175-40ac-a8bb-325c49733607',
  };
}

function collectorPayload(path: string, querystring?: string): CollectorPayload {
  const p: CollectorPayload = {
    schema: 'iglu:com.snowplowanalytics.snowplow/CollectorPayload/thrift/1-0-0',
    ipAddress: '127.0.0.1',
    timestamp: Date.UTC(2021, 7, 29, 12, 1, 6),
    encoding: 'UTF-8',
    collector: 'ssc-3.7.0-stdout',
    path,
    headers: ['Host: localhost'],
  };
  if (querystring !== undefined) p.querystring = querystring;
  return p;
}

/** Three good events (oldest first: page view, struct, self-describing with an entity), one incomplete, two bad. */
function fill(store: MicroStore): void {
  store.addGood(
    raw({ e: 'pv', tv: 'lol' }),
    line({
      app_id: 'shop',
      collector_tstamp: '2021-08-29 12:01:05.787',
      derived_tstamp: '2021-08-29 12:01:04.999',
      event: 'page_view',
      event_id: '11111111-1111-4111-8111-111111111111',
      v_tracker: 'lol',
      domain_sessionidx: '1',
      br_cookies: '1',
      event_vendor: 'com.snowplowanalytics.snowplow',
      event_name: 'page_view',
      event_format: 'jsonschema',
      event_version: '1-0-0',
    }),
  );
  store.addGood(
    raw({ e: 'se', se_ca: 'shop' }),
    line({
      app_id: 'shop',
      collector_tstamp: '2021-08-29 12:01:06.000',
      derived_tstamp: '2021-08-29 12:01:05.780',
      event: 'struct',
      event_id: '22222222-2222-4222-8222-222222222222',
      se_category: 'shop',
      se_action: 'add',
      se_value: '19.99',
      event_vendor: 'com.google.analytics',
      event_name: 'event',
      event_format: 'jsonschema',
      event_version: '1-0-0',
    }),
  );
  store.addGood(
    raw({ e: 'ue' }),
    line({
      app_id: 'blog',
      collector_tstamp: '2021-08-29 12:01:07.000',
      derived_tstamp: '2021-08-29 12:01:05.787',
      event: 'unstruct',
      event_id: '33333333-3333-4333-8333-333333333333',
      user_id: 'alex',
      contexts: JSON.stringify({
        schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1',
        data: [{ schema: WEB_PAGE, data: { id: 'page-1' } }],
      }),
      unstruct_event: JSON.stringify({
        schema: 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0',
        data: { schema: LINK_CLICK, data: { targetUrl: 'https://x.example/' } },
      }),
      event_vendor: 'com.snowplowanalytics.snowplow',
      event_name: 'link_click',
      event_format: 'jsonschema',
      event_version: '1-0-1',
    }),
  );
  store.addGood(
    raw({ e: 'pv' }),
    line({
      app_id: 'broken',
      collector_tstamp: '2021-08-29 12:01:08.000',
      event: 'page_view',
      event_id: '44444444-4444-4444-8444-444444444444',
    }),
    { incomplete: true },
  );
  store.addBad(
    collectorPayload('/i', 'e=pp&p=web&tv=lol&eid=invalidEventId'),
    raw({ e: 'pp' }, 'tp1'),
    BAD_ROW,
  );
  store.addBad(collectorPayload('/com.acme/v9'), null, ADAPTER_ROW);
}

const SCHEMA = {
  $schema: 'http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#',
  self: {
    vendor: 'com.snowplowanalytics.snowplow',
    name: 'web_page',
    format: 'jsonschema',
    version: '1-0-0',
  },
  type: 'object',
};

const resolver: Resolver = {
  check: () => ({ ok: true }),
  async lookupSchema(uri) {
    if (uri === WEB_PAGE) return { ok: true, schema: SCHEMA };
    if (uri === 'iglu:com.acme/boom/jsonschema/1-0-0') throw new Error('registry unreachable');
    const error: IgluClientError = {
      error: 'ResolutionError',
      lookupHistory: [
        {
          repository: 'Iglu Central',
          errors: [{ error: 'NotFound' }],
          attempts: 1,
          lastAttempt: '2024-01-01T00:00:00Z',
        },
        {
          repository: 'Iglu Client Embedded',
          errors: [{ error: 'NotFound' }],
          attempts: 1,
          lastAttempt: '2024-01-01T00:00:00Z',
        },
      ],
    };
    return { ok: false, error };
  },
};

let server: Server;
let base: string;
const store = new MicroStore();

before(async () => {
  const micro = createMicroHandler({ store, resolver, maxBodyBytes: 64 * 1024 });
  server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (await micro(req, res, url)) return;
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('collector');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  store.reset();
  fill(store);
});

async function get(path: string, headers: Record<string, string> = {}): Promise<[number, unknown, Response]> {
  const res = await fetch(base + path, { headers });
  return [res.status, await res.json(), res];
}

async function post(path: string, body: unknown, raw = false): Promise<[number, unknown, Response]> {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: raw ? (body as string) : JSON.stringify(body),
  });
  return [res.status, await res.json(), res];
}

type Good = {
  eventType: string;
  schema: string | null;
  contexts: string[];
  event: Record<string, unknown>;
  rawEvent: Record<string, unknown>;
};

describe('Micro API over HTTP', () => {
  it('answers /micro/all with integer counts (GET and POST), no CORS headers', async () => {
    const [status, body, res] = await get('/micro/all', { Origin: 'http://localhost:8000' });
    assert.equal(status, 200);
    assert.deepEqual(body, { total: 5, good: 3, bad: 2 });
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal(res.headers.get('access-control-allow-origin'), null);
    assert.equal(res.headers.get('access-control-allow-credentials'), null);
    assert.deepEqual((await post('/micro/all', {}))[1], { total: 5, good: 3, bad: 2 });
  });

  it('lists good events newest first with the shapes suites rely on', async () => {
    const [status, body] = await get('/micro/good');
    assert.equal(status, 200);
    const good = body as Good[];
    assert.deepEqual(
      good.map((g) => g.eventType),
      ['unstruct', 'struct', 'page_view'],
    );
    const [ue, se, pv] = good;
    assert.equal(pv.schema, 'iglu:com.snowplowanalytics.snowplow/page_view/jsonschema/1-0-0');
    assert.equal(pv.event.platform, 'web');
    assert.equal(pv.event.v_tracker, 'lol');
    assert.deepEqual(pv.event.contexts, {});
    assert.ok(!Object.hasOwn(pv.event.contexts as object, 'data'));
    assert.deepEqual(pv.event.derived_contexts, {});
    assert.equal(pv.event.unstruct_event, null);
    assert.equal(pv.event.domain_sessionidx, 1);
    assert.equal(pv.event.br_cookies, true);
    assert.equal(pv.event.collector_tstamp, '2021-08-29T12:01:05.787Z');
    assert.deepEqual(pv.contexts, []);
    assert.deepEqual(pv.rawEvent.parameters, { e: 'pv', tv: 'lol' });
    assert.equal(
      (pv.rawEvent.context as Record<string, unknown>).userId,
      'ecdff4d0-9175-40ac-a8bb-325c49733607',
    );
    assert.equal((pv.rawEvent.context as Record<string, unknown>).timestamp, '2021-08-29T12:01:05.787Z');
    assert.equal(se.event.se_value, 19.99);
    assert.equal(se.event.se_category, 'shop');
    assert.deepEqual(ue.contexts, [WEB_PAGE]);
    assert.deepEqual(ue.event.contexts, {
      schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0',
      data: [{ schema: WEB_PAGE, data: { id: 'page-1' } }],
    });
    const unstruct = ue.event.unstruct_event as {
      schema: string;
      data: { schema: string; data: { targetUrl: string } };
    };
    assert.equal(unstruct.schema, 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0');
    assert.equal(unstruct.data.schema, LINK_CLICK);
    assert.equal(unstruct.data.data.targetUrl, 'https://x.example/');
    assert.equal(Object.keys(ue.event).length, 131);
    // Suites order by derived_tstamp with plain string comparison: it agrees with time order. (Like Micro's
    // Instant.toString, a whole-second value prints as `…05Z`, which sorts after `…05.100Z` as text.)
    const byDerived = [...good].sort((a, b) =>
      (a.event.derived_tstamp as string) < (b.event.derived_tstamp as string) ? -1 : 1,
    );
    assert.deepEqual(
      byDerived.map((g) => g.event.derived_tstamp),
      ['2021-08-29T12:01:04.999Z', '2021-08-29T12:01:05.780Z', '2021-08-29T12:01:05.787Z'],
    );
  });

  it('filters good events from a POST body', async () => {
    const types = async (filters: unknown) =>
      ((await post('/micro/good', filters))[1] as Good[]).map((g) => g.eventType);
    assert.deepEqual(await types({}), ['unstruct', 'struct', 'page_view']);
    assert.deepEqual(await types({ event_type: 'unstruct' }), ['unstruct']);
    assert.deepEqual(await types({ event_type: 'ue' }), []);
    assert.deepEqual(await types({ schema: LINK_CLICK }), ['unstruct']);
    assert.deepEqual(await types({ contexts: [WEB_PAGE] }), ['unstruct']);
    assert.deepEqual(await types({ limit: 1 }), ['unstruct']);
    assert.deepEqual(await types({ event_type: null, limit: 2, unknown: true }), ['unstruct', 'struct']);
    // Clients that POST without a body get everything, as with `{}`.
    const res = await fetch(`${base}/micro/good`, { method: 'POST' });
    assert.equal(((await res.json()) as Good[]).length, 3);
  });

  it('filters good events from the query string on GET', async () => {
    const types = async (qs: string) =>
      ((await get(`/micro/good?${qs}`))[1] as Good[]).map((g) => g.eventType);
    assert.deepEqual(await types('event_type=struct'), ['struct']);
    assert.deepEqual(await types(`schema=${encodeURIComponent(LINK_CLICK)}`), ['unstruct']);
    assert.deepEqual(await types(`contexts=${encodeURIComponent(WEB_PAGE)}`), ['unstruct']);
    assert.deepEqual(await types('limit=2'), ['unstruct', 'struct']);
    assert.equal((await get('/micro/good?limit=two'))[0], 400);
  });

  it('lists and filters bad events', async () => {
    const [status, body] = await get('/micro/bad');
    assert.equal(status, 200);
    const bad = body as Array<{
      collectorPayload: Record<string, unknown> | null;
      rawEvent: unknown;
      errors: string[];
    }>;
    assert.equal(bad.length, 2);
    assert.deepEqual(bad[0].errors, [
      'Error while extracting event(s) from collector payload and validating it/them.',
      ADAPTER_ROW,
    ]);
    assert.equal(bad[0].rawEvent, null);
    assert.deepEqual(bad[1].errors, ['Error while validating the event.', BAD_ROW]);
    assert.deepEqual(bad[1].collectorPayload?.querystring, ['e=pp', 'p=web', 'tv=lol', 'eid=invalidEventId']);
    assert.deepEqual(bad[1].collectorPayload?.api, {
      vendor: 'com.snowplowanalytics.snowplow',
      version: 'tp1',
    });
    const versions = (b: unknown) =>
      (b as typeof bad).map((x) => (x.collectorPayload?.api as { version: string } | undefined)?.version);
    assert.deepEqual(
      versions((await post('/micro/bad', { vendor: 'com.snowplowanalytics.snowplow', version: 'tp1' }))[1]),
      ['tp1'],
    );
    assert.deepEqual(versions((await post('/micro/bad', { vendor: 'com.acme' }))[1]), ['v9']);
    assert.deepEqual(versions((await post('/micro/bad', { limit: 1 }))[1]), ['v9']);
    assert.deepEqual(versions((await get('/micro/bad?version=tp1'))[1]), ['tp1']);
  });

  it('gzips when the client accepts it', async () => {
    const { status, headers, bytes } = await new Promise<{
      status: number;
      headers: Record<string, unknown>;
      bytes: Buffer;
    }>((resolve, reject) => {
      const req = httpRequest(
        `${base}/micro/good`,
        { headers: { 'Accept-Encoding': 'gzip, deflate' } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes: Buffer.concat(chunks) }),
          );
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 200);
    assert.equal(headers['content-encoding'], 'gzip');
    assert.equal(headers['content-type'], 'application/json');
    assert.equal(bytes[0], 0x1f);
    assert.equal(bytes[1], 0x8b);
    assert.equal((JSON.parse(gunzipSync(bytes).toString('utf8')) as Good[]).length, 3);
    // fetch negotiates gzip itself and decodes it transparently.
    const [, body, res] = await get('/micro/all');
    assert.equal(res.headers.get('content-encoding'), 'gzip');
    assert.deepEqual(body, { total: 5, good: 3, bad: 2 });
    const [, , plain] = await get('/micro/all', { 'Accept-Encoding': 'identity' });
    assert.equal(plain.headers.get('content-encoding'), null);
    const [, , refused] = await get('/micro/all', { 'Accept-Encoding': 'gzip;q=0' });
    assert.equal(refused.headers.get('content-encoding'), null);
  });

  it('resets with GET and POST, answering the zero summary', async () => {
    assert.deepEqual(await get('/micro/reset').then((r) => r[1]), { total: 0, good: 0, bad: 0 });
    assert.deepEqual((await get('/micro/all'))[1], { total: 0, good: 0, bad: 0 });
    assert.deepEqual((await get('/micro/good'))[1], []);
    fill(store);
    assert.deepEqual((await post('/micro/reset', {}))[1], { total: 0, good: 0, bad: 0 });
    assert.deepEqual((await get('/micro/bad'))[1], []);
  });

  it('serves schemas through the resolver', async () => {
    const [ok, schema] = await get('/micro/iglu/com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0');
    assert.equal(ok, 200);
    assert.deepEqual(schema, SCHEMA);
    const [missing, history] = await get('/micro/iglu/com.acme/nope/jsonschema/1-0-0');
    assert.equal(missing, 404);
    assert.deepEqual(history, {
      value: {
        'Iglu Central': { errors: [{ error: 'NotFound' }], attempts: 1, lastAttempt: '2024-01-01T00:00:00Z' },
        'Iglu Client Embedded': {
          errors: [{ error: 'NotFound' }],
          attempts: 1,
          lastAttempt: '2024-01-01T00:00:00Z',
        },
      },
    });
    const [badVersion, hint] = await get('/micro/iglu/com.acme/nope/jsonschema/1-0');
    assert.equal(badVersion, 404);
    assert.match(hint as string, /^Schema lookup should be in format/);
    const [down] = await get('/micro/iglu/com.acme/boom/jsonschema/1-0-0');
    assert.equal(down, 502);
  });

  it('serves GET /micro/events (3.x) as lossy events, incomplete ones included', async () => {
    const [status, body] = await get('/micro/events');
    assert.equal(status, 200);
    const events = body as Record<string, unknown>[];
    assert.deepEqual(
      events.map((e) => e.app_id),
      ['broken', 'blog', 'shop', 'shop'],
    );
    assert.deepEqual(events[1].contexts_com_snowplowanalytics_snowplow_web_page_1, [
      { id: 'page-1', _schema_version: '1-0-0' },
    ]);
    assert.deepEqual(events[1].unstruct_event_com_snowplowanalytics_snowplow_link_click_1, {
      targetUrl: 'https://x.example/',
    });
    assert.ok(!('contexts' in events[1]));
  });

  it('serves POST /micro/events (4.x) with paging, filters, time range and sorting', async () => {
    const [status, page1] = await post('/micro/events', { page: 1, pageSize: 3, filters: [] });
    assert.equal(status, 200);
    assert.deepEqual(Object.keys(page1 as object), ['events', 'totalPages', 'totalItems']);
    const p1 = page1 as { events: Record<string, unknown>[]; totalPages: number; totalItems: number };
    assert.equal(p1.totalItems, 4);
    assert.equal(p1.totalPages, 2);
    assert.equal(p1.events.length, 3);
    const query = async (extra: object) =>
      (
        (await post('/micro/events', { page: 1, pageSize: 10, filters: [], ...extra }))[1] as typeof p1
      ).events.map((e) => e.event_id);
    assert.deepEqual(await query({ validEvents: false }), ['44444444-4444-4444-8444-444444444444']);
    assert.equal((await query({ validEvents: true })).length, 3);
    assert.deepEqual(await query({ filters: [{ column: 'app_id', values: ['BLOG'] }] }), [
      '33333333-3333-4333-8333-333333333333',
    ]);
    assert.deepEqual(await query({ filters: [{ column: 'app_id', value: 'blog' }] }), [
      '33333333-3333-4333-8333-333333333333',
    ]);
    assert.deepEqual(
      await query({ timeRange: { start: '2021-08-29T12:01:06Z', end: '2021-08-29T12:01:08Z' } }),
      ['33333333-3333-4333-8333-333333333333', '22222222-2222-4222-8222-222222222222'],
    );
    assert.deepEqual(await query({ sorting: { column: 'event_id', desc: false } }), [
      '11111111-1111-4111-8111-111111111111',
      '22222222-2222-4222-8222-222222222222',
      '33333333-3333-4333-8333-333333333333',
      '44444444-4444-4444-8444-444444444444',
    ]);
    assert.equal((await post('/micro/events', { pageSize: 10, filters: [] }))[0], 400);
    assert.equal(
      (await post('/micro/events', { page: 1, pageSize: 10, filters: [], timeRange: { start: 'x' } }))[0],
      400,
    );
  });

  it('serves columns, column stats, timeline and auth config', async () => {
    const [, columns] = await get('/micro/columns');
    const cols = columns as string[];
    assert.deepEqual(cols, [...cols].sort());
    assert.ok(cols.includes('app_id'));
    assert.ok(cols.includes('contexts_com_snowplowanalytics_snowplow_web_page_1.id'));
    assert.ok(cols.includes('unstruct_event_com_snowplowanalytics_snowplow_link_click_1.targetUrl'));

    const [, stats] = await post('/micro/columnStats', { columns: ['app_id', 'derived_tstamp'] });
    assert.deepEqual(stats, {
      app_id: { sortable: true, filterable: true, values: ['broken', 'blog', 'shop'] },
      derived_tstamp: { sortable: true, filterable: false, values: null },
    });
    assert.equal((await post('/micro/columnStats', { columns: 'app_id' }))[0], 400);

    const [, timeline] = await post('/micro/timeline', {
      buckets: [
        { start: '2021-08-29T12:01:05.000Z', end: '2021-08-29T12:01:07Z' },
        { start: '2021-08-29T12:01:07Z', end: '2021-08-29T12:01:09Z' },
      ],
    });
    assert.deepEqual(timeline, {
      points: [
        {
          validEvents: 2,
          failedEvents: 0,
          bucket: { start: '2021-08-29T12:01:05Z', end: '2021-08-29T12:01:07Z' },
        },
        {
          validEvents: 1,
          failedEvents: 1,
          bucket: { start: '2021-08-29T12:01:07Z', end: '2021-08-29T12:01:09Z' },
        },
      ],
    });

    assert.deepEqual((await get('/micro/auth-config'))[1], {
      domain: '',
      audience: '',
      clientId: '',
      enabled: false,
    });
  });

  it('answers unknown /micro paths and methods with the catch-all 404, leaves other paths alone', async () => {
    for (const [method, path] of [
      ['GET', '/micro/unknown'],
      ['GET', '/micro'],
      ['OPTIONS', '/micro/good'],
      ['DELETE', '/micro/all'],
      ['POST', '/micro/columns'],
    ]) {
      const res = await fetch(base + path, { method });
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal(res.headers.get('content-type'), 'application/json');
      assert.equal(await res.json(), SUPPORTED_ENDPOINTS);
    }
    const other = await fetch(`${base}/com.snowplowanalytics.snowplow/tp2`);
    assert.equal(await other.text(), 'collector');
    const lookalike = await fetch(`${base}/microscope`);
    assert.equal(await lookalike.text(), 'collector');
  });

  it('rejects malformed or mistyped bodies with 400 and oversized ones with 413, and keeps serving', async () => {
    const [status, message] = await post('/micro/good', '{"event_type": ', true);
    assert.equal(status, 400);
    assert.match(message as string, /^Malformed JSON body/);
    assert.equal((await post('/micro/good', '[1,2]', true))[0], 400);
    assert.equal((await post('/micro/good', { limit: 'ten' }))[0], 400);
    assert.equal((await post('/micro/good', { contexts: WEB_PAGE }))[0], 400);
    assert.equal((await post('/micro/bad', { vendor: 1 }))[0], 400);
    const [big, bigMessage] = await post('/micro/good', { event_type: 'x'.repeat(70 * 1024) });
    assert.equal(big, 413);
    assert.equal(typeof bigMessage, 'string');
    assert.deepEqual((await get('/micro/all'))[1], { total: 5, good: 3, bad: 2 });
  });
});
