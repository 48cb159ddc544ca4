import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sdk from 'snowplow-analytics-sdk';
import { F, FIELD_COUNT, FIELD_NAMES } from './enriched-fields.js';
import {
  CONTEXTS_WRAPPER_SCHEMA,
  EnrichedLineError,
  EVENT_JSON_KEYS,
  shredKey,
  toCanonicalEventJson,
  toLossyEventJson,
  tsvTimestampToIso,
  tsvTimestampToMs,
  UNSTRUCT_EVENT_WRAPPER_SCHEMA,
} from './event-json.js';

const WEB_PAGE = {
  schema: 'iglu:org.schema/WebPage/jsonschema/1-0-0',
  data: { genre: 'blog', keywords: ['a', 'b'] },
};
const PERF = {
  schema: 'iglu:org.w3/PerformanceTiming/jsonschema/1-0-0',
  data: { navigationStart: 1415358089861 },
};
const UA = {
  schema: 'iglu:com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-0',
  data: { useragentFamily: 'IE', useragentPatch: null },
};
const LINK_CLICK = {
  schema: 'iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-0',
  data: { targetUrl: 'http://www.example.com', elementId: 'exampleLink', elementClasses: ['foreground'] },
};

/** The V47 event of the spec (analytics-SDK snapshot), as an enriched TSV line. */
function v47Line(): string {
  const f = new Array<string>(FIELD_COUNT).fill('');
  f[F.app_id] = 'angry-birds';
  f[F.platform] = 'web';
  f[F.etl_tstamp] = '2017-01-26 00:01:25.292';
  f[F.collector_tstamp] = '2013-11-26 00:02:05';
  f[F.dvce_created_tstamp] = '2013-11-26 00:03:57.885';
  f[F.event] = 'unstruct';
  f[F.event_id] = 'c6ef3124-b53a-4b13-a233-0088f79dcbcb';
  f[F.txn_id] = '41828';
  f[F.v_collector] = 'ssc-3.2.0-stdout';
  f[F.v_etl] = 'furrow-0.1.0';
  f[F.domain_sessionidx] = '3';
  f[F.geo_latitude] = '37.443604';
  f[F.geo_longitude] = '-122.4124';
  f[F.page_urlport] = '80';
  f[F.contexts] = JSON.stringify({
    schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0',
    data: [WEB_PAGE, PERF],
  });
  f[F.unstruct_event] = JSON.stringify({ schema: UNSTRUCT_EVENT_WRAPPER_SCHEMA, data: LINK_CLICK });
  f[F.br_features_pdf] = '1';
  f[F.br_features_flash] = '0';
  f[F.se_value] = '42.5';
  f[F.derived_contexts] = JSON.stringify({
    schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1',
    data: [UA],
  });
  f[F.derived_tstamp] = '2013-11-26 00:03:57.780';
  f[F.event_vendor] = 'com.snowplowanalytics.snowplow';
  f[F.event_name] = 'link_click';
  f[F.event_format] = 'jsonschema';
  f[F.event_version] = '1-0-0';
  return f.join('\t');
}

function emptyLine(): string {
  const f = new Array<string>(FIELD_COUNT).fill('');
  f[F.collector_tstamp] = '2021-08-29 12:01:05.000';
  f[F.event_id] = 'a729d278-110a-4ac6-845b-d1f12ce45ac7';
  return f.join('\t');
}

describe('tsvTimestampToIso', () => {
  it('prints like java.time.Instant.toString', () => {
    assert.equal(tsvTimestampToIso('2021-08-29 12:01:05.787'), '2021-08-29T12:01:05.787Z');
    assert.equal(tsvTimestampToIso('2021-08-29 12:01:05.780'), '2021-08-29T12:01:05.780Z');
    assert.equal(tsvTimestampToIso('2021-08-29 12:01:05.000'), '2021-08-29T12:01:05Z');
    assert.equal(tsvTimestampToIso('2013-11-26 00:02:05'), '2013-11-26T00:02:05Z');
    assert.equal(tsvTimestampToIso('2013-11-26 00:02:05.5'), '2013-11-26T00:02:05.500Z');
    assert.equal(tsvTimestampToIso('2013-11-26 00:02:05.000001'), '2013-11-26T00:02:05.000001Z');
  });
  it('leaves non-timestamps alone', () => {
    assert.equal(tsvTimestampToIso('yesterday'), 'yesterday');
  });
  it('parses to epoch ms, years below 100 included', () => {
    assert.equal(tsvTimestampToMs('2021-08-29 12:01:05.787'), Date.UTC(2021, 7, 29, 12, 1, 5, 787));
    assert.equal(tsvTimestampToMs('0050-01-01 00:00:00.000'), -60589296000000);
    assert.equal(tsvTimestampToMs('nope'), null);
  });
});

describe('shredKey', () => {
  it('mangles vendor and name like the Scala analytics SDK', () => {
    assert.equal(
      shredKey('contexts', 'iglu:org.w3/PerformanceTiming/jsonschema/1-0-0'),
      'contexts_org_w3_performance_timing_1',
    );
    assert.equal(
      shredKey('contexts', 'iglu:org.schema/WebPage/jsonschema/1-0-0'),
      'contexts_org_schema_web_page_1',
    );
    assert.equal(
      shredKey('unstruct_event', 'iglu:com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0'),
      'unstruct_event_com_snowplowanalytics_self_desc_schema_1',
    );
    assert.equal(
      shredKey('contexts', 'iglu:com.acme/HTTPHeader/jsonschema/12-1-0'),
      'contexts_com_acme_httpheader_12',
    );
    assert.equal(
      shredKey('contexts', 'iglu:com.acme/my-thing.v2/jsonschema/2-0-0'),
      'contexts_com_acme_my_thing_v2_2',
    );
    assert.equal(shredKey('contexts', 'not-a-uri'), null);
  });
});

describe('toCanonicalEventJson', () => {
  it('has all 131 keys in TSV order, with the SDK name for refr_dvce_tstamp', () => {
    const ev = toCanonicalEventJson(v47Line());
    const keys = Object.keys(ev);
    assert.equal(keys.length, 131);
    assert.deepEqual(keys, EVENT_JSON_KEYS);
    assert.deepEqual(
      keys.map((k) => (k === 'refr_device_tstamp' ? 'refr_dvce_tstamp' : k)),
      FIELD_NAMES,
    );
  });

  it('types values as the analytics SDK does (V47)', () => {
    const ev = toCanonicalEventJson(v47Line());
    assert.equal(ev.collector_tstamp, '2013-11-26T00:02:05Z');
    assert.equal(ev.etl_tstamp, '2017-01-26T00:01:25.292Z');
    assert.equal(ev.derived_tstamp, '2013-11-26T00:03:57.780Z');
    assert.equal(ev.br_features_pdf, true);
    assert.equal(ev.br_features_flash, false);
    assert.equal(ev.br_cookies, null);
    assert.equal(ev.txn_id, 41828);
    assert.equal(ev.domain_sessionidx, 3);
    assert.equal(ev.page_urlport, 80);
    assert.equal(ev.se_value, 42.5);
    assert.equal(ev.geo_latitude, 37.443604);
    assert.equal(ev.geo_longitude, -122.4124);
    assert.equal(ev.app_id, 'angry-birds');
    assert.equal(ev.user_id, null);
    assert.equal(ev.refr_device_tstamp, null);
  });

  it('wraps entities in contexts/1-0-0 and the event in unstruct_event/1-0-0', () => {
    const ev = toCanonicalEventJson(v47Line());
    assert.deepEqual(ev.contexts, { schema: CONTEXTS_WRAPPER_SCHEMA, data: [WEB_PAGE, PERF] });
    assert.deepEqual(ev.derived_contexts, { schema: CONTEXTS_WRAPPER_SCHEMA, data: [UA] });
    assert.deepEqual(ev.unstruct_event, { schema: UNSTRUCT_EVENT_WRAPPER_SCHEMA, data: LINK_CLICK });
    // Key order of the wrappers is part of what suites print and diff.
    assert.equal(
      JSON.stringify(ev.unstruct_event),
      `{"schema":"${UNSTRUCT_EVENT_WRAPPER_SCHEMA}","data":${JSON.stringify(LINK_CLICK)}}`,
    );
  });

  it('uses {} for empty contexts and null for a missing unstruct_event', () => {
    const ev = toCanonicalEventJson(emptyLine());
    assert.deepEqual(ev.contexts, {});
    assert.deepEqual(ev.derived_contexts, {});
    assert.equal(ev.unstruct_event, null);
    assert.equal(ev.collector_tstamp, '2021-08-29T12:01:05Z');
    assert.equal(Object.values(ev).filter((v) => v === null).length, 131 - 4);
  });

  it('rejects lines without 131 fields, tolerates a trailing newline', () => {
    assert.throws(() => toCanonicalEventJson('a\tb'), EnrichedLineError);
    assert.equal(toCanonicalEventJson(`${emptyLine()}\n`).event_id, 'a729d278-110a-4ac6-845b-d1f12ce45ac7');
  });

  it('keeps unparseable scalar text instead of dropping the event', () => {
    const f = emptyLine().split('\t');
    f[F.txn_id] = 'x';
    f[F.br_cookies] = 'maybe';
    const ev = toCanonicalEventJson(f.join('\t'));
    assert.equal(ev.txn_id, 'x');
    assert.equal(ev.br_cookies, 'maybe');
  });
});

describe('toLossyEventJson', () => {
  it('shreds entities and the event (V47)', () => {
    const ev = toLossyEventJson(v47Line());
    assert.deepEqual(ev.contexts_org_schema_web_page_1, [{ ...WEB_PAGE.data, _schema_version: '1-0-0' }]);
    assert.deepEqual(ev.contexts_org_w3_performance_timing_1, [{ ...PERF.data, _schema_version: '1-0-0' }]);
    assert.deepEqual(ev.contexts_com_snowplowanalytics_snowplow_ua_parser_context_1, [
      { ...UA.data, _schema_version: '1-0-0' },
    ]);
    assert.deepEqual(ev.unstruct_event_com_snowplowanalytics_snowplow_link_click_1, LINK_CLICK.data);
    assert.equal(ev.geo_location, '37.443604,-122.4124');
    assert.equal(ev.collector_tstamp, '2013-11-26T00:02:05Z');
    assert.equal(ev.br_features_pdf, true);
    assert.equal(ev.br_features_flash, false);
    assert.ok(!('contexts' in ev) && !('derived_contexts' in ev) && !('unstruct_event' in ev));
    assert.equal(ev.user_id, null);
  });

  it('groups repeated schemas; derived_contexts replaces the same key from contexts', () => {
    const f = emptyLine().split('\t');
    const a = (n: number) => ({ schema: 'iglu:com.acme/thing/jsonschema/1-0-0', data: { n } });
    f[F.contexts] = JSON.stringify({
      schema: CONTEXTS_WRAPPER_SCHEMA,
      data: [a(1), a(2), { ...a(3), schema: 'iglu:com.acme/thing/jsonschema/1-1-0' }],
    });
    f[F.derived_contexts] = JSON.stringify({
      schema: CONTEXTS_WRAPPER_SCHEMA,
      data: [{ schema: 'iglu:com.acme/other/jsonschema/2-0-0', data: 'x' }],
    });
    let ev = toLossyEventJson(f.join('\t'));
    assert.deepEqual(ev.contexts_com_acme_thing_1, [
      { n: 1, _schema_version: '1-0-0' },
      { n: 2, _schema_version: '1-0-0' },
      { n: 3, _schema_version: '1-1-0' },
    ]);
    assert.deepEqual(ev.contexts_com_acme_other_2, [{ _schema_version: '2-0-0' }]);
    f[F.derived_contexts] = JSON.stringify({ schema: CONTEXTS_WRAPPER_SCHEMA, data: [a(9)] });
    ev = toLossyEventJson(f.join('\t'));
    assert.deepEqual(ev.contexts_com_acme_thing_1, [{ n: 9, _schema_version: '1-0-0' }]);
    assert.ok(!('geo_location' in ev));
  });

  it('agrees with the official JS analytics SDK apart from its documented differences', () => {
    const line = v47Line();
    const ours = toLossyEventJson(line);
    const theirs = sdk.transform(line) as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(theirs)) {
      let expected = v;
      // The JS SDK keeps se_value as text and adds no `_schema_version`. Its timestamps would differ only
      // for a `.000` fraction (it keeps it, Instant.toString drops it), which V47 does not have.
      if (k === 'se_value') expected = Number(v);
      let actual = ours[k];
      if (k.startsWith('contexts_'))
        actual = (actual as Record<string, unknown>[]).map(({ _schema_version, ...rest }) => rest);
      assert.deepEqual(actual, expected, k);
    }
    const nonNull = Object.keys(ours).filter((k) => ours[k] !== null);
    assert.deepEqual(nonNull.sort(), Object.keys(theirs).sort());
  });
});
