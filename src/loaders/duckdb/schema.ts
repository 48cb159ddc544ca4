/**
 * DuckDB DDL for the warehouse: `<schema>.events` laid out like Snowplow's Postgres loader (spec §6.3:
 * atomic columns in TSV order, typed) but wide — the three JSON columns stay on the row as DuckDB `JSON`,
 * so entities are read with `->`/`->>` instead of joining shredded tables — plus `load_tstamp`; and
 * `<schema>.bad_rows`, one row per self-describing bad row with its envelope split out for querying.
 *
 * @example
 * for (const sql of createStatements('atomic')) await connection.run(sql);
 */
import { FIELDS, type FieldType } from '../../protocol/enriched-fields.js';

/**
 * Why these types:
 * - `uuid` → UUID, not VARCHAR: 16 bytes instead of 36, and the per-batch dedupe anti-join hashes and
 *   compares it as a 128-bit integer (measured in bench/duckdb-loader.ts, figures in loader.ts).
 *   DuckDB prints it lowercase canonical, which is what Enrich writes.
 * - `decimal` → DOUBLE as Postgres does (`DOUBLE PRECISION`); the analytics SDKs read them as doubles too.
 * - DuckDB ignores VARCHAR(n) lengths, so strings are plain VARCHAR; Enrich enforces the limits upstream.
 */
export const DUCKDB_TYPES: Readonly<Record<FieldType, string>> = {
  string: 'VARCHAR',
  tstamp: 'TIMESTAMP',
  int: 'INTEGER',
  decimal: 'DOUBLE',
  float: 'DOUBLE',
  bool: 'BOOLEAN',
  uuid: 'UUID',
  json: 'JSON',
};

/** The fields every reader requires (spec §2.2); NOT NULL makes a loader bug fail loudly. */
export const REQUIRED_FIELDS: ReadonlySet<string> = new Set([
  'collector_tstamp',
  'event_id',
  'v_collector',
  'v_etl',
]);

export interface ColumnDef {
  readonly name: string;
  readonly type: string;
  readonly notNull: boolean;
}

/** The 131 TSV columns in order, then `load_tstamp` (not part of the TSV; the loader stamps it). */
export const EVENT_COLUMNS: readonly ColumnDef[] = [
  ...FIELDS.map((f) => ({ name: f.name, type: DUCKDB_TYPES[f.type], notNull: REQUIRED_FIELDS.has(f.name) })),
  { name: 'load_tstamp', type: 'TIMESTAMP', notNull: true },
];

export const BAD_ROW_COLUMNS: readonly ColumnDef[] = [
  { name: 'load_tstamp', type: 'TIMESTAMP', notNull: true },
  /** the bad row's schema URI, e.g. `iglu:com.snowplowanalytics.snowplow.badrows/loader_parsing_error/jsonschema/2-0-0` */
  { name: 'schema', type: 'VARCHAR', notNull: false },
  /** the schema name alone (`loader_parsing_error`), the usual filter */
  { name: 'failure_type', type: 'VARCHAR', notNull: false },
  { name: 'processor', type: 'JSON', notNull: false },
  { name: 'failure', type: 'JSON', notNull: false },
  /** a JSON string (raw TSV, base64) or object (`{enriched, raw}`), as the bad-row schema has it */
  { name: 'payload', type: 'JSON', notNull: false },
  /** the whole self-describing bad row as received (a JSON string if it was not JSON at all) */
  { name: 'bad_row', type: 'JSON', notNull: true },
  /** SHA-1 of the row text: replayed bad rows are recognised and not stored twice */
  { name: 'row_hash', type: 'VARCHAR', notNull: true },
];

/** Double-quoted identifier: `schema` and friends are keywords in DuckDB. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function columnList(cols: readonly ColumnDef[]): string {
  return cols.map((c) => `  ${quoteIdent(c.name)} ${c.type}${c.notNull ? ' NOT NULL' : ''}`).join(',\n');
}

/**
 * No PRIMARY KEY on `event_id`: DuckDB's ART index made loads ~2× slower than the anti-join at 1M rows and keeps the whole
 * index in memory; dedupe is an anti-join per batch instead (see loader.ts).
 */
export function eventsDdl(schema: string): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteIdent(schema)}.events (\n${columnList(EVENT_COLUMNS)}\n)`;
}

/** Bad rows are rare, so a PRIMARY KEY on the hash is the simplest exact dedupe there. */
export function badRowsDdl(schema: string): string {
  return (
    `CREATE TABLE IF NOT EXISTS ${quoteIdent(schema)}.bad_rows (\n${columnList(BAD_ROW_COLUMNS)},\n` +
    `  PRIMARY KEY (row_hash)\n)`
  );
}

export function createStatements(schema: string): string[] {
  return [`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`, eventsDdl(schema), badRowsDdl(schema)];
}

/**
 * The `columns` argument of `read_csv` for the 131 TSV fields, typed as the table is, so the CSV reader
 * converts while it parses and a batch lands with one `INSERT … SELECT`.
 */
export function csvColumnsSpec(): string {
  return `{${FIELDS.map((f) => `'${f.name}': '${DUCKDB_TYPES[f.type]}'`).join(', ')}}`;
}

/** `read_csv` over a staged enriched-TSV file: tab-separated, no quoting or escaping, empty = NULL. */
export function readStagedTsv(file: string): string {
  const path = file.replaceAll("'", "''");
  return (
    `read_csv('${path}', delim = '\t', quote = '', escape = '', header = false, nullstr = '', ` +
    `auto_detect = false, strict_mode = true, max_line_size = 67108864, columns = ${csvColumnsSpec()})`
  );
}
