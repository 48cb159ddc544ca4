/**
 * PostgreSQL DDL for the warehouse.
 *
 * `<schema>.events` has Snowplow's postgres-loader layout (spec §6.3): the 128 atomic columns of the
 * enriched TSV in TSV order (the three JSON columns left out), typed as that loader types them, then
 * `load_tstamp`. Entities and the self-describing event are not shredded into tables but kept wide, one
 * `jsonb` column per schema `vendor/name/major` named as Snowplow's wide-row loaders name them
 * (`contexts_<vendor>_<name>_<major>` holding an array, `unstruct_event_<vendor>_<name>_<major>` holding
 * the event's data); those columns are added by the loader the first time a batch carries the schema
 * (docs/postgres-loader.md explains the choice).
 *
 * `<schema>.bad_rows` has the same columns as the DuckDB loader's, so queries work on either warehouse.
 *
 * @example
 * for (const sql of createStatements('atomic')) await client.query(sql);
 */
import { F, FIELDS, type FieldType } from '../../protocol/enriched-fields.js';

/** PostgreSQL's identifier limit (NAMEDATALEN - 1 bytes); longer names would be truncated silently. */
export const PG_IDENTIFIER_MAX = 63;

/** Double-quoted identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export interface AtomicColumn {
  readonly name: string;
  /** index of the field in the 131-field TSV */
  readonly field: number;
  readonly tsvType: FieldType;
  /** PostgreSQL type, e.g. `VARCHAR(255)` */
  readonly type: string;
  readonly notNull: boolean;
  /** character limit of `VARCHAR(n)`/`CHAR(n)` columns, 0 otherwise */
  readonly maxLength: number;
}

const JSON_FIELDS = new Set<number>([F.contexts, F.unstruct_event, F.derived_contexts]);

/** Where Snowplow's postgres-loader DDL differs from the Enrich limits in FIELDS (spec §6.3). */
const STRING_OVERRIDES: Readonly<Record<string, string>> = {
  user_fingerprint: 'VARCHAR(50)',
  geo_country: 'CHAR(2)',
  geo_region: 'CHAR(3)',
  ip_organization: 'VARCHAR(100)',
  ip_domain: 'VARCHAR(100)',
  page_url: 'VARCHAR(4096)',
  page_referrer: 'VARCHAR(4096)',
  se_label: 'VARCHAR(1000)',
  os_timezone: 'VARCHAR(50)',
  tr_currency: 'CHAR(3)',
  ti_currency: 'CHAR(3)',
  base_currency: 'CHAR(3)',
  mkt_clickid: 'VARCHAR(128)',
  mkt_network: 'VARCHAR(64)',
  etl_tags: 'VARCHAR(500)',
  event_vendor: 'VARCHAR(1000)',
  event_name: 'VARCHAR(1000)',
};

const NOT_NULL = new Set(['collector_tstamp', 'event_id', 'v_collector', 'v_etl']);

function pgType(name: string, type: FieldType, maxLength: number): string {
  switch (type) {
    case 'string':
      return STRING_OVERRIDES[name] ?? `VARCHAR(${maxLength > 0 ? maxLength : 4096})`;
    case 'tstamp':
      return 'TIMESTAMP';
    case 'int':
      return 'INTEGER';
    case 'decimal':
    case 'float':
      return 'DOUBLE PRECISION';
    case 'bool':
      return 'BOOLEAN';
    case 'uuid':
      return 'UUID';
    case 'json':
      return 'JSONB';
  }
}

function lengthOf(type: string): number {
  const m = /^(?:VAR)?CHAR\((\d+)\)$/.exec(type);
  return m === null ? 0 : Number(m[1]);
}

/** The 128 atomic columns, in TSV order. */
export const ATOMIC_COLUMNS: readonly AtomicColumn[] = FIELDS.flatMap((f, field) => {
  if (JSON_FIELDS.has(field)) return [];
  const type = pgType(f.name, f.type, f.maxLength);
  return [
    { name: f.name, field, tsvType: f.type, type, notNull: NOT_NULL.has(f.name), maxLength: lengthOf(type) },
  ];
});

/**
 * `load_tstamp` is not in the TSV; the loader sets it per batch (UTC). The default only serves rows
 * inserted by other means and existing tables the column is added to.
 */
export const LOAD_TSTAMP_DDL = `load_tstamp TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')`;

export const BAD_ROW_COLUMNS: readonly { name: string; type: string }[] = [
  { name: 'load_tstamp', type: 'TIMESTAMP NOT NULL' },
  /** the bad row's schema URI */
  { name: 'schema', type: 'TEXT' },
  /** the schema name alone, e.g. `loader_parsing_error` */
  { name: 'failure_type', type: 'TEXT' },
  { name: 'processor', type: 'JSONB' },
  { name: 'failure', type: 'JSONB' },
  /** a JSON string (raw TSV, base64) or object (`{enriched, raw}`), as the bad-row schema has it */
  { name: 'payload', type: 'JSONB' },
  /** the whole self-describing bad row (a JSON string if it was not JSON at all) */
  { name: 'bad_row', type: 'JSONB NOT NULL' },
  /** SHA-1 of the row text: a replayed bad row is not stored twice */
  { name: 'row_hash', type: 'TEXT NOT NULL PRIMARY KEY' },
];

export function eventsTable(schema: string): string {
  return `${quoteIdent(schema)}.events`;
}

export function badRowsTable(schema: string): string {
  return `${quoteIdent(schema)}.bad_rows`;
}

function atomicColumnDefs(): string {
  return ATOMIC_COLUMNS.map((c) => `  ${quoteIdent(c.name)} ${c.type}${c.notNull ? ' NOT NULL' : ''}`).join(
    ',\n',
  );
}

export function eventsDdl(schema: string): string {
  return `CREATE TABLE IF NOT EXISTS ${eventsTable(schema)} (\n${atomicColumnDefs()},\n  ${LOAD_TSTAMP_DDL}\n)`;
}

/**
 * The dedupe key. `event_id` alone (not `event_id, collector_tstamp`): a replayed line has the same
 * collector_tstamp anyway, and a tracker's retry of the same event (a natural duplicate: same id, same
 * payload, later collector_tstamp) is then dropped too, as Snowplow's dedupe and the dbt models would
 * drop it. See docs/postgres-loader.md.
 */
export function eventIdIndexDdl(schema: string): string {
  return `CREATE UNIQUE INDEX IF NOT EXISTS events_event_id_key ON ${eventsTable(schema)} (event_id)`;
}

export function badRowsDdl(schema: string): string {
  const cols = BAD_ROW_COLUMNS.map((c) => `  ${quoteIdent(c.name)} ${c.type}`).join(',\n');
  return `CREATE TABLE IF NOT EXISTS ${badRowsTable(schema)} (\n${cols}\n)`;
}

/**
 * What `init` always runs (idempotent, and cheap on an existing warehouse: none of these lock `events`).
 * `loadTstampDdl` and `eventIdIndexDdl` run only when the column / index is missing, since they lock the
 * table even when there is nothing to do.
 */
export function createStatements(schema: string): string[] {
  return [`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`, eventsDdl(schema), badRowsDdl(schema)];
}

/** For an events table created by something else (e.g. Snowplow's own DDL) that lacks `load_tstamp`. */
export function loadTstampDdl(schema: string): string {
  return `ALTER TABLE ${eventsTable(schema)} ADD COLUMN IF NOT EXISTS ${LOAD_TSTAMP_DDL}`;
}

/** Adds wide-row columns (one statement); each gets the first schema URI seen as its comment. */
export function addEntityColumnsDdl(
  schema: string,
  columns: readonly { column: string; schemaUri: string }[],
): string[] {
  if (columns.length === 0) return [];
  const table = eventsTable(schema);
  const add = columns.map((c) => `ADD COLUMN IF NOT EXISTS ${quoteIdent(c.column)} JSONB`).join(', ');
  return [
    `ALTER TABLE ${table} ${add}`,
    ...columns.map(
      (c) => `COMMENT ON COLUMN ${table}.${quoteIdent(c.column)} IS '${c.schemaUri.replaceAll("'", "''")}'`,
    ),
  ];
}

export const STAGING_TABLE = 'furrow_stage';
/** The staging column holding a line's entity columns as one JSON object, `{"contexts_…_1":[…],…}`. */
export const STAGING_ENTITIES = 'entities';

/**
 * The per-batch staging table: the atomic columns typed as in `events` (so a bad value fails the COPY on
 * its line, not the INSERT) and one `jsonb` object of the line's entity columns. A fixed layout lets the
 * COPY start before the batch's set of entity columns is known, so encoding overlaps the server's work.
 * TEMP: not WAL-logged, private to the session, dropped at COMMIT or ROLLBACK.
 */
export function stagingDdl(): string {
  const cols = [
    ...ATOMIC_COLUMNS.map((c) => `${quoteIdent(c.name)} ${c.type}`),
    `${quoteIdent(STAGING_ENTITIES)} JSONB`,
  ];
  return `CREATE TEMP TABLE ${STAGING_TABLE} (${cols.join(', ')}) ON COMMIT DROP`;
}

export function copyStagingSql(): string {
  const cols = [...ATOMIC_COLUMNS.map((c) => c.name), STAGING_ENTITIES].map(quoteIdent).join(', ');
  return `COPY ${STAGING_TABLE} (${cols}) FROM STDIN WITH (FORMAT text, NULL '')`;
}

/** Columns named as wide-row entity columns (wide-row.ts `entityColumn`). */
export function isEntityColumnName(column: string): boolean {
  return column.startsWith('contexts_') || column.startsWith('unstruct_event_');
}

/** COPY straight into events: the atomic columns, the given entity columns, then `load_tstamp`. */
export function copyDirectSql(schema: string, entityColumns: readonly string[]): string {
  const cols = [...ATOMIC_COLUMNS.map((c) => c.name), ...entityColumns, 'load_tstamp']
    .map(quoteIdent)
    .join(', ');
  return `COPY ${eventsTable(schema)} (${cols}) FROM STDIN WITH (FORMAT text, NULL '')`;
}

/**
 * Staged rows → events; `$1` is `load_tstamp`; each entity column is picked out of the staged object.
 * Existing event_ids (replays, rows another loader committed first) are skipped.
 */
export function insertFromStagingSql(schema: string, entityColumns: readonly string[]): string {
  const atomic = ATOMIC_COLUMNS.map((c) => quoteIdent(c.name));
  const target = [...atomic, ...entityColumns.map(quoteIdent), 'load_tstamp'].join(', ');
  const source = [
    ...atomic,
    ...entityColumns.map((c) => `${quoteIdent(STAGING_ENTITIES)}->'${c}'`),
    '$1::timestamp',
  ].join(', ');
  return (
    `INSERT INTO ${eventsTable(schema)} (${target}) ` +
    `SELECT ${source} FROM ${STAGING_TABLE} ON CONFLICT (event_id) DO NOTHING`
  );
}

/**
 * Bad rows from two text arrays (`$2` row JSON, `$3` hash); the envelope is split out server-side.
 * Anything that is not an object with a string `schema` keeps NULL in the split columns.
 */
export function insertBadRowsSql(schema: string): string {
  const cols = BAD_ROW_COLUMNS.map((c) => quoteIdent(c.name)).join(', ');
  return (
    `INSERT INTO ${badRowsTable(schema)} (${cols}) ` +
    `SELECT $1::timestamp, s, substring(s from '/([^/]+)/jsonschema/'), d->'processor', d->'failure', ` +
    `d->'payload', b, h FROM unnest($2::text[], $3::text[]) AS u(t, h) ` +
    `CROSS JOIN LATERAL (SELECT t::jsonb AS b) AS j ` +
    `CROSS JOIN LATERAL (SELECT CASE WHEN jsonb_typeof(b) = 'object' AND jsonb_typeof(b->'schema') = 'string' ` +
    `THEN b->>'schema' END AS s, CASE WHEN jsonb_typeof(b) = 'object' AND jsonb_typeof(b->'data') = 'object' ` +
    `THEN b->'data' END AS d) AS e ` +
    `ON CONFLICT (row_hash) DO NOTHING`
  );
}
