import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FIELD_COUNT, FIELDS } from '../../protocol/enriched-fields.js';
import { badRowsDdl, csvColumnsSpec, EVENT_COLUMNS, eventsDdl, readStagedTsv } from './schema.js';

describe('duckdb schema', () => {
  it('has one column per FIELDS entry, in TSV order, then load_tstamp', () => {
    assert.equal(EVENT_COLUMNS.length, FIELD_COUNT + 1);
    FIELDS.forEach((f, i) => {
      assert.equal(EVENT_COLUMNS[i].name, f.name);
    });
    assert.equal(EVENT_COLUMNS[FIELD_COUNT].name, 'load_tstamp');
    const ddl = eventsDdl('atomic');
    let at = 0;
    for (const c of EVENT_COLUMNS) {
      const pos = ddl.indexOf(`"${c.name}" ${c.type}`, at);
      assert.ok(pos > at, `${c.name} in order`);
      at = pos;
    }
  });

  it('types follow the Postgres layout, with JSON for the three JSON columns', () => {
    const type = (n: string) => EVENT_COLUMNS.find((c) => c.name === n)?.type;
    assert.equal(type('collector_tstamp'), 'TIMESTAMP');
    assert.equal(type('event_id'), 'UUID');
    assert.equal(type('domain_sessionidx'), 'INTEGER');
    assert.equal(type('geo_latitude'), 'DOUBLE');
    assert.equal(type('se_value'), 'DOUBLE');
    assert.equal(type('br_cookies'), 'BOOLEAN');
    assert.equal(type('page_url'), 'VARCHAR');
    for (const n of ['contexts', 'unstruct_event', 'derived_contexts']) assert.equal(type(n), 'JSON');
    const required = EVENT_COLUMNS.filter((c) => c.notNull).map((c) => c.name);
    assert.deepEqual(required, ['collector_tstamp', 'event_id', 'v_collector', 'v_etl', 'load_tstamp']);
  });

  it('read_csv columns match the table and the bad_rows table dedupes on its hash', () => {
    const spec = csvColumnsSpec();
    assert.equal((spec.match(/': '/g) ?? []).length, FIELD_COUNT);
    assert.match(readStagedTsv("/tmp/it's.tsv"), /read_csv\('\/tmp\/it''s\.tsv', delim = '\t', quote = ''/);
    assert.match(badRowsDdl('atomic'), /PRIMARY KEY \(row_hash\)/);
  });
});
