import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { F, FIELD_COUNT } from '../../protocol/enriched-fields.js';
import { isTstamp } from '../tsv.js';
import { checkLine, encodeLine, LOADER_PROCESSOR, parseTstamp, toColumnValues } from './encoder.js';

const CONTEXTS =
  '{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1","data":[{"schema":"iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0","data":{"id":"b1f2"}}]}';
const UNSTRUCT =
  '{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{"schema":"iglu:com.acme/click/jsonschema/1-0-0","data":{"x":1}}}';

function fields(overrides: Partial<Record<keyof typeof F, string>> = {}): string[] {
  const f = new Array<string>(FIELD_COUNT).fill('');
  f[F.collector_tstamp] = '2014-02-02 22:01:20.941';
  f[F.event_id] = 'c6ef3124-b53a-4b13-a233-0088f79dcbcb';
  f[F.v_collector] = 'ssc-2.0.0';
  f[F.v_etl] = 'furrow-enrich-0.1.0';
  for (const [k, v] of Object.entries(overrides)) f[F[k as keyof typeof F]] = v as string;
  return f;
}
const line = (o: Partial<Record<keyof typeof F, string>> = {}) => fields(o).join('\t');

function decodingErrors(l: string) {
  const r = checkLine(l);
  assert.equal(r.ok, false);
  if (r.ok || r.failure.type !== 'RowDecodingError')
    throw new Error(`expected RowDecodingError, got ${JSON.stringify(r)}`);
  return r.failure.errors;
}

describe('duckdb encoder', () => {
  it('turns a full line into typed column values', () => {
    const r = encodeLine(
      line({
        app_id: 'shop',
        etl_tstamp: '2014-02-02T22:01:21.5',
        txn_id: '-42',
        geo_latitude: '51.0',
        se_value: '7.51E-9',
        tr_total: '1999.00',
        br_features_pdf: '1',
        br_cookies: '0',
        contexts: CONTEXTS,
        unstruct_event: UNSTRUCT,
        event_id: 'C6EF3124-B53A-4B13-A233-0088F79DCBCB',
        true_tstamp: '1900-01-01 00:00:00.000',
      }),
    );
    assert.ok(r.ok);
    const v = r.values;
    assert.equal(v.length, FIELD_COUNT);
    assert.equal(v[F.app_id], 'shop');
    assert.equal(v[F.platform], null);
    assert.equal(v[F.collector_tstamp], BigInt(Date.UTC(2014, 1, 2, 22, 1, 20, 941)) * 1000n);
    assert.equal(v[F.etl_tstamp], BigInt(Date.UTC(2014, 1, 2, 22, 1, 21, 500)) * 1000n);
    assert.equal(v[F.true_tstamp], BigInt(Date.UTC(1900, 0, 1)) * 1000n);
    assert.equal(v[F.txn_id], -42);
    assert.equal(v[F.geo_latitude], 51);
    assert.equal(v[F.se_value], 7.51e-9);
    assert.equal(v[F.tr_total], 1999);
    assert.equal(v[F.br_features_pdf], true);
    assert.equal(v[F.br_cookies], false);
    assert.equal(v[F.event_id], 'c6ef3124-b53a-4b13-a233-0088f79dcbcb');
    assert.equal(v[F.contexts], CONTEXTS);
    assert.equal(v[F.unstruct_event], UNSTRUCT);
  });

  it('parses timestamps to µs without the Date 0–99 year quirk, keeping µs and truncating ns', () => {
    assert.equal(parseTstamp('1970-01-01 00:00:00'), 0n);
    assert.equal(parseTstamp('0001-01-01 00:00:00.000'), -62135596800000000n);
    assert.equal(
      parseTstamp('2024-02-29 12:00:00.123456789'),
      BigInt(Date.UTC(2024, 1, 29, 12)) * 1000n + 123456n,
    );
    for (const bad of [
      '2023-02-29 00:00:00',
      '2014-13-01 00:00:00',
      '2014-01-01 24:00:00',
      '2014-01-01 23:59:60',
      '2014-01-01',
      '2014-01-01 00:00:00Z',
      '2014-01-01 00:00:00.',
    ])
      assert.equal(parseTstamp(bad), undefined, bad);
  });

  it('isTstamp and parseTstamp agree with a reference built on the regex grammar and Date', () => {
    // the grammar of the docs, and dates checked by Date (setUTCFullYear: no 0–99 year quirk)
    const GRAMMAR = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/;
    const reference = (v: string): bigint | undefined => {
      const m = GRAMMAR.exec(v);
      if (m === null) return undefined;
      const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number);
      const dt = new Date(0);
      dt.setUTCFullYear(y, mo - 1, d);
      dt.setUTCHours(h, mi, sec, 0);
      const exact =
        dt.getUTCFullYear() === y &&
        dt.getUTCMonth() === mo - 1 &&
        dt.getUTCDate() === d &&
        dt.getUTCHours() === h &&
        dt.getUTCMinutes() === mi &&
        dt.getUTCSeconds() === sec;
      if (!exact) return undefined;
      return BigInt(dt.getTime()) * 1000n + BigInt((m[7] ?? '').padEnd(9, '0').slice(0, 6));
    };
    const seeds = [
      '2014-02-02 22:01:20.941',
      '2024-02-29T12:00:00.123456789',
      '0000-01-01 00:00:00',
      '2023-02-28 23:59:59.1',
      '2100-02-29 00:00:00',
      '2000-02-29 00:00:00',
    ];
    const values = new Set<string>(seeds);
    // Each seed with every position replaced by a few characters, cut short and extended.
    for (const s of seeds) {
      for (let i = 0; i < s.length; i++) {
        for (const c of ['0', '1', '2', '3', '9', '-', ':', ' ', 'T', '.', 'x', '+']) {
          values.add(s.slice(0, i) + c + s.slice(i + 1));
        }
        values.add(s.slice(0, i));
      }
      values.add(`${s}0`);
      values.add(`${s}.5`);
      values.add(`${s}0123456789`);
    }
    let accepted = 0;
    for (const v of values) {
      const expected = reference(v);
      assert.equal(parseTstamp(v), expected, v);
      assert.equal(isTstamp(v), expected !== undefined, v);
      if (expected !== undefined) accepted++;
    }
    assert.ok(accepted > 20 && accepted < values.size - 100);
  });

  it('NotTSV for a line without tabs, FieldNumberMismatch with the count otherwise', () => {
    assert.deepEqual(checkLine('just text'), { ok: false, failure: { type: 'NotTSV' } });
    assert.deepEqual(checkLine(`${line()}\textra`), {
      ok: false,
      failure: { type: 'FieldNumberMismatch', fieldCount: 132 },
    });
    assert.deepEqual(checkLine(fields().slice(0, 130).join('\t')), {
      ok: false,
      failure: { type: 'FieldNumberMismatch', fieldCount: 130 },
    });
  });

  it('requires collector_tstamp, event_id, v_collector, v_etl', () => {
    const errors = decodingErrors(line({ collector_tstamp: '', event_id: '', v_collector: '', v_etl: '' }));
    assert.deepEqual(
      errors.map((e) => (e.type === 'InvalidValue' ? [e.key, e.message] : [])),
      [
        ['collector_tstamp', 'Field collector_tstamp cannot be empty'],
        ['event_id', 'Field event_id cannot be empty'],
        ['v_collector', 'Field v_collector cannot be empty'],
        ['v_etl', 'Field v_etl cannot be empty'],
      ],
    );
  });

  it('collects every invalid value with the Scala SDK message', () => {
    const errors = decodingErrors(
      line({
        br_features_java: 'true',
        txn_id: '2147483648',
        doc_width: '1.5',
        tr_tax: 'abc',
        geo_longitude: 'NaN',
        dvce_sent_tstamp: '2014-02-30 00:00:00.000',
        event_id: '1-1-1-1-1',
      }),
    );
    assert.deepEqual(errors, [
      {
        type: 'InvalidValue',
        key: 'event_id',
        value: '1-1-1-1-1',
        message: 'Cannot parse key event_id into UUID',
      },
      {
        type: 'InvalidValue',
        key: 'txn_id',
        value: '2147483648',
        message: 'Cannot parse key txn_id into integer',
      },
      {
        type: 'InvalidValue',
        key: 'geo_longitude',
        value: 'NaN',
        message: 'Cannot parse key geo_longitude into double',
      },
      { type: 'InvalidValue', key: 'tr_tax', value: 'abc', message: 'Cannot parse key tr_tax into double' },
      {
        type: 'InvalidValue',
        key: 'br_features_java',
        value: 'true',
        message: 'Cannot parse key br_features_java into boolean',
      },
      {
        type: 'InvalidValue',
        key: 'doc_width',
        value: '1.5',
        message: 'Cannot parse key doc_width into integer',
      },
      {
        type: 'InvalidValue',
        key: 'dvce_sent_tstamp',
        value: '2014-02-30 00:00:00.000',
        message: 'Cannot parse key dvce_sent_tstamp into datetime',
      },
    ]);
  });

  it('checks the JSON columns like the SDK decoders', () => {
    const cases: Array<[keyof typeof F, string, RegExp]> = [
      ['contexts', '{"schema":', /^ParsingFailure/],
      ['contexts', '[1,2]', /not a self-describing/],
      ['contexts', UNSTRUCT, /^Unknown payload: iglu:com.snowplowanalytics.snowplow\/unstruct_event/],
      [
        'contexts',
        '{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1","data":{}}',
        /expected an array/,
      ],
      [
        'contexts',
        '{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1","data":[{"data":1}]}',
        /\.data\[0\]/,
      ],
      ['unstruct_event', CONTEXTS, /^Unknown payload/],
      [
        'unstruct_event',
        '{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{"x":1}}',
        /\.data/,
      ],
      ['derived_contexts', '{"schema":"not-iglu","data":[]}', /invalid Iglu URI/],
      ['derived_contexts', CONTEXTS.replace('b1f2', '\\ud800'), /lone UTF-16 surrogate/],
    ];
    for (const [key, value, message] of cases) {
      const [e] = decodingErrors(line({ [key]: value }));
      assert.ok(e.type === 'InvalidValue');
      assert.equal(e.key, key);
      assert.equal(e.value, value);
      assert.match(e.message, message, `${key}: ${value}`);
    }
    assert.ok(checkLine(line({ derived_contexts: CONTEXTS.replace('b1f2', '\\ud83d\\ude00') })).ok);
  });

  it('refuses line breaks, which the staged TSV cannot carry', () => {
    const [e] = decodingErrors(line({ page_title: 'a\nb' }));
    assert.ok(e.type === 'InvalidValue' && e.key === 'page_title');
  });

  it('wraps failures in a loader_parsing_error bad row with the raw line as payload', () => {
    const r = encodeLine('a\tb');
    assert.ok(!r.ok);
    assert.deepEqual(r.badRow, {
      schema: 'iglu:com.snowplowanalytics.snowplow.badrows/loader_parsing_error/jsonschema/2-0-0',
      data: {
        processor: { artifact: 'furrow-loader-duckdb', version: LOADER_PROCESSOR.version },
        failure: { type: 'FieldNumberMismatch', fieldCount: 2 },
        payload: 'a\tb',
      },
    });
    assert.equal(Object.keys(r.badRow.data).join(), 'processor,failure,payload');
  });

  it('toColumnValues maps every empty field to null', () => {
    const v = toColumnValues(new Array<string>(FIELD_COUNT).fill(''));
    assert.ok(v.every((x) => x === null));
  });
});
