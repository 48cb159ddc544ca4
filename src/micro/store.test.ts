import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CollectorPayload } from '../protocol/collector-payload.js';
import { F, FIELD_COUNT, type FieldName } from '../protocol/enriched-fields.js';
import type { RawEvent } from '../protocol/raw-event.js';
import { EXTRACTION_ERROR, MicroStore, rawEventToJson, VALIDATION_ERROR } from './store.js';

const CTX = 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1';
const WEB_PAGE = 'iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0';
const GEO = 'iglu:com.snowplowanalytics.snowplow/geolocation_context/jsonschema/1-1-0';

let n = 0;
function line(values: Partial<Record<FieldName, string>>): string {
  const f = new Array<string>(FIELD_COUNT).fill('');
  n++;
  f[F.collector_tstamp] = '2021-08-29 12:01:05.787';
  f[F.event_id] = `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  f[F.v_collector] = 'ssc-3.7.0-stdout';
  f[F.v_etl] = 'furrow-0.1.0';
  for (const [k, v] of Object.entries(values)) f[F[k as FieldName]] = v as string;
  return f.join('\t');
}

function withContexts(...schemas: string[]): string {
  return JSON.stringify({ schema: CTX, data: schemas.map((schema) => ({ schema, data: { id: 'x' } })) });
}

function pageView(extra: Partial<Record<FieldName, string>> = {}): string {
  return line({
    event: 'page_view',
    event_vendor: 'com.snowplowanalytics.snowplow',
    event_name: 'page_view',
    event_format: 'jsonschema',
    event_version: '1-0-0',
    ...extra,
  });
}

function selfDescribing(schema: string, extra: Partial<Record<FieldName, string>> = {}): string {
  const [, vendor, name, format, version] = /^iglu:([^/]+)\/([^/]+)\/([^/]+)\/(.+)$/.exec(schema)!;
  return line({
    event: 'unstruct',
    event_vendor: vendor,
    event_name: name,
    event_format: format,
    event_version: version,
    unstruct_event: JSON.stringify({
      schema: 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0',
      data: { schema, data: { ok: true } },
    }),
    ...extra,
  });
}

function raw(params: Record<string, string | null> = { e: 'pv' }, version = 'tp2'): RawEvent {
  return {
    vendor: 'com.snowplowanalytics.snowplow',
    version,
    parameters: new Map(Object.entries(params)),
    contentType: 'application/json; charset=utf-8',
    loaderName: 'ssc-3.7.0-stdout',
    encoding: 'UTF-8',
    hostname: 'collector.example',
    timestamp: Date.UTC(2021, 7, 29, 12, 1, 5, 0),
    ipAddress: '172.17.0.1',
    useragent: 'curl/8',
    refererUri: null,
    headers: ['Host: collector.example', 'application/json; charset=utf-8'],
    userId: 'ecdff4d0-9175-40ac-a8bb-325c49733607',
  };
}

function payload(path: string, querystring?: string): CollectorPayload {
  const p: CollectorPayload = {
    schema: 'iglu:com.snowplowanalytics.snowplow/CollectorPayload/thrift/1-0-0',
    ipAddress: '172.17.0.1',
    timestamp: Date.UTC(2021, 7, 29, 12, 1, 5, 787),
    encoding: 'UTF-8',
    collector: 'ssc-3.7.0-stdout',
    path,
    headers: ['Host: collector.example'],
    networkUserId: 'ecdff4d0-9175-40ac-a8bb-325c49733607',
  };
  if (querystring !== undefined) p.querystring = querystring;
  return p;
}

const BAD_ROW =
  '{"schema":"iglu:com.snowplowanalytics.snowplow.badrows/schema_violations/jsonschema/2-0-0","data":{}}';

describe('MicroStore good events', () => {
  it('builds the GoodEvent shape of Micro', async () => {
    const s = new MicroStore();
    s.addGood(
      raw({ e: 'pv', aid: 'shop', x: null }),
      pageView({ app_id: 'shop', contexts: withContexts(WEB_PAGE) }),
    );
    const [g] = await s.good();
    assert.deepEqual(Object.keys(g), ['rawEvent', 'eventType', 'schema', 'contexts', 'event', 'incomplete']);
    assert.deepEqual(g.rawEvent, {
      api: { vendor: 'com.snowplowanalytics.snowplow', version: 'tp2' },
      parameters: { e: 'pv', aid: 'shop', x: null },
      contentType: 'application/json; charset=utf-8',
      source: { name: 'ssc-3.7.0-stdout', encoding: 'UTF-8', hostname: 'collector.example' },
      context: {
        timestamp: '2021-08-29T12:01:05.000Z',
        ipAddress: '172.17.0.1',
        useragent: 'curl/8',
        refererUri: null,
        headers: ['Host: collector.example', 'application/json; charset=utf-8'],
        userId: 'ecdff4d0-9175-40ac-a8bb-325c49733607',
      },
    });
    assert.equal(g.eventType, 'page_view');
    assert.equal(g.schema, 'iglu:com.snowplowanalytics.snowplow/page_view/jsonschema/1-0-0');
    assert.deepEqual(g.contexts, [WEB_PAGE]);
    assert.equal(g.incomplete, false);
    assert.equal(g.event.app_id, 'shop');
    assert.equal(g.event.collector_tstamp, '2021-08-29T12:01:05.787Z');
    assert.equal(Object.keys(g.event).length, 131);
  });

  it('keeps a __proto__ parameter as data', async () => {
    const s = new MicroStore();
    s.addGood(raw(JSON.parse('{"__proto__":"x"}')), pageView());
    const params = JSON.parse(JSON.stringify((await s.good())[0].rawEvent.parameters));
    assert.equal(Object.getOwnPropertyDescriptor(params, '__proto__')?.value, 'x');
  });

  it('lists newest first; limit keeps the most recent', async () => {
    const s = new MicroStore();
    for (const id of ['a', 'b', 'c']) s.addGood(raw(), pageView({ app_id: id }));
    assert.deepEqual(
      (await s.good()).map((g) => g.event.app_id),
      ['c', 'b', 'a'],
    );
    assert.deepEqual(
      (await s.good({ limit: 1 })).map((g) => g.event.app_id),
      ['c'],
    );
    assert.deepEqual(await s.good({ limit: 0 }), []);
    assert.deepEqual(await s.good({ limit: -1 }), []);
  });

  it('filters on the enriched event name, not the e code', async () => {
    const s = new MicroStore();
    s.addGood(raw(), pageView());
    s.addGood(raw({ e: 'ue' }), selfDescribing('iglu:com.acme/x/jsonschema/1-0-0'));
    s.addGood(raw({ e: 'se' }), line({ event: 'struct', se_category: 'c' }));
    assert.equal((await s.good({ event_type: 'unstruct' })).length, 1);
    assert.equal((await s.good({ event_type: 'ue' })).length, 0);
    assert.equal((await s.good({ event_type: 'struct' }))[0].event.se_category, 'c');
  });

  it('filters on the exact event schema; events without one never match', async () => {
    const s = new MicroStore();
    s.addGood(raw(), selfDescribing('iglu:com.acme/x/jsonschema/1-0-0'));
    s.addGood(raw(), selfDescribing('iglu:com.acme/x/jsonschema/1-0-1'));
    s.addGood(raw(), line({ event: 'struct' }));
    assert.equal((await s.good({ schema: 'iglu:com.acme/x/jsonschema/1-0-0' })).length, 1);
    assert.equal((await s.good({ schema: 'com.acme/x/jsonschema/1-0-0' })).length, 0);
    assert.equal((await s.good())[0].schema, null);
  });

  it('contexts filter needs all listed full URIs; derived contexts do not count', async () => {
    const s = new MicroStore();
    s.addGood(raw(), pageView({ app_id: 'both', contexts: withContexts(WEB_PAGE, GEO) }));
    s.addGood(raw(), pageView({ app_id: 'web', contexts: withContexts(WEB_PAGE) }));
    s.addGood(raw(), pageView({ app_id: 'derived', derived_contexts: withContexts(WEB_PAGE) }));
    const ids = async (f: string[]) => (await s.good({ contexts: f })).map((g) => g.event.app_id);
    assert.deepEqual(await ids([WEB_PAGE]), ['web', 'both']);
    assert.deepEqual(await ids([WEB_PAGE, GEO]), ['both']);
    assert.deepEqual(await ids(['com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0']), []);
    assert.deepEqual(await ids([]), ['derived', 'web', 'both']);
    assert.deepEqual((await s.good())[0].contexts, []);
  });

  it('hides incomplete events from /micro/good and /micro/all but not from /micro/events', async () => {
    const s = new MicroStore();
    s.addGood(raw(), pageView());
    s.addGood(raw(), pageView(), { incomplete: true });
    s.addBad(payload('/com.snowplowanalytics.snowplow/tp2'), raw(), BAD_ROW);
    assert.deepEqual(s.summary(), { total: 2, good: 1, bad: 1 });
    assert.equal((await s.good()).length, 1);
    assert.equal(s.lossyEvents().length, 2);
    assert.deepEqual(s.stats(), { good: 2, incomplete: 1, bad: 1, dropped: 0 });
  });

  it('rejects a line without 131 fields', async () => {
    assert.throws(() => new MicroStore().addGood(raw(), 'a\tb'), /Wrong event fields number/);
    assert.throws(() => new MicroStore().addGoodSerialized('{}', `${pageView()}\tx`), /Wrong event fields/);
  });

  it('serves an event stored with its raw event as JSON text exactly as one stored as an object', async () => {
    const params = JSON.parse('{"e":"pv","__proto__":"x","flag":null}') as Record<string, string | null>;
    const ev = pageView({
      app_id: 'a',
      contexts: withContexts(WEB_PAGE),
      collector_tstamp: '2024-01-01 00:00:00.000',
    });
    const byObject = new MicroStore();
    byObject.addGood(raw(params), ev);
    const byText = new MicroStore();
    byText.addGoodSerialized(JSON.stringify(rawEventToJson(raw(params))), ev);
    assert.deepEqual(await byText.good(), await byObject.good());
    assert.equal(JSON.stringify(await byText.good()), JSON.stringify(await byObject.good()));
    assert.equal(
      Object.getOwnPropertyDescriptor((await byText.good())[0].rawEvent.parameters, '__proto__')?.value,
      'x',
    );
    assert.deepEqual((await byText.good({ contexts: [WEB_PAGE], event_type: 'page_view' })).length, 1);
    const day = Date.UTC(2024, 0, 1);
    assert.deepEqual(byText.timeline([{ start: day, end: day + 1000 }]), [
      { validEvents: 1, failedEvents: 0 },
    ]);
    assert.deepEqual(byText.lossyEvents(), byObject.lossyEvents());
  });
});

describe('MicroStore bad events', () => {
  it('builds the BadEvent shape with the validation headline when there is a raw event', async () => {
    const s = new MicroStore();
    s.addBad(payload('/i', 'e=pp&p=web&tv=lol&eid=invalidEventId&flag'), raw({ e: 'pp' }, 'tp1'), BAD_ROW);
    const [b] = await s.bad();
    assert.deepEqual(Object.keys(b), ['collectorPayload', 'rawEvent', 'errors']);
    assert.deepEqual(b.errors, [VALIDATION_ERROR, BAD_ROW]);
    assert.deepEqual(b.collectorPayload, {
      api: { vendor: 'com.snowplowanalytics.snowplow', version: 'tp1' },
      querystring: ['e=pp', 'p=web', 'tv=lol', 'eid=invalidEventId', 'flag=null'],
      contentType: null,
      body: null,
      source: { name: 'ssc-3.7.0-stdout', encoding: 'UTF-8', hostname: null },
      context: {
        timestamp: '2021-08-29T12:01:05.787Z',
        ipAddress: '172.17.0.1',
        useragent: null,
        refererUri: null,
        headers: ['Host: collector.example'],
        userId: 'ecdff4d0-9175-40ac-a8bb-325c49733607',
      },
    });
    assert.equal(b.rawEvent?.api.version, 'tp1');
  });

  it('uses the extraction headline and rawEvent null without a raw event', async () => {
    const s = new MicroStore();
    s.addBad(payload('/com.snowplowanalytics.snowplow/tp2'), null, BAD_ROW);
    const [b] = await s.bad();
    assert.equal(b.rawEvent, null);
    assert.deepEqual(b.errors, [EXTRACTION_ERROR, BAD_ROW]);
    assert.deepEqual(b.collectorPayload?.api, { vendor: 'com.snowplowanalytics.snowplow', version: 'tp2' });
    assert.deepEqual(b.collectorPayload?.querystring, []);
  });

  it('has no collectorPayload when the payload could not be loaded or has no API path', async () => {
    const s = new MicroStore();
    s.addBad(null, null, BAD_ROW);
    s.addBad(payload('/a/b/c'), null, BAD_ROW);
    assert.deepEqual(
      (await s.bad()).map((b) => b.collectorPayload),
      [null, null],
    );
  });

  it('filters on vendor/version; events without a collector payload always pass', async () => {
    const s = new MicroStore();
    s.addBad(payload('/com.snowplowanalytics.snowplow/tp2'), null, 'tp2');
    s.addBad(payload('/i'), null, 'tp1');
    s.addBad(payload('/com.acme/v1'), null, 'acme');
    s.addBad(null, null, 'none');
    const rows = async (f: Parameters<MicroStore['bad']>[0]) => (await s.bad(f)).map((b) => b.errors[1]);
    assert.deepEqual(await rows({}), ['none', 'acme', 'tp1', 'tp2']);
    assert.deepEqual(await rows({ vendor: 'com.snowplowanalytics.snowplow', version: 'tp2' }), [
      'none',
      'tp2',
    ]);
    assert.deepEqual(await rows({ version: 'tp1' }), ['none', 'tp1']);
    assert.deepEqual(await rows({ vendor: 'com.acme', limit: 1 }), ['none']);
  });
});

describe('MicroStore bounds and reset', () => {
  it('drops the oldest events across good and bad beyond maxEvents', async () => {
    const s = new MicroStore({ maxEvents: 3 });
    s.addGood(raw(), pageView({ app_id: '1' }));
    s.addBad(null, null, 'b2');
    s.addGood(raw(), pageView({ app_id: '3' }), { incomplete: true });
    s.addGood(raw(), pageView({ app_id: '4' }));
    s.addBad(null, null, 'b5');
    assert.deepEqual(s.stats(), { good: 2, incomplete: 1, bad: 1, dropped: 2 });
    assert.deepEqual(
      (await s.bad()).map((b) => b.errors[1]),
      ['b5'],
    );
    assert.deepEqual(
      s.lossyEvents().map((e) => e.app_id),
      ['4', '3'],
    );
    assert.deepEqual(s.summary(), { total: 2, good: 1, bad: 1 });
  });

  it('stays bounded over many events', async () => {
    const s = new MicroStore({ maxEvents: 100 });
    for (let i = 0; i < 5000; i++) s.addGood(raw(), pageView({ app_id: String(i) }));
    assert.equal(s.stats().good, 100);
    assert.equal(s.stats().dropped, 4900);
    assert.equal((await s.good({ limit: 1 }))[0].event.app_id, '4999');
    assert.equal((await s.good()).at(-1)?.event.app_id, '4900');
  });

  it('reset empties everything but keeps the dropped count', async () => {
    const s = new MicroStore({ maxEvents: 1 });
    s.addGood(raw(), pageView());
    s.addBad(null, null, BAD_ROW);
    s.reset();
    assert.deepEqual(s.summary(), { total: 0, good: 0, bad: 0 });
    assert.deepEqual(s.stats(), { good: 0, incomplete: 0, bad: 0, dropped: 1 });
    assert.throws(() => new MicroStore({ maxEvents: 0 }), RangeError);
  });
});

describe('MicroStore /micro/events queries', () => {
  function filled(): MicroStore {
    const s = new MicroStore();
    s.addGood(
      raw(),
      pageView({ app_id: 'Shop', collector_tstamp: '2024-01-01 00:00:00.000', domain_sessionidx: '2' }),
    );
    s.addGood(
      raw(),
      pageView({ app_id: 'blog', collector_tstamp: '2024-01-01 01:00:00.000', domain_sessionidx: '10' }),
    );
    s.addGood(
      raw(),
      pageView({ collector_tstamp: '2024-01-01 02:00:00.000', contexts: withContexts(WEB_PAGE) }),
      {
        incomplete: true,
      },
    );
    s.addGood(
      raw(),
      selfDescribing('iglu:com.acme/x/jsonschema/1-0-0', {
        app_id: 'shop',
        collector_tstamp: '2024-01-01 03:00:00.000',
      }),
    );
    return s;
  }
  const base = { page: 1, pageSize: 50, filters: [] };

  it('pages newest first', async () => {
    const s = filled();
    const r1 = s.queryEvents({ ...base, pageSize: 3 });
    assert.equal(r1.totalItems, 4);
    assert.equal(r1.totalPages, 2);
    assert.deepEqual(
      r1.events.map((e) => e.app_id),
      ['shop', null, 'blog'],
    );
    const r2 = s.queryEvents({ ...base, page: 2, pageSize: 3 });
    assert.deepEqual(
      r2.events.map((e) => e.app_id),
      ['Shop'],
    );
    assert.deepEqual(s.queryEvents({ ...base, page: 9 }).events, []);
    assert.deepEqual(new MicroStore().queryEvents(base), { events: [], totalPages: 1, totalItems: 0 });
  });

  it('filters by exact case-insensitive value, ignoring empty values and entity columns', async () => {
    const s = filled();
    const ids = (filters: { column: string; values: string[] }[]) =>
      s.queryEvents({ ...base, filters }).events.map((e) => e.app_id);
    assert.deepEqual(await ids([{ column: 'app_id', values: ['SHOP'] }]), ['shop', 'Shop']);
    assert.deepEqual(await ids([{ column: 'app_id', values: ['sho'] }]), []);
    assert.deepEqual(await ids([{ column: 'app_id', values: ['blog', 'shop'] }]), ['shop', 'blog', 'Shop']);
    assert.deepEqual(await ids([{ column: 'app_id', values: [''] }]).length, 4);
    assert.deepEqual(
      ids([{ column: 'contexts_com_snowplowanalytics_snowplow_web_page_1', values: ['x'] }]).length,
      4,
    );
    assert.deepEqual(await ids([{ column: 'domain_sessionidx', values: ['10'] }]), ['blog']);
    assert.deepEqual(
      ids([
        { column: 'app_id', values: ['shop'] },
        { column: 'event', values: ['page_view'] },
      ]),
      ['Shop'],
    );
  });

  it('selects valid or failed events and a collector_tstamp range [start, end)', async () => {
    const s = filled();
    assert.equal(s.queryEvents({ ...base, validEvents: true }).totalItems, 3);
    const failed = s.queryEvents({ ...base, validEvents: false });
    assert.equal(failed.totalItems, 1);
    assert.deepEqual(failed.events[0].contexts_com_snowplowanalytics_snowplow_web_page_1, [
      { id: 'x', _schema_version: '1-0-0' },
    ]);
    const range = s.queryEvents({
      ...base,
      timeRange: { start: Date.UTC(2024, 0, 1, 1), end: Date.UTC(2024, 0, 1, 3) },
    });
    assert.deepEqual(
      range.events.map((e) => e.collector_tstamp),
      ['2024-01-01T02:00:00Z', '2024-01-01T01:00:00Z'],
    );
    assert.equal(
      s.queryEvents({ ...base, timeRange: { start: null, end: Date.UTC(2024, 0, 1, 1) } }).totalItems,
      1,
    );
  });

  it('sorts by string rendering, nulls last ascending and first descending', async () => {
    const s = filled();
    const sorted = (column: string, desc: boolean) =>
      s.queryEvents({ ...base, sorting: { column, desc } }).events.map((e) => e[column]);
    assert.deepEqual(sorted('app_id', false), ['Shop', 'blog', 'shop', null]);
    assert.deepEqual(sorted('app_id', true), [null, 'shop', 'blog', 'Shop']);
    // '10' < '2' as strings, as in Micro.
    assert.deepEqual(sorted('domain_sessionidx', false), [10, 2, null, null]);
    assert.deepEqual(
      s
        .queryEvents({ ...base, sorting: { column: 'unstruct_event_com_acme_x_1', desc: false } })
        .events.map((e) => e.app_id),
      ['shop', null, 'blog', 'Shop'],
    );
  });

  it('lists columns, nested ones dotted, sorted', async () => {
    const cols = filled().columns();
    assert.deepEqual(cols, [...cols].sort());
    for (const c of [
      'app_id',
      'refr_device_tstamp',
      'contexts_com_snowplowanalytics_snowplow_web_page_1',
      'contexts_com_snowplowanalytics_snowplow_web_page_1._schema_version',
      'contexts_com_snowplowanalytics_snowplow_web_page_1.id',
      'unstruct_event_com_acme_x_1',
      'unstruct_event_com_acme_x_1.ok',
    ]) {
      assert.ok(cols.includes(c), c);
    }
    assert.ok(!cols.includes('contexts'));
    assert.deepEqual(new MicroStore().columns(), []);
  });

  it('reports column stats', async () => {
    const stats = filled().columnStats([
      'app_id',
      'collector_tstamp',
      'unstruct_event_com_acme_x_1.ok',
      'nope',
    ]);
    assert.deepEqual(stats, {
      app_id: { sortable: true, filterable: true, values: ['shop', 'blog', 'Shop'] },
      collector_tstamp: { sortable: true, filterable: false, values: null },
      'unstruct_event_com_acme_x_1.ok': { sortable: false, filterable: false, values: null },
      nope: { sortable: true, filterable: true, values: [] },
    });
    const s = new MicroStore();
    for (let i = 0; i < 30; i++) s.addGood(raw(), pageView({ app_id: `a${i}` }));
    assert.equal(s.columnStats(['app_id']).app_id.values?.length, 20);
  });

  it('counts valid and failed events per timeline bucket', async () => {
    const s = filled();
    const h = (x: number) => Date.UTC(2024, 0, 1, x);
    assert.deepEqual(
      s.timeline([
        { start: h(0), end: h(2) },
        { start: h(2), end: h(4) },
        { start: h(5), end: h(6) },
      ]),
      [
        { validEvents: 2, failedEvents: 0 },
        { validEvents: 1, failedEvents: 1 },
        { validEvents: 0, failedEvents: 0 },
      ],
    );
  });
});
