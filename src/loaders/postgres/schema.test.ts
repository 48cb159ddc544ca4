import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FIELDS } from '../../protocol/enriched-fields.js';
import {
  ATOMIC_COLUMNS,
  addEntityColumnsDdl,
  copyStagingSql,
  createStatements,
  eventsDdl,
  insertFromStagingSql,
  quoteIdent,
  stagingDdl,
} from './schema.js';

const typeOf = (name: string) => ATOMIC_COLUMNS.find((c) => c.name === name)?.type;

describe('postgres schema', () => {
  it('has the 128 atomic columns in TSV order, without the three JSON columns', () => {
    assert.equal(ATOMIC_COLUMNS.length, 128);
    const expected = FIELDS.map((f) => f.name).filter(
      (n) => !['contexts', 'unstruct_event', 'derived_contexts'].includes(n),
    );
    assert.deepEqual(
      ATOMIC_COLUMNS.map((c) => c.name),
      expected,
    );
    for (const c of ATOMIC_COLUMNS) assert.equal(FIELDS[c.field].name, c.name);
  });

  it("types columns as Snowplow's postgres-loader does (spec §6.3)", () => {
    assert.equal(typeOf('app_id'), 'VARCHAR(255)');
    assert.equal(typeOf('collector_tstamp'), 'TIMESTAMP');
    assert.equal(typeOf('event_id'), 'UUID');
    assert.equal(typeOf('txn_id'), 'INTEGER');
    assert.equal(typeOf('v_collector'), 'VARCHAR(100)');
    assert.equal(typeOf('user_fingerprint'), 'VARCHAR(50)');
    assert.equal(typeOf('geo_country'), 'CHAR(2)');
    assert.equal(typeOf('geo_region'), 'CHAR(3)');
    assert.equal(typeOf('geo_latitude'), 'DOUBLE PRECISION');
    assert.equal(typeOf('se_value'), 'DOUBLE PRECISION');
    assert.equal(typeOf('tr_total_base'), 'DOUBLE PRECISION');
    assert.equal(typeOf('ip_organization'), 'VARCHAR(100)');
    assert.equal(typeOf('page_url'), 'VARCHAR(4096)');
    assert.equal(typeOf('se_label'), 'VARCHAR(1000)');
    assert.equal(typeOf('br_features_pdf'), 'BOOLEAN');
    assert.equal(typeOf('dvce_ismobile'), 'BOOLEAN');
    assert.equal(typeOf('os_timezone'), 'VARCHAR(50)');
    assert.equal(typeOf('base_currency'), 'CHAR(3)');
    assert.equal(typeOf('mkt_clickid'), 'VARCHAR(128)');
    assert.equal(typeOf('mkt_network'), 'VARCHAR(64)');
    assert.equal(typeOf('etl_tags'), 'VARCHAR(500)');
    assert.equal(typeOf('event_name'), 'VARCHAR(1000)');
    assert.equal(typeOf('true_tstamp'), 'TIMESTAMP');
    const notNull = ATOMIC_COLUMNS.filter((c) => c.notNull).map((c) => c.name);
    assert.deepEqual(notNull, ['collector_tstamp', 'event_id', 'v_collector', 'v_etl']);
    assert.equal(ATOMIC_COLUMNS.find((c) => c.name === 'os_timezone')?.maxLength, 50);
    assert.equal(ATOMIC_COLUMNS.find((c) => c.name === 'geo_latitude')?.maxLength, 0);
  });

  it('generates DDL and DML for a schema', () => {
    const ddl = eventsDdl('atomic');
    assert.match(ddl, /^CREATE TABLE IF NOT EXISTS "atomic"\.events \(/);
    assert.match(ddl, /"event_id" UUID NOT NULL/);
    assert.match(ddl, /load_tstamp TIMESTAMP NOT NULL/);
    assert.equal(createStatements('atomic').length, 3);
    assert.deepEqual(
      addEntityColumnsDdl('atomic', [
        { column: 'contexts_com_acme_x_1', schemaUri: 'iglu:com.acme/x/jsonschema/1-0-0' },
      ]),
      [
        'ALTER TABLE "atomic".events ADD COLUMN IF NOT EXISTS "contexts_com_acme_x_1" JSONB',
        `COMMENT ON COLUMN "atomic".events."contexts_com_acme_x_1" IS 'iglu:com.acme/x/jsonschema/1-0-0'`,
      ],
    );
    assert.deepEqual(addEntityColumnsDdl('atomic', []), []);
    assert.match(
      stagingDdl(),
      /^CREATE TEMP TABLE furrow_stage \(.*"true_tstamp" TIMESTAMP, "entities" JSONB\) ON COMMIT DROP$/,
    );
    assert.match(copyStagingSql(), /"true_tstamp", "entities"\) FROM STDIN WITH \(FORMAT text, NULL ''\)$/);
    assert.match(
      insertFromStagingSql('atomic', ['contexts_a_b_1']),
      /"contexts_a_b_1", load_tstamp\) SELECT .*"true_tstamp", "entities"->'contexts_a_b_1', \$1::timestamp FROM furrow_stage ON CONFLICT \(event_id\) DO NOTHING$/,
    );
    assert.equal(quoteIdent('a"b'), '"a""b"');
  });
});
