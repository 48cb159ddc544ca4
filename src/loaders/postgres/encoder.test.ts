import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { F, FIELD_COUNT } from '../../protocol/enriched-fields.js';
import { copyRow, encodeLine, LOADER_PROCESSOR, pgDouble, pgTimestamp, truncateChars } from './encoder.js';
import { ATOMIC_COLUMNS } from './schema.js';

const CTX = (entities: string) =>
  `{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1","data":[${entities}]}`;
const WEB_PAGE =
  '{"schema":"iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0","data":{"id":"b1f2"}}';
const UNSTRUCT =
  '{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{"schema":"iglu:com.acme/click/jsonschema/1-0-0","data":{"x":1}}}';

function line(overrides: Partial<Record<keyof typeof F, string>> = {}): string {
  const f = new Array<string>(FIELD_COUNT).fill('');
  f[F.collector_tstamp] = '2014-02-02 22:01:20.941';
  f[F.event_id] = 'C6EF3124-B53A-4B13-A233-0088F79DCBCB';
  f[F.v_collector] = 'ssc-2.0.0';
  f[F.v_etl] = 'furrow-enrich-0.1.0';
  for (const [k, v] of Object.entries(overrides)) f[F[k as keyof typeof F]] = v as string;
  return f.join('\t');
}

function ok(l: string, columns?: Map<string, string>) {
  const r = encodeLine(l, { columns });
  if (!r.ok) throw new Error(`rejected: ${JSON.stringify(r.badRow)}`);
  return r.event;
}

function atomic(l: string): Map<string, string> {
  const values = ok(l).atomic.split('\t');
  assert.equal(values.length, ATOMIC_COLUMNS.length);
  return new Map(ATOMIC_COLUMNS.map((c, i) => [c.name, values[i]]));
}

describe('postgres encoder', () => {
  it('keeps the 128 atomic fields in order, without the JSON columns', () => {
    const a = atomic(
      line({ app_id: 'shop', br_features_pdf: '1', geo_latitude: '51.0', contexts: CTX(WEB_PAGE) }),
    );
    assert.equal(a.size, 128);
    assert.equal(a.get('app_id'), 'shop');
    assert.equal(a.get('collector_tstamp'), '2014-02-02 22:01:20.941');
    assert.equal(a.get('br_features_pdf'), '1');
    assert.equal(a.get('geo_latitude'), '51.0');
    assert.equal(a.get('user_id'), '', "empty = NULL under COPY … NULL ''");
    assert.ok(!a.has('contexts'));
  });

  it('gives the same atomic text whether it is sliced from the line or re-joined after a rewrite', () => {
    const base = {
      app_id: 'shop',
      contexts: CTX(WEB_PAGE),
      unstruct_event: UNSTRUCT,
      derived_contexts: CTX(WEB_PAGE),
      true_tstamp: '2014-02-02 22:01:21.000',
    };
    const plain = ok(line(base)).atomic;
    assert.equal(
      plain,
      line(base)
        .split('\t')
        .filter((_, i) => ATOMIC_COLUMNS.some((c) => c.field === i))
        .join('\t'),
    );
    // os_timezone is VARCHAR(50): a longer value forces the re-join path, which must differ only there.
    const rewritten = ok(line({ ...base, os_timezone: 'x'.repeat(60) })).atomic.split('\t');
    const at = ATOMIC_COLUMNS.findIndex((c) => c.name === 'os_timezone');
    assert.equal(rewritten[at], 'x'.repeat(50));
    rewritten[at] = '';
    assert.equal(rewritten.join('\t'), plain);
  });

  it('lowercases the event_id used for dedupe', () => {
    assert.equal(ok(line()).eventId, 'c6ef3124-b53a-4b13-a233-0088f79dcbcb');
  });

  it('rejects what the analytics SDK rejects, as loader_parsing_error bad rows', () => {
    for (const [l, type] of [
      ['hello', 'NotTSV'],
      ['a\tb', 'FieldNumberMismatch'],
      [line({ collector_tstamp: '' }), 'RowDecodingError'],
      [line({ br_cookies: 'true' }), 'RowDecodingError'],
      [line({ contexts: '{"schema":"iglu:com.acme/x/jsonschema/1-0-0","data":[]}' }), 'RowDecodingError'],
    ] as const) {
      const r = encodeLine(l);
      assert.equal(r.ok, false, l);
      if (r.ok) continue;
      assert.equal(
        r.badRow.schema,
        'iglu:com.snowplowanalytics.snowplow.badrows/loader_parsing_error/jsonschema/2-0-0',
      );
      assert.equal(r.badRow.data.failure.type, type);
      assert.equal(r.badRow.data.payload, l);
      assert.deepEqual(r.badRow.data.processor, LOADER_PROCESSOR);
    }
  });

  it('rejects what PostgreSQL cannot store: NUL characters and \\u0000 in JSON', () => {
    const nul = encodeLine(line({ page_title: 'a\u0000b' }));
    assert.equal(nul.ok, false);
    if (!nul.ok && nul.badRow.data.failure.type === 'RowDecodingError') {
      assert.equal(nul.badRow.data.failure.errors[0].type, 'InvalidValue');
      assert.match(JSON.stringify(nul.badRow.data.failure.errors[0]), /page_title.*NUL/);
    }
    const esc = encodeLine(
      line({ contexts: CTX('{"schema":"iglu:com.acme/x/jsonschema/1-0-0","data":{"s":"\\u0000"}}') }),
    );
    assert.equal(esc.ok, false);
    // an escaped backslash followed by "u0000" is just text
    ok(line({ contexts: CTX('{"schema":"iglu:com.acme/x/jsonschema/1-0-0","data":{"s":"\\\\u0000"}}') }));
  });

  it('adapts values PostgreSQL parses differently: year 0000, float8 range, column widths', () => {
    const a = atomic(
      line({
        dvce_created_tstamp: '0000-01-01 00:00:00.000',
        tr_total: '1e400',
        tr_tax: '-1e400',
        ti_price: '1e-400',
        se_value: '7.51E-9',
        os_timezone: 'x'.repeat(60),
        geo_country: 'FRA',
        page_title: '\ud83d\ude00'.repeat(2001),
      }),
    );
    assert.equal(a.get('dvce_created_tstamp'), '0001-01-01 00:00:00.000 BC');
    assert.equal(a.get('tr_total'), 'Infinity');
    assert.equal(a.get('tr_tax'), '-Infinity');
    assert.equal(a.get('ti_price'), '0');
    assert.equal(a.get('se_value'), '7.51e-9');
    assert.equal(a.get('os_timezone'), 'x'.repeat(50));
    assert.equal(a.get('geo_country'), 'FR');
    assert.equal(a.get('page_title'), '\ud83d\ude00'.repeat(2000), 'characters, not UTF-16 units');
  });

  it('helpers', () => {
    assert.equal(truncateChars('abc', 5), 'abc');
    assert.equal(truncateChars('a\ud83d\ude00b', 2), 'a\ud83d\ude00');
    assert.equal(pgDouble('0.0'), '0.0');
    assert.equal(pgDouble('1999.00'), '1999.00');
    assert.equal(pgDouble('6720000000'), '6720000000');
    assert.equal(pgDouble('1'.repeat(400)), 'Infinity');
    assert.equal(pgTimestamp('2014-02-02 22:01:20.941'), '2014-02-02 22:01:20.941');
    assert.equal(pgTimestamp('0000-02-02T22:01:20'), '0001-02-02T22:01:20 BC');
  });

  it('puts entities in wide-row columns, contexts and derived_contexts together', () => {
    const columns = new Map<string, string>();
    const e = ok(
      line({
        contexts: CTX(`${WEB_PAGE},{"schema":"iglu:com.acme/user/jsonschema/1-0-2","data":{"n":1}}`),
        derived_contexts: CTX('{"schema":"iglu:com.acme/user/jsonschema/1-1-0","data":{"n":2}}'),
        unstruct_event: UNSTRUCT,
      }),
      columns,
    );
    assert.deepEqual(
      [...columns],
      [
        ['unstruct_event_com_acme_click_1', 'iglu:com.acme/click/jsonschema/1-0-0'],
        [
          'contexts_com_snowplowanalytics_snowplow_web_page_1',
          'iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0',
        ],
        ['contexts_com_acme_user_1', 'iglu:com.acme/user/jsonschema/1-0-2'],
      ],
    );
    const row = copyRow(e);
    assert.ok(row.endsWith('\n'));
    const values = row.slice(0, -1).split('\t');
    assert.equal(values.length, 128 + 1, 'atomic values, then one object of entity columns');
    const ent = JSON.parse(values[128]);
    assert.deepEqual(Object.keys(ent), [...columns.keys()]);
    assert.deepEqual(ent.contexts_com_acme_user_1, [
      { _schema_version: '1-0-2', n: 1 },
      { _schema_version: '1-1-0', n: 2 },
    ]);
    assert.deepEqual(ent.contexts_com_snowplowanalytics_snowplow_web_page_1, [
      { _schema_version: '1-0-0', id: 'b1f2' },
    ]);
    assert.deepEqual(ent.unstruct_event_com_acme_click_1, { x: 1 });
    assert.equal(copyRow(ok(line())).split('\t')[128], '\n', 'no entity → NULL');
  });

  it('escapes backslashes for COPY text format, in atomic and JSON values alike', () => {
    const e = ok(
      line({
        page_url: 'http://x/a\\b',
        contexts: CTX('{"schema":"iglu:com.acme/x/jsonschema/1-0-0","data":{"q":"\\"\\\\n"}}'),
      }),
    );
    const row = copyRow(e);
    assert.ok(row.includes('http://x/a\\\\b'));
    assert.ok(row.includes('"q":"\\\\"\\\\\\\\n"'));
    assert.ok(!row.includes('\\N'));
  });
});
