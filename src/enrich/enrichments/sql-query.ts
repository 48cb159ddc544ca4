/**
 * SQL query enrichment (spec §4.16): fills the `?` placeholders of a prepared statement from event
 * fields or entities, runs it against PostgreSQL (`pg`) or MySQL/MariaDB (`mysql2`) through a small
 * pool, and turns the rows into derived entities. Results (and, for a tenth of the ttl, failures) are
 * cached by placeholder values, so a steady stream of the same users costs one query per ttl.
 *
 * @example
 * {"schema":"iglu:com.snowplowanalytics.snowplow.enrichments/sql_query_enrichment_config/jsonschema/1-0-1",
 *  "data":{"vendor":"com.snowplowanalytics.snowplow.enrichments","name":"sql_query_enrichment_config","enabled":true,
 *   "parameters":{
 *    "inputs":[{"placeholder":1,"pojo":{"field":"user_id"}},{"placeholder":2,"pojo":{"field":"app_id"}}],
 *    "database":{"postgresql":{"host":"db","port":5432,"sslMode":false,"username":"ro","password":"…","database":"crm"}},
 *    "query":{"sql":"SELECT username, email_address FROM tbl_users WHERE user_id = ? AND client = ? LIMIT 1"},
 *    "output":{"expectedRows":"AT_MOST_ONE","json":{"schema":"iglu:com.acme/user/jsonschema/1-0-0",
 *              "describes":"ALL_ROWS","propertyNames":"CAMEL_CASE"}},
 *    "cache":{"size":3000,"ttl":60},"ignoreOnError":false}}}
 */
import type { FieldPacket as MyFieldPacket, Pool as MyPool } from 'mysql2/promise';
import type { Pool as PgPool, PoolClient } from 'pg';
import type { EnrichedEvent, SelfDescribingJson } from '../event.js';
import {
  CachingEvaluator,
  entityData,
  type InputSource,
  type Outcome,
  parseCache,
  parseIgnoreOnError,
  parseInputSource,
  parseOutputSchema,
  pojoText,
  queryJsonPath,
  wrapMatches,
} from './lookup-inputs.js';
import {
  type Enrichment,
  type EnrichmentConfig,
  EnrichmentConfigError,
  type EnrichmentDefinition,
  type EnrichmentFailure,
  type EnrichmentInfo,
  ORDER,
  prependDerived,
  type StepOutcome,
} from './types.js';

type Value = string | number | boolean;
type ExpectedRows = 'EXACTLY_ONE' | 'AT_MOST_ONE' | 'AT_LEAST_ONE' | 'AT_LEAST_ZERO';
type PropertyNames = 'AS_IS' | 'CAMEL_CASE' | 'PASCAL_CASE' | 'SNAKE_CASE' | 'LOWER_CASE' | 'UPPER_CASE';
type Dialect = 'postgresql' | 'mysql';

interface DbSettings {
  host: string;
  port: number;
  sslMode: boolean;
  username: string;
  password: string;
  database: string;
}

/**
 * Pool limits. Events are enriched one after another per worker, so two connections cover a query in
 * flight plus a reconnect; Snowplow itself uses one. The timeouts keep a dead database from stalling
 * the pipeline for longer than a few seconds per (cached) failure.
 */
const POOL_SIZE = 2;
const CONNECT_TIMEOUT_MS = 5_000;
const QUERY_TIMEOUT_MS = 10_000;

const EXPECTED_ROWS: readonly string[] = ['EXACTLY_ONE', 'AT_MOST_ONE', 'AT_LEAST_ONE', 'AT_LEAST_ZERO'];
const PROPERTY_NAMES: readonly string[] = [
  'AS_IS',
  'CAMEL_CASE',
  'PASCAL_CASE',
  'SNAKE_CASE',
  'LOWER_CASE',
  'UPPER_CASE',
];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Counts the `?` placeholders of a statement outside literals, identifiers and comments, and for
 * PostgreSQL rewrites them as `$1…$n` (what the wire protocol expects; JDBC does the same rewrite).
 */
export function prepareSql(sql: string, dialect: Dialect): { text: string; count: number } {
  let out = '';
  let count = 0;
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i];
    if (c === "'" || c === '"' || (c === '`' && dialect === 'mysql')) {
      let j = i + 1;
      while (j < n) {
        if (sql[j] === '\\' && dialect === 'mysql') j += 2;
        else if (sql[j] === c && sql[j + 1] === c) j += 2;
        else if (sql[j] === c) break;
        else j++;
      }
      out += sql.slice(i, j + 1);
      i = j + 1;
    } else if ((c === '-' && sql[i + 1] === '-') || (c === '#' && dialect === 'mysql')) {
      const end = sql.indexOf('\n', i);
      const j = end < 0 ? n : end;
      out += sql.slice(i, j);
      i = j;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      const j = end < 0 ? n : end + 2;
      out += sql.slice(i, j);
      i = j;
    } else if (c === '$' && dialect === 'postgresql' && /^\$[A-Za-z_]*\$/.test(sql.slice(i, i + 64))) {
      const tag = /^\$[A-Za-z_]*\$/.exec(sql.slice(i, i + 64))?.[0] as string;
      const end = sql.indexOf(tag, i + tag.length);
      const j = end < 0 ? n : end + tag.length;
      out += sql.slice(i, j);
      i = j;
    } else if (c === '?') {
      count++;
      out += dialect === 'postgresql' ? `$${count}` : '?';
      i++;
    } else {
      out += c;
      i++;
    }
  }
  return { text: out, count };
}

/** Column name rewriting, with Snowplow's exact rules (SNAKE_CASE prefixes every capital and digit with `_`). */
export function transformName(mode: PropertyNames, key: string): string {
  switch (mode) {
    case 'AS_IS':
      return key;
    case 'CAMEL_CASE':
      return key.replace(/_([a-z\d])/g, (_m, g: string) => g.toUpperCase());
    case 'PASCAL_CASE': {
      const camel = key.replace(/_([a-z\d])/g, (_m, g: string) => g.toUpperCase());
      return camel.charAt(0).toUpperCase() + camel.slice(1);
    }
    case 'SNAKE_CASE':
      return key.replace(/[A-Z\d]/g, (m) => `_${m.toLowerCase()}`);
    case 'LOWER_CASE':
      return key.toLowerCase();
    case 'UPPER_CASE':
      return key.toUpperCase();
  }
}

const INT_RE = /^[+-]?\d+$/;
const DOUBLE_RE = /^\s*[+-]?(NaN|Infinity|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)[fFdD]?\s*$/;

/**
 * A JSONPath result as a statement parameter, typed the way Snowplow types it: numbers stay numbers,
 * strings that read as an integer/double/boolean become one, objects/arrays/null fill nothing.
 */
export function jsonParameter(v: unknown): Value | null {
  if (typeof v === 'boolean' || typeof v === 'number') return v;
  if (typeof v !== 'string') return null;
  if (INT_RE.test(v)) {
    const n = Number(v);
    if (Number.isSafeInteger(n)) return n;
  }
  if (DOUBLE_RE.test(v)) return Number.parseFloat(v.trim().replace(/[fFdD]$/, ''));
  const lower = v.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  return v;
}

/** An atomic field as a statement parameter: numeric and boolean columns as numbers, the rest as text. */
function pojoParameter(ev: EnrichedEvent, source: InputSource & { kind: 'pojo' }): Value | null {
  const text = pojoText(ev, source.index);
  if (text === null) return null;
  if (
    source.type === 'int' ||
    source.type === 'float' ||
    source.type === 'decimal' ||
    source.type === 'bool'
  ) {
    const n = Number(text);
    return Number.isFinite(n) ? n : text;
  }
  return text;
}

interface SqlInput {
  placeholder: number;
  source: InputSource;
}

interface Settings {
  inputs: SqlInput[];
  dialect: Dialect;
  db: DbSettings;
  sql: string;
  expectedRows: ExpectedRows;
  schema: string;
  describes: 'ALL_ROWS' | 'EVERY_ROW';
  propertyNames: PropertyNames;
  cache: { size: number; ttlMs: number };
  ignoreOnError: boolean;
}

function parseDb(database: unknown): { dialect: Dialect; db: DbSettings } {
  if (!isObject(database)) {
    throw new EnrichmentConfigError('parameters.database: expected {"postgresql": {…}} or {"mysql": {…}}');
  }
  const dialects = Object.keys(database).filter((k) => k === 'postgresql' || k === 'mysql') as Dialect[];
  if (dialects.length !== 1) {
    throw new EnrichmentConfigError('parameters.database: expected exactly one of postgresql, mysql');
  }
  const dialect = dialects[0];
  const where = `parameters.database.${dialect}`;
  const d = database[dialect];
  if (!isObject(d)) throw new EnrichmentConfigError(`${where}: expected an object`);
  const str = (k: string, nonEmpty: boolean): string => {
    const v = d[k];
    if (typeof v !== 'string' || (nonEmpty && v === '')) {
      throw new EnrichmentConfigError(`${where}.${k}: expected a${nonEmpty ? ' non-empty' : ''} string`);
    }
    return v;
  };
  const port = d.port;
  if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535) {
    throw new EnrichmentConfigError(`${where}.port: expected an integer 1–65535`);
  }
  if (typeof d.sslMode !== 'boolean') throw new EnrichmentConfigError(`${where}.sslMode: expected a boolean`);
  return {
    dialect,
    db: {
      host: str('host', false),
      port: port as number,
      sslMode: d.sslMode,
      username: str('username', true),
      password: str('password', false),
      database: str('database', true),
    },
  };
}

export function parseSqlQueryConfig(p: Record<string, unknown>): Settings {
  if (!Array.isArray(p.inputs)) throw new EnrichmentConfigError('parameters.inputs: expected an array');
  const inputs = p.inputs.map((raw, i): SqlInput => {
    const where = `parameters.inputs[${i}]`;
    if (!isObject(raw)) throw new EnrichmentConfigError(`${where}: expected an object`);
    const ph = raw.placeholder;
    if (!Number.isInteger(ph) || (ph as number) < 1 || (ph as number) > 64) {
      throw new EnrichmentConfigError(`${where}.placeholder: expected an integer 1–64`);
    }
    return { placeholder: ph as number, source: parseInputSource(raw, where) };
  });
  const { dialect, db } = parseDb(p.database);
  if (!isObject(p.query) || typeof p.query.sql !== 'string' || p.query.sql.trim() === '') {
    throw new EnrichmentConfigError('parameters.query.sql: expected an SQL statement');
  }
  const output = p.output;
  if (!isObject(output)) throw new EnrichmentConfigError('parameters.output: expected an object');
  if (typeof output.expectedRows !== 'string' || !EXPECTED_ROWS.includes(output.expectedRows)) {
    throw new EnrichmentConfigError(
      `parameters.output.expectedRows: expected one of ${EXPECTED_ROWS.join(', ')}`,
    );
  }
  const json = output.json;
  if (!isObject(json)) throw new EnrichmentConfigError('parameters.output.json: expected an object');
  const schema = parseOutputSchema(json.schema, 'parameters.output.json.schema');
  if (json.describes !== 'ALL_ROWS' && json.describes !== 'EVERY_ROW') {
    throw new EnrichmentConfigError('parameters.output.json.describes: expected ALL_ROWS or EVERY_ROW');
  }
  if (typeof json.propertyNames !== 'string' || !PROPERTY_NAMES.includes(json.propertyNames)) {
    throw new EnrichmentConfigError(
      `parameters.output.json.propertyNames: expected one of ${PROPERTY_NAMES.join(', ')}`,
    );
  }
  return {
    inputs,
    dialect,
    db,
    sql: p.query.sql,
    expectedRows: output.expectedRows as ExpectedRows,
    schema,
    describes: json.describes,
    propertyNames: json.propertyNames as PropertyNames,
    cache: parseCache(p.cache),
    ignoreOnError: parseIgnoreOnError(p.ignoreOnError),
  };
}

/** A failure carrying Snowplow's two-part message: the stage that failed, then the error itself. */
class StageError extends Error {
  constructor(
    readonly stage: string,
    readonly original: unknown,
  ) {
    super(stage);
  }
}

class InvalidDbResponse extends Error {
  override name = 'InvalidDbResponse';
}

function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

/** Runs one statement; rows come back as arrays with their column names, in column order. */
interface Executor {
  run(values: Value[]): Promise<{ columns: string[]; rows: unknown[][] }>;
  close(): Promise<void>;
}

// PostgreSQL types kept as the server writes them: dates and times (no time-zone reinterpretation).
const PG_TEXT_TYPES = new Set([1082, 1083, 1114, 1184, 1266]);
const PG_INT8 = 20;
const PG_NUMERIC = 1700;

async function postgresExecutor(db: DbSettings, text: string): Promise<Executor> {
  const pg = (await import('pg')).default;
  const types = {
    getTypeParser(oid: number, format?: 'text' | 'binary') {
      if (PG_TEXT_TYPES.has(oid)) return (v: string) => v;
      // Snowplow reads BIGINT as a JSON number and NUMERIC through its JSON parser: a number too.
      if (oid === PG_INT8 || oid === PG_NUMERIC) return (v: string) => Number(v);
      return pg.types.getTypeParser(oid, format ?? 'text');
    },
  };
  const pool: PgPool = new pg.Pool({
    host: db.host,
    port: db.port,
    user: db.username,
    password: db.password,
    database: db.database,
    ssl: db.sslMode ? { rejectUnauthorized: false } : false,
    max: POOL_SIZE,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    allowExitOnIdle: true,
    types,
  });
  // An idle connection dropped by the server is reported here; without a listener it would crash the process.
  pool.on('error', () => {});
  return {
    async run(values) {
      let client: PoolClient;
      try {
        client = await pool.connect();
      } catch (e) {
        throw new StageError('Error while getting the connection from the data source', e);
      }
      try {
        const r = await client.query({ text, values, rowMode: 'array' });
        return { columns: r.fields.map((f) => f.name), rows: r.rows as unknown[][] };
      } catch (e) {
        throw new StageError('Error while executing the query/getting the results', e);
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

async function mysqlExecutor(db: DbSettings, text: string): Promise<Executor> {
  const mysql = await import('mysql2/promise');
  const pool: MyPool = mysql.createPool({
    host: db.host,
    port: db.port,
    user: db.username,
    password: db.password,
    database: db.database,
    ssl: db.sslMode ? { rejectUnauthorized: false } : undefined,
    connectionLimit: POOL_SIZE,
    maxIdle: POOL_SIZE,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // Dates as the server writes them, DECIMAL/BIGINT as JSON numbers (Snowplow's reading of them).
    dateStrings: true,
    decimalNumbers: true,
    supportBigNumbers: true,
    bigNumberStrings: false,
    rowsAsArray: true,
  });
  return {
    async run(values) {
      let conn: Awaited<ReturnType<MyPool['getConnection']>>;
      try {
        conn = await pool.getConnection();
      } catch (e) {
        throw new StageError('Error while getting the connection from the data source', e);
      }
      try {
        const [rows, fields] = await conn.execute({ sql: text, values, timeout: QUERY_TIMEOUT_MS });
        return {
          columns: (fields as MyFieldPacket[]).map((f) => f.name),
          rows: rows as unknown as unknown[][],
        };
      } catch (e) {
        throw new StageError('Error while executing the query/getting the results', e);
      } finally {
        conn.release();
      }
    },
    close: () => pool.end(),
  };
}

/** Applies `expectedRows` and `describes` to the rows (Snowplow's `Output.envelope`). */
export function envelope(
  rows: Record<string, unknown>[],
  expected: ExpectedRows,
  describes: 'ALL_ROWS' | 'EVERY_ROW',
  schema: string,
): SelfDescribingJson[] {
  if (expected === 'EXACTLY_ONE' && rows.length !== 1) {
    throw new InvalidDbResponse('SQL Query Enrichment: exactly one row was expected');
  }
  if (expected === 'AT_MOST_ONE' && rows.length > 1) {
    throw new InvalidDbResponse('SQL Query Enrichment: at most one row was expected');
  }
  if (expected === 'AT_LEAST_ONE' && rows.length === 0) {
    throw new InvalidDbResponse('SQL Query Enrichment: at least one row was expected. 0 given instead');
  }
  if (describes === 'EVERY_ROW') return rows.map((data) => ({ schema, data }));
  if (expected === 'EXACTLY_ONE' || expected === 'AT_MOST_ONE') {
    return rows.length === 0 ? [] : [{ schema, data: rows[0] }];
  }
  return [{ schema, data: rows }];
}

/** Builds the enrichment; exported for tests that want the settings without the registry. */
export async function createSqlQueryEnrichment(config: EnrichmentConfig): Promise<Enrichment> {
  const s = parseSqlQueryConfig(config.parameters);
  const { text, count } = prepareSql(s.sql, s.dialect);
  const executor =
    s.dialect === 'postgresql' ? await postgresExecutor(s.db, text) : await mysqlExecutor(s.db, text);
  const cache = new CachingEvaluator<SelfDescribingJson[]>(s.cache.size, s.cache.ttlMs);
  const info: EnrichmentInfo = { schemaKey: config.schemaKey, identifier: 'sql-query' };
  const names = new Map<string, string>();
  const rename = (c: string): string => {
    let r = names.get(c);
    if (r === undefined) {
      r = transformName(s.propertyNames, c);
      names.set(c, r);
    }
    return r;
  };

  const query = async (values: Value[]): Promise<Outcome<SelfDescribingJson[]>> => {
    try {
      const { columns, rows } = await executor.run(values);
      const keys = columns.map(rename);
      const objects = rows.map((row) => {
        const o: Record<string, unknown> = {};
        for (let i = 0; i < keys.length; i++) o[keys[i]] = row[i] === undefined ? null : row[i];
        return o;
      });
      return { ok: true, value: envelope(objects, s.expectedRows, s.describes, s.schema) };
    } catch (e) {
      if (e instanceof StageError) return { ok: false, errors: [e.stage, describeError(e.original)] };
      return { ok: false, errors: ['Error while executing the query/getting the results', describeError(e)] };
    }
  };

  const fail = (errors: string[]): StepOutcome =>
    s.ignoreOnError
      ? undefined
      : errors.map((error): EnrichmentFailure => ({ enrichment: info, message: { error } }));

  return {
    order: ORDER.sqlQuery,
    info,
    async enrich(ev: EnrichedEvent): Promise<StepOutcome> {
      // Later inputs for the same placeholder win, but only when they found a value.
      const byPlaceholder = new Map<number, Value>();
      for (const input of s.inputs) {
        let v: Value | null;
        if (input.source.kind === 'pojo') v = pojoParameter(ev, input.source);
        else {
          const data = entityData(ev, input.source);
          v =
            data === undefined
              ? null
              : jsonParameter(wrapMatches(queryJsonPath(input.source.jsonPath, data)));
        }
        if (v !== null) byPlaceholder.set(input.placeholder, v);
      }
      // Every `?` needs a value and no value may be left over; otherwise Snowplow skips the lookup.
      if (byPlaceholder.size !== count) return undefined;
      const values: Value[] = [];
      for (let i = 1; i <= count; i++) {
        const v = byPlaceholder.get(i);
        if (v === undefined) return undefined;
        values.push(v);
      }
      let outcome = cache.evaluate(JSON.stringify(values), () => query(values));
      if (outcome instanceof Promise) outcome = await outcome;
      if (!outcome.ok) return fail(outcome.errors);
      // Cached entities are copied: later steps (PII) rewrite entity data in place.
      prependDerived(
        ev,
        outcome.value.map((e) => ({ schema: e.schema, data: structuredClone(e.data) })),
      );
      return undefined;
    },
    close: () => executor.close(),
  };
}

export const sqlQueryEnrichment: EnrichmentDefinition = {
  name: 'sql_query_enrichment_config',
  criterion: 'iglu:com.snowplowanalytics.snowplow.enrichments/sql_query_enrichment_config/jsonschema/1-0-*',
  create: (config) => createSqlQueryEnrichment(config),
};
