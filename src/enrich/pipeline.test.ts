/**
 * The enrich core end to end over real Iglu Central schemas: the spec's vectors V1–V10, V12, V17–V23,
 * V51, V53, V54, V56, V57 and the bad-row precedence rules.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { enrichAll, sharedEnricher } from '../../test/helpers/enricher.js';
import { requireShared } from '../../test/helpers/shared.js';
import { COLLECTOR_PAYLOAD_SCHEMA, type CollectorPayload } from '../protocol/collector-payload.js';
import { FIELD_NAMES } from '../protocol/enriched-fields.js';
import type { EnricherOptions } from './pipeline.js';

const COLLECTOR_MS = Date.UTC(2014, 3, 29, 9, 0, 54, 0);

function getPayload(query: string, extra: Partial<CollectorPayload> = {}): CollectorPayload {
  return {
    schema: COLLECTOR_PAYLOAD_SCHEMA,
    ipAddress: '10.0.0.1',
    timestamp: COLLECTOR_MS,
    encoding: 'UTF-8',
    collector: 'ssc-3.4.0-kafka',
    path: '/i',
    querystring: query,
    headers: [],
    ...extra,
  };
}

function postPayload(
  events: Array<Record<string, unknown>>,
  extra: Partial<CollectorPayload> = {},
): CollectorPayload {
  return getPayload('', {
    path: '/com.snowplowanalytics.snowplow/tp2',
    contentType: 'application/json; charset=utf-8',
    body: JSON.stringify({
      schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4',
      data: events,
    }),
    ...extra,
  });
}

/** Enriches and returns the good events as name → value maps (empty string = null). */
async function run(payloads: CollectorPayload[], shared: string, opts: Partial<EnricherOptions> = {}) {
  const { good, bad } = await enrichAll(sharedEnricher(shared, opts), payloads);
  const events = good.map((line) => {
    const values = line.split('\t');
    assert.equal(values.length, 131);
    return Object.fromEntries(FIELD_NAMES.map((n, i) => [n, values[i]])) as Record<string, string>;
  });
  return { events, bad, good };
}

const q = (params: Record<string, string>) =>
  new URLSearchParams({ e: 'pv', p: 'web', tv: 'js-4.10.1', ...params }).toString();

test('V1: event codes map to event names; unknown codes are atomic parse errors', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const codes: Record<string, string> = {
    pv: 'page_view',
    pp: 'page_ping',
    se: 'struct',
    ev: 'struct',
    tr: 'transaction',
    ti: 'transaction_item',
  };
  for (const [code, name] of Object.entries(codes)) {
    const { events } = await run([getPayload(q({ e: code }))], shared);
    assert.equal(events[0].event, name, code);
  }
  const { bad } = await run([getPayload(q({ e: 'evnt' }))], shared);
  assert.equal(bad.length, 1);
  assert.equal(
    bad[0].schema,
    'iglu:com.snowplowanalytics.snowplow.badrows/schema_violations/jsonschema/2-0-1',
  );
  assert.deepEqual(bad[0].data.failure.messages, [
    {
      schemaKey: 'iglu:com.snowplowanalytics.snowplow/atomic/jsonschema/1-0-0',
      error: {
        error: 'ValidationError',
        dataReports: [
          { message: 'Not a valid event type', path: 'e', keyword: 'atomic_field_parse_error', targets: [] },
        ],
      },
    },
  ]);
  assert.equal(bad[0].data.payload.enriched.event, null, 'the offending field is left unset');
  assert.deepEqual(
    bad[0].data.payload.raw.parameters.find((p: { name: string }) => p.name === 'e'),
    { name: 'e', value: 'evnt' },
  );
});

test('V2–V7, V10, V12: parameter conversions', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const { events, bad } = await run(
    [
      getPayload(
        q({
          e: 'se',
          dtm: '1735693323000',
          stm: '1',
          res: '42x420',
          ds: '43x430',
          vp: '44x440',
          f_pdf: '1',
          f_fla: '0',
          cookie: '1',
          eid: 'A729D278-110A-4AC6-845B-D1F12CE45AC7',
          sid: '6e6e6d0f-f191-4249-8ac8-469db39332a3',
          ev_va: '0.0000001',
          vid: '-42',
          tid: 'null',
          pp_mix: '42',
          uid: 'alex 123',
          page: 'Hi\t\u0002\u0000 \bJo\t',
          se_ca: '\b',
        }),
      ),
    ],
    shared,
  );
  assert.deepEqual(bad, []);
  const e = events[0];
  assert.equal(e.dvce_created_tstamp, '2025-01-01 01:02:03.000');
  assert.equal(e.dvce_sent_tstamp, '1970-01-01 00:00:00.001');
  assert.deepEqual([e.dvce_screenwidth, e.dvce_screenheight], ['42', '420']);
  assert.deepEqual([e.doc_width, e.doc_height], ['43', '430']);
  assert.deepEqual([e.br_viewwidth, e.br_viewheight], ['44', '440']);
  assert.deepEqual([e.br_features_pdf, e.br_features_flash, e.br_cookies], ['1', '0', '1']);
  assert.equal(e.event_id, 'a729d278-110a-4ac6-845b-d1f12ce45ac7');
  assert.equal(e.domain_sessionid, '6e6e6d0f-f191-4249-8ac8-469db39332a3');
  assert.equal(e.se_value, '1E-7');
  assert.equal(e.domain_sessionidx, '-42');
  assert.equal(e.txn_id, '');
  assert.equal(e.pp_xoffset_min, '42');
  assert.equal(e.user_id, 'alex 123');
  assert.equal(e.page_title, 'Hi     Jo    ');
  assert.equal(e.se_category, '', 'a value that sanitises to nothing is null');

  const failing = await run(
    [getPayload(q({ dtm: 'v', f_pdf: '2', res: '42', vid: 'x', se_va: 'abc', eid: 'nope' }))],
    shared,
  );
  assert.equal(failing.events.length, 0);
  const reports = failing.bad[0].data.failure.messages[0].error.dataReports as Array<{
    path: string;
    message: string;
  }>;
  assert.deepEqual(
    reports.map((r) => r.path),
    ['dtm', 'f_pdf', 'res', 'vid', 'se_va', 'eid'],
    'every bad parameter is reported, in order',
  );
  assert.equal(reports[0].message, 'Not in the expected format: ms since epoch');
  assert.equal(reports[1].message, 'Cannot be converted to Boolean-like java.lang.Byte');
  assert.equal(reports[2].message, 'Does not conform to regex (\\d+)x(\\d+)');
  assert.equal(reports[3].message, 'Cannot be converted to java.lang.Integer');
  assert.match(reports[4].message, /^Cannot be converted to java\.math\.BigDecimal\. Error : /);
  assert.equal(reports[5].message, 'Not a valid UUID');
});

test('V6: se_value keeps Java BigDecimal formatting', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const inputs = ['42', '42.5', '137777104559', '1E7', '1.2E9', '0.000001', '0.0000001'];
  const expected = ['42', '42.5', '137777104559', '10000000', '1200000000', '0.000001', '1E-7'];
  const { events } = await run(
    inputs.map((v) => getPayload(q({ e: 'se', ev_va: v }))),
    shared,
  );
  assert.deepEqual(
    events.map((e) => e.se_value),
    expected,
  );
});

test('V8, V9: network_userid and useragent precedence', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const cookie = 'e1c7a3a4-0000-4000-8000-000000000001';
  const { events } = await run(
    [
      getPayload(q({ nuid: 'from-nuid', tnuid: 'mytnuid' }), { networkUserId: cookie }),
      getPayload(q({ nuid: 'from-nuid' }), { networkUserId: cookie }),
      getPayload(q({}), { networkUserId: cookie, userAgent: 'Header-UA' }),
      getPayload(q({ ua: 'Param-UA' }), { userAgent: 'Header-UA' }),
    ],
    shared,
  );
  assert.deepEqual(
    events.map((e) => e.network_userid),
    ['mytnuid', 'from-nuid', cookie, ''],
  );
  assert.equal(events[2].useragent, 'Header-UA');
  assert.equal(events[3].useragent, 'Param-UA');
});

test('V17, V18: page URL and client IP precedence', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const referer = 'http://www.mysite.com/shop/session/_internal/checkout';
  const { events } = await run(
    [
      getPayload(q({ url: 'http://www.mysite.com/shop/checkout' }), { refererUri: referer }),
      getPayload(q({}), { refererUri: referer, headers: ['X-Forwarded-For: 129.78.138.66, 129.78.64.103'] }),
      getPayload(q({}), { headers: ['Forwarded: for=2.2.2.2', 'X-Forwarded-For: 1.1.1.1'] }),
      getPayload(q({ ip: '9.9.9.9,8.8.8.8' }), { headers: ['X-Forwarded-For: 1.1.1.1'] }),
      getPayload(q({}), { headers: ['X-Forwarded-For: localhost'] }),
    ],
    shared,
  );
  assert.equal(events[0].page_url, 'http://www.mysite.com/shop/checkout');
  assert.equal(events[1].page_url, referer);
  assert.equal(events[1].page_urlpath, '/shop/session/_internal/checkout');
  assert.deepEqual(
    events.map((e) => e.user_ipaddress),
    ['10.0.0.1', '129.78.138.66', '1.1.1.1', '9.9.9.9', '10.0.0.1'],
  );
});

test('V19–V22: derived_tstamp corrects device clock skew', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const ms = (s: string) => String(Date.parse(`${s.replace(' ', 'T')}Z`));
  const cases: Array<[Record<string, string>, string, string]> = [
    [
      { dtm: ms('2014-04-29 09:00:54.000'), stm: ms('2014-04-29 09:00:54.001') },
      '2014-04-29 09:00:54.000',
      '2014-04-29 09:00:53.999',
    ],
    [
      { dtm: ms('2024-06-15 09:00:00.000'), stm: ms('2024-06-15 09:00:00.010') },
      '2024-06-15 09:00:00.005',
      '2024-06-15 08:59:59.995',
    ],
    [
      { dtm: ms('2024-06-30 09:00:00.000'), stm: ms('2024-08-09 09:00:00.000') },
      '2024-08-09 11:30:00.000',
      '2024-06-30 11:30:00.000',
    ],
    [
      { dtm: ms('2014-04-29 09:00:54.001'), stm: ms('2014-04-29 09:00:54.000') },
      '2014-04-29 09:00:54.000',
      '2014-04-29 09:00:54.000',
    ],
    [{ dtm: ms('2014-04-29 09:00:54.001') }, '2014-04-29 09:00:54.000', '2014-04-29 09:00:54.000'],
    [
      { dtm: '1', stm: '2', ttm: ms('2000-01-01 00:00:00.000') },
      '2014-04-29 09:00:54.000',
      '2000-01-01 00:00:00.000',
    ],
  ];
  for (const [params, collector, derived] of cases) {
    const { events } = await run([getPayload(q(params), { timestamp: Number(ms(collector)) })], shared);
    assert.equal(events[0].derived_tstamp, derived, JSON.stringify(params));
  }
});

test('V23: a collector timestamp outside years 0–9999 is a schema violation', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const { events, bad } = await run([getPayload(q({}), { timestamp: Date.UTC(-30, 0, 1) })], shared);
  assert.equal(events.length, 0);
  const report = bad[0].data.failure.messages[0].error.dataReports[0];
  assert.equal(report.message, 'Formatted as -0030-01-01 00:00:00.000 is not Redshift-compatible');
});

test('V51: atomic parse errors and an invalid self-describing event are reported together', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const ue = {
    schema: 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0',
    data: {
      schema: 'iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1',
      data: { targetUrl: 'https://example.com', unallowedAdditionalField: 'x' },
    },
  };
  const { events, bad } = await run(
    [getPayload(q({ e: 'ue', tr_tt: 'not number', ue_pr: JSON.stringify(ue) }))],
    shared,
  );
  assert.equal(events.length, 0);
  assert.equal(
    bad[0].schema,
    'iglu:com.snowplowanalytics.snowplow.badrows/schema_violations/jsonschema/2-0-1',
  );
  const [atomic, link] = bad[0].data.failure.messages;
  assert.equal(atomic.error.dataReports[0].path, 'tr_tt');
  assert.match(atomic.error.dataReports[0].message, /^Cannot be converted to java\.math\.BigDecimal/);
  assert.equal(link.schemaKey, 'iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1');
  assert.equal(link.error.error, 'ValidationError');
  assert.match(link.error.dataReports[0].message, /unallowedAdditionalField: is not defined in the schema/);
  assert.equal(bad[0].data.processor.artifact, 'furrow-enrich');
});

test('contexts: invalid entities are dropped and reported, the wrapper is rewritten as 1-0-1', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const webPage = {
    schema: 'iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0',
    data: { id: 'a8c0e0f4-7d6b-4d6e-9c39-2f0d6a1b9e11' },
  };
  const co = { schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0', data: [webPage] };
  const good = await run([getPayload(q({ co: JSON.stringify(co) }))], shared);
  assert.equal(
    good.events[0].contexts,
    '{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1","data":[{"schema":"iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0","data":{"id":"a8c0e0f4-7d6b-4d6e-9c39-2f0d6a1b9e11"}}]}',
  );
  const bad = await run(
    [
      getPayload(
        q({
          cx: Buffer.from(JSON.stringify({ ...co, data: [webPage, { ...webPage, data: {} }] })).toString(
            'base64url',
          ),
        }),
      ),
    ],
    shared,
  );
  assert.equal(bad.events.length, 0);
  const msg = bad.bad[0].data.failure.messages;
  assert.equal(msg.length, 1);
  assert.equal(msg[0].schemaKey, 'iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0');
  assert.equal(
    bad.bad[0].data.payload.enriched.contexts,
    good.events[0].contexts,
    'the valid entity is kept on the partially enriched event',
  );
  const notJson = await run([getPayload(q({ co: '{not json' }))], shared);
  assert.equal(notJson.bad[0].data.failure.messages[0].field, 'contexts');
  assert.match(notJson.bad[0].data.failure.messages[0].error, /^invalid json: /);
  const notIglu = await run([getPayload(q({ ue_pr: '{"foo":1}' }))], shared);
  assert.deepEqual(notIglu.bad[0].data.failure.messages[0], {
    json: { foo: 1 },
    error: 'INVALID_DATA_PAYLOAD',
  });
  const wrongWrapper = await run([getPayload(q({ ue_pr: JSON.stringify(co) }))], shared);
  assert.deepEqual(wrongWrapper.bad[0].data.failure.messages[0], {
    schemaKey: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0',
    schemaCriterion: 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-*',
  });
});

test('V53: over-long atomic fields are schema violations unless acceptInvalid', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const payload = getPayload(q({ tv: 'x'.repeat(101) }));
  const rejected = await run([payload], shared);
  assert.equal(rejected.events.length, 0);
  assert.deepEqual(rejected.bad[0].data.failure.messages[0].error.dataReports, [
    {
      message: 'Field is longer than maximum allowed size 100',
      path: 'v_tracker',
      keyword: 'atomic_field_length_exceeded',
      targets: [],
    },
  ]);
  const accepted = await run([payload], shared, { acceptInvalid: true });
  assert.equal(accepted.events[0].v_tracker.length, 101);
});

test('V54: an event without `e` is an enrichment failure; phase-1 errors take precedence', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const noEvent = await run([getPayload('p=web&tv=js-4.10.1')], shared);
  assert.equal(
    noEvent.bad[0].schema,
    'iglu:com.snowplowanalytics.snowplow.badrows/enrichment_failures/jsonschema/2-0-1',
  );
  assert.deepEqual(noEvent.bad[0].data.failure.messages, [
    {
      enrichment: null,
      message: {
        field: 'event',
        value: null,
        expectation:
          "trying to extract the schema of the enriched event but event type [null] doesn't match any of page_view, page_ping, struct, transaction, transaction_item and unstruct",
      },
    },
  ]);
  const both = await run([getPayload('p=web&tv=js&dtm=x')], shared);
  assert.equal(
    both.bad[0].schema,
    'iglu:com.snowplowanalytics.snowplow.badrows/schema_violations/jsonschema/2-0-1',
  );
  assert.equal(both.bad[0].data.failure.messages.length, 1, 'only the first category is reported');
  const ad = await run([getPayload(q({ e: 'ad' }))], shared);
  assert.equal(ad.bad[0].data.failure.messages[0].message.value, 'ad_impression');
});

test('one bad event in a POST batch does not affect the others', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const base = { e: 'pv', p: 'web', tv: 'js-4.10.1' };
  const { events, bad } = await run(
    [
      postPayload([
        { ...base, aid: 'one' },
        { ...base, aid: 'two', dtm: 'bad' },
        { ...base, aid: 'three' },
      ]),
    ],
    shared,
  );
  assert.deepEqual(
    events.map((e) => e.app_id),
    ['one', 'three'],
  );
  assert.equal(bad.length, 1);
  assert.equal(bad[0].data.payload.enriched.app_id, 'two');
});

test('POST query-string parameters override body values', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const { events } = await run(
    [postPayload([{ e: 'pv', p: 'web', tv: 'js', aid: 'body' }], { querystring: 'aid=query' })],
    shared,
  );
  assert.equal(events[0].app_id, 'query');
});

test('V56: bytes that are not Thrift become collector_payload_format_violation', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const enricher = sharedEnricher(shared);
  const out = { good: [] as string[], bad: [] as string[] };
  const bytes = Buffer.from('not thrift at all');
  await enricher.processRecord(bytes, out, Date.UTC(2025, 0, 1));
  assert.equal(out.good.length, 0);
  const row = JSON.parse(out.bad[0]);
  assert.equal(
    row.schema,
    'iglu:com.snowplowanalytics.snowplow.badrows/collector_payload_format_violation/jsonschema/1-0-0',
  );
  assert.equal(row.data.failure.loader, 'thrift');
  assert.deepEqual(row.data.failure.message, {
    error: 'error deserializing raw event: Unrecognized type 110',
  });
  assert.equal(row.data.payload, bytes.toString('base64'));
});

test('collector payload checks: path and network user id', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const { bad } = await run(
    [getPayload(q({}), { path: '/a/b/c' }), getPayload(q({}), { networkUserId: 'abc' })],
    shared,
  );
  assert.deepEqual(bad[0].data.failure.message, {
    payloadField: 'path',
    value: '/a/b/c',
    expectation: 'path does not match (/)vendor/version(/) nor is a legacy /i(ce.png) request',
  });
  assert.deepEqual(bad[1].data.failure.message, {
    payloadField: 'networkUserId',
    value: 'abc',
    expectation: 'not valid UUID',
  });
});

test('V57: an enriched event over the sink limit becomes a size_violation', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const { events, bad, good } = await run([getPayload(q({ page: 'p'.repeat(1500) }))], shared, {
    maxRecordSize: 1000,
  });
  assert.equal(events.length + good.length, 0);
  assert.equal(bad[0].schema, 'iglu:com.snowplowanalytics.snowplow.badrows/size_violation/jsonschema/1-0-0');
  assert.equal(bad[0].data.failure.maximumAllowedSizeBytes, 1000);
  assert.ok(bad[0].data.failure.actualSizeBytes > 1500);
  assert.equal(
    bad[0].data.failure.expectation,
    'Enriched event exceeds the maximum allowed size of 1000 bytes',
  );
  assert.equal(bad[0].data.payload.length, 100);
});

test('event, v_etl, etl_tstamp and collector fields are always set', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const { events } = await run([getPayload(q({}))], shared);
  const e = events[0];
  assert.equal(e.v_etl, 'furrow-enrich-0.1.0');
  assert.equal(e.etl_tstamp, '2025-01-01 00:00:00.000');
  assert.equal(e.collector_tstamp, '2014-04-29 09:00:54.000');
  assert.equal(e.v_collector, 'ssc-3.4.0-kafka');
  assert.equal(e.event_vendor, 'com.snowplowanalytics.snowplow');
  assert.equal(e.event_format, 'jsonschema');
});
