import assert from 'node:assert/strict';
import { test } from 'node:test';
import { enrichmentConfig, pageView, runEnrichments } from '../../../test/helpers/enrichment-run.js';
import { type DbServer, requireMariaDb, requirePostgres } from '../../../test/helpers/services.js';
import { requireShared } from '../../../test/helpers/shared.js';
import { F } from '../../protocol/enriched-fields.js';
import type { RawEvent } from '../../protocol/raw-event.js';
import { EnrichedEvent } from '../event.js';
import {
  createSqlQueryEnrichment,
  envelope,
  jsonParameter,
  prepareSql,
  sqlQueryEnrichment,
  transformName,
} from './sql-query.js';
import { type Enrichment, EnrichmentConfigError, ORDER } from './types.js';

const SCHEMA_KEY =
  'iglu:com.snowplowanalytics.snowplow.enrichments/sql_query_enrichment_config/jsonschema/1-0-1';
const COOKIE = 'iglu:org.ietf/http_cookie/jsonschema/1-0-0';
const SESSION = 'iglu:com.snowplowanalytics.snowplow/client_session/jsonschema/1-0-1';
const USER = 'iglu:com.acme/user/jsonschema/1-0-0';
const env = { resolver: null as never, baseDir: '.' };
const table = `furrow_sql_${process.pid}_${Date.now() % 100000}`;

/** Snowplow's documented example configuration, pointed at `db`. */
function params(
  db: { postgresql: Record<string, unknown> } | { mysql: Record<string, unknown> },
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    inputs: [
      { placeholder: 1, pojo: { field: 'user_id' } },
      {
        placeholder: 1,
        json: {
          field: 'contexts',
          schemaCriterion: 'iglu:com.snowplowanalytics.snowplow/client_session/jsonschema/1-*-*',
          jsonPath: '$.userId',
        },
      },
      { placeholder: 2, pojo: { field: 'app_id' } },
    ],
    database: db,
    query: {
      sql: `SELECT username, email_address, date_of_birth FROM ${table} WHERE user_id = ? AND client = ? LIMIT 1`,
    },
    output: {
      expectedRows: 'AT_MOST_ONE',
      json: { schema: USER, describes: 'ALL_ROWS', propertyNames: 'CAMEL_CASE' },
    },
    cache: { size: 3000, ttl: 60 },
    ignoreOnError: false,
    ...overrides,
  };
}

const config = (p: Record<string, unknown>) =>
  enrichmentConfig('com.snowplowanalytics.snowplow.enrichments', 'sql_query_enrichment_config', '1-0-1', p);

function pgDb(s: DbServer, overrides: Record<string, unknown> = {}) {
  return {
    postgresql: {
      host: s.host,
      port: s.port,
      sslMode: false,
      username: s.user,
      password: s.password,
      database: s.database,
      ...overrides,
    },
  };
}

function myDb(s: DbServer) {
  return {
    mysql: {
      host: s.host,
      port: s.port,
      sslMode: false,
      username: s.user,
      password: s.password,
      database: s.database,
    },
  };
}

function rawEvent(): RawEvent {
  return {
    vendor: 'com.snowplowanalytics.snowplow',
    version: 'tp2',
    parameters: new Map(),
    contentType: null,
    loaderName: 'ssc',
    encoding: 'UTF-8',
    hostname: null,
    timestamp: 0,
    ipAddress: null,
    useragent: null,
    refererUri: null,
    headers: [],
    userId: null,
  };
}

function event(fields: Partial<Record<keyof typeof F, string>>, contexts: EnrichedEvent['contexts'] = []) {
  const ev = new EnrichedEvent(rawEvent());
  for (const [k, v] of Object.entries(fields)) ev.set(F[k as keyof typeof F], v as string);
  ev.contexts = contexts;
  return ev;
}

async function pgAdmin(s: DbServer) {
  const pg = (await import('pg')).default;
  const client = new pg.Client(s);
  await client.connect();
  return client;
}

test('placeholders are counted outside literals and comments, and numbered for PostgreSQL', () => {
  assert.deepEqual(prepareSql('SELECT a FROM t WHERE b = ? AND c = ?', 'postgresql'), {
    text: 'SELECT a FROM t WHERE b = $1 AND c = $2',
    count: 2,
  });
  const tricky = `SELECT '?', "col?", $$ ? $$ /* ? */ FROM t -- ?\nWHERE x = ? AND y = 'it''s ?'`;
  assert.deepEqual(prepareSql(tricky, 'postgresql'), {
    text: `SELECT '?', "col?", $$ ? $$ /* ? */ FROM t -- ?\nWHERE x = $1 AND y = 'it''s ?'`,
    count: 1,
  });
  const my = "SELECT `a?`, 'x\\'?' FROM t # ?\nWHERE a = ? AND b = ?";
  assert.deepEqual(prepareSql(my, 'mysql'), { text: my, count: 2 });
});

test("property names are rewritten with Snowplow's rules", () => {
  assert.equal(transformName('AS_IS', 'Some_Column'), 'Some_Column');
  assert.equal(transformName('CAMEL_CASE', 'some_column_2'), 'someColumn2');
  assert.equal(transformName('PASCAL_CASE', 'some_column'), 'SomeColumn');
  assert.equal(transformName('SNAKE_CASE', 'SomeColumn'), '_some_column');
  assert.equal(transformName('SNAKE_CASE', 'someColumn1'), 'some_column_1');
  assert.equal(transformName('LOWER_CASE', 'SomeColumn'), 'somecolumn');
  assert.equal(transformName('UPPER_CASE', 'SomeColumn'), 'SOMECOLUMN');
});

test('JSONPath values become typed parameters; objects, arrays and null fill nothing', () => {
  assert.equal(jsonParameter('42'), 42);
  assert.equal(jsonParameter('-7'), -7);
  assert.equal(jsonParameter('1.5'), 1.5);
  assert.equal(jsonParameter('TRUE'), true);
  assert.equal(jsonParameter('abc'), 'abc');
  assert.equal(jsonParameter(3), 3);
  assert.equal(jsonParameter(false), false);
  assert.equal(jsonParameter(null), null);
  assert.equal(jsonParameter({ a: 1 }), null);
  assert.equal(jsonParameter([1]), null);
});

test('expectedRows and describes shape the entities', () => {
  const rows = [{ a: 1 }, { a: 2 }];
  assert.deepEqual(envelope(rows, 'AT_LEAST_ZERO', 'EVERY_ROW', USER), [
    { schema: USER, data: { a: 1 } },
    { schema: USER, data: { a: 2 } },
  ]);
  assert.deepEqual(envelope(rows, 'AT_LEAST_ONE', 'ALL_ROWS', USER), [{ schema: USER, data: rows }]);
  assert.deepEqual(envelope([], 'AT_LEAST_ZERO', 'ALL_ROWS', USER), [{ schema: USER, data: [] }]);
  assert.deepEqual(envelope([rows[0]], 'EXACTLY_ONE', 'ALL_ROWS', USER), [{ schema: USER, data: { a: 1 } }]);
  assert.deepEqual(envelope([], 'AT_MOST_ONE', 'ALL_ROWS', USER), []);
  assert.throws(() => envelope(rows, 'EXACTLY_ONE', 'EVERY_ROW', USER), /exactly one row was expected/);
  assert.throws(() => envelope(rows, 'AT_MOST_ONE', 'ALL_ROWS', USER), /at most one row was expected/);
  assert.throws(
    () => envelope([], 'AT_LEAST_ONE', 'ALL_ROWS', USER),
    /at least one row was expected. 0 given instead/,
  );
});

test('configuration errors name the key', async () => {
  const db = {
    postgresql: { host: 'h', port: 5432, sslMode: false, username: 'u', password: '', database: 'd' },
  };
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [
      params(db, { inputs: [{ placeholder: 0, pojo: { field: 'user_id' } }] }),
      /parameters\.inputs\[0\]\.placeholder/,
    ],
    [
      params(db, { inputs: [{ placeholder: 1, pojo: { field: 'nope' } }] }),
      /parameters\.inputs\[0\]\.pojo\.field: "nope"/,
    ],
    [
      params(db, {
        inputs: [{ placeholder: 1, json: { field: 'contexts', schemaCriterion: 'bad', jsonPath: '$.a' } }],
      }),
      /parameters\.inputs\[0\]\.json\.schemaCriterion/,
    ],
    [params({ oracle: {} } as never), /parameters\.database: expected exactly one of postgresql, mysql/],
    [params({ postgresql: { ...db.postgresql, port: 0 } }), /parameters\.database\.postgresql\.port/],
    [params(db, { query: {} }), /parameters\.query\.sql/],
    [params(db, { output: { expectedRows: 'MANY', json: {} } }), /parameters\.output\.expectedRows/],
    [
      params(db, {
        output: {
          expectedRows: 'AT_MOST_ONE',
          json: { schema: USER, describes: 'SOME', propertyNames: 'AS_IS' },
        },
      }),
      /parameters\.output\.json\.describes/,
    ],
    [params(db, { cache: { size: 1, ttl: 86401 } }), /parameters\.cache\.ttl/],
    [params(db, { ignoreOnError: 'yes' }), /parameters\.ignoreOnError/],
  ];
  for (const [p, re] of bad) {
    await assert.rejects(
      (async () => sqlQueryEnrichment.create(config(p), env))(),
      (e: Error) => e instanceof EnrichmentConfigError && re.test(e.message),
      String(re),
    );
  }
});

test('PostgreSQL: lookup, typed columns, inputs, cache, failures', async (t) => {
  const s = await requirePostgres(t);
  if (!s) return;
  const admin = await pgAdmin(s);
  const closers: Enrichment[] = [];
  const make = async (overrides: Record<string, unknown> = {}, db = pgDb(s)) => {
    const e = await createSqlQueryEnrichment(config(params(db, overrides)));
    closers.push(e);
    return e;
  };
  try {
    await admin.query(`CREATE TABLE ${table} (user_id text, client text, username text, email_address text,
      date_of_birth date, score numeric, visits bigint, active boolean, prefs jsonb)`);
    await admin.query(`INSERT INTO ${table} VALUES
      ('u1', 'shop', 'alice', 'alice@example.com', '1990-02-03', 12.50, 9007199254740991, true, '{"theme":"dark"}'),
      ('u2', 'shop', 'bob', 'bob@example.com', NULL, NULL, NULL, NULL, NULL),
      ('u2', 'shop', 'bobby', 'bob@example.org', NULL, NULL, NULL, NULL, NULL)`);

    // The documented example: user_id from the event (or client_session.userId), app_id as client.
    const sql = await make();
    assert.equal(sql.order, ORDER.sqlQuery);
    assert.deepEqual(sql.info, { schemaKey: SCHEMA_KEY, identifier: 'sql-query' });
    const ev = event({ user_id: 'u1', app_id: 'shop' });
    assert.equal(await sql.enrich(ev), undefined);
    assert.deepEqual(ev.derived, [
      {
        schema: USER,
        data: { username: 'alice', emailAddress: 'alice@example.com', dateOfBirth: '1990-02-03' },
      },
    ]);
    // The later json input for placeholder 1 wins when it finds a value.
    const fromContext = event({ user_id: 'u2', app_id: 'shop' }, [
      {
        schema: SESSION,
        data: {
          userId: 'u1',
          sessionId: '00000000-0000-4000-8000-000000000000',
          sessionIndex: 1,
          previousSessionId: null,
          storageMechanism: 'COOKIE_1',
        },
      },
    ]);
    assert.equal(await sql.enrich(fromContext), undefined);
    assert.equal((fromContext.derived[0].data as Record<string, unknown>).username, 'alice');
    // An unfilled placeholder means no lookup and no entity.
    const missing = event({ app_id: 'shop' });
    assert.equal(await sql.enrich(missing), undefined);
    assert.deepEqual(missing.derived, []);
    // No row with AT_MOST_ONE: nothing.
    const none = event({ user_id: 'nobody', app_id: 'shop' });
    assert.equal(await sql.enrich(none), undefined);
    assert.deepEqual(none.derived, []);

    // Column types as Snowplow reads them, every row described, AS_IS names.
    const typed = await make({
      inputs: [{ placeholder: 1, pojo: { field: 'user_id' } }],
      query: {
        sql: `SELECT username, score, visits, active, prefs, date_of_birth FROM ${table} WHERE user_id = ? ORDER BY username`,
      },
      output: {
        expectedRows: 'AT_LEAST_ONE',
        json: { schema: USER, describes: 'EVERY_ROW', propertyNames: 'UPPER_CASE' },
      },
    });
    const tev = event({ user_id: 'u1' });
    await typed.enrich(tev);
    assert.deepEqual(tev.derived, [
      {
        schema: USER,
        data: {
          USERNAME: 'alice',
          SCORE: 12.5,
          VISITS: 9007199254740991,
          ACTIVE: true,
          PREFS: { theme: 'dark' },
          DATE_OF_BIRTH: '1990-02-03',
        },
      },
    ]);
    const two = event({ user_id: 'u2' });
    await typed.enrich(two);
    assert.deepEqual(
      two.derived.map((d) => (d.data as Record<string, unknown>).USERNAME),
      ['bob', 'bobby'],
    );

    // Row-count violations are enrichment failures with Snowplow's two-part message…
    const noLimit = { sql: `SELECT username FROM ${table} WHERE user_id = ? AND client = ?` };
    const exactly = await make({
      query: noLimit,
      output: {
        expectedRows: 'EXACTLY_ONE',
        json: { schema: USER, describes: 'ALL_ROWS', propertyNames: 'AS_IS' },
      },
    });
    assert.deepEqual(await exactly.enrich(event({ user_id: 'u2', app_id: 'shop' })), [
      {
        enrichment: { schemaKey: SCHEMA_KEY, identifier: 'sql-query' },
        message: { error: 'Error while executing the query/getting the results' },
      },
      {
        enrichment: { schemaKey: SCHEMA_KEY, identifier: 'sql-query' },
        message: { error: 'InvalidDbResponse: SQL Query Enrichment: exactly one row was expected' },
      },
    ]);
    // …unless ignoreOnError.
    const lenient = await make({
      ignoreOnError: true,
      query: noLimit,
      output: {
        expectedRows: 'EXACTLY_ONE',
        json: { schema: USER, describes: 'ALL_ROWS', propertyNames: 'AS_IS' },
      },
    });
    const lev = event({ user_id: 'u2', app_id: 'shop' });
    assert.equal(await lenient.enrich(lev), undefined);
    assert.deepEqual(lev.derived, []);

    // Results are cached by placeholder values for ttl seconds; ttl 0 always asks again.
    await admin.query(`UPDATE ${table} SET username = 'alicia' WHERE user_id = 'u1'`);
    const again = event({ user_id: 'u1', app_id: 'shop' });
    await sql.enrich(again);
    assert.equal((again.derived[0].data as Record<string, unknown>).username, 'alice');
    const fresh = await make({ cache: { size: 10, ttl: 0 } });
    const fev = event({ user_id: 'u1', app_id: 'shop' });
    await fresh.enrich(fev);
    assert.equal((fev.derived[0].data as Record<string, unknown>).username, 'alicia');

    // Failures are cached too (for ttl/10): a missing table keeps failing until then.
    const later = `${table}_later`;
    const broken = await make({
      inputs: [{ placeholder: 1, pojo: { field: 'user_id' } }],
      query: { sql: `SELECT username FROM ${later} WHERE user_id = ?` },
    });
    const first = await broken.enrich(event({ user_id: 'u1' }));
    assert.ok(Array.isArray(first));
    assert.equal(first[0].message.error, 'Error while executing the query/getting the results');
    assert.match(first[1].message.error as string, /does not exist/);
    await admin.query(`CREATE TABLE ${later} (user_id text, username text)`);
    try {
      assert.deepEqual(await broken.enrich(event({ user_id: 'u1' })), first);
    } finally {
      await admin.query(`DROP TABLE ${later}`);
    }

    // No server: a connection failure.
    const unreachable = await make({}, pgDb(s, { port: 1 }));
    const cf = await unreachable.enrich(event({ user_id: 'u1', app_id: 'shop' }));
    assert.ok(Array.isArray(cf));
    assert.equal(cf[0].message.error, 'Error while getting the connection from the data source');
  } finally {
    for (const c of closers) await c.close?.();
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await admin.end();
  }
});

test('PostgreSQL through the pipeline: one validated entity per row in derived_contexts', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const s = await requirePostgres(t);
  if (!s) return;
  const admin = await pgAdmin(s);
  const name = `${table}_cookies`;
  let sql: Enrichment | undefined;
  try {
    await admin.query(`CREATE TABLE ${name} (app text, "Cookie_Name" text, "Cookie_Value" text)`);
    await admin.query(
      `INSERT INTO ${name} VALUES ('shop', 'a', '1'), ('shop', 'b', '2'), ('other', 'c', '3')`,
    );
    sql = await sqlQueryEnrichment.create(
      config(
        params(pgDb(s), {
          inputs: [{ placeholder: 1, pojo: { field: 'app_id' } }],
          query: {
            sql: `SELECT "Cookie_Name" AS "Name", "Cookie_Value" AS "VALUE" FROM ${name} WHERE app = ? ORDER BY 1`,
          },
          output: {
            expectedRows: 'AT_LEAST_ZERO',
            json: { schema: COOKIE, describes: 'EVERY_ROW', propertyNames: 'LOWER_CASE' },
          },
        }),
      ),
      env,
    );
    const { events, derived, bad } = await runEnrichments(
      shared,
      [sql],
      [
        pageView('UA', '10.0.0.1', { aid: 'shop' }),
        pageView('UA', '10.0.0.1', { aid: 'nobody' }),
        pageView('UA', '10.0.0.1'),
      ],
    );
    assert.deepEqual(bad, []);
    assert.deepEqual(derived[0], [
      { schema: COOKIE, data: { name: 'a', value: '1' } },
      { schema: COOKIE, data: { name: 'b', value: '2' } },
    ]);
    assert.equal(events[1].derived_contexts, '');
    assert.equal(events[2].derived_contexts, '');
    assert.equal(events[0].app_id, 'shop');
  } finally {
    await sql?.close?.();
    await admin.query(`DROP TABLE IF EXISTS ${name}`);
    await admin.end();
  }
});

test('MariaDB: lookup with ? placeholders, typed columns, row expectations', async (t) => {
  const s = await requireMariaDb(t);
  if (!s) return;
  const mysql = await import('mysql2/promise');
  const admin = await mysql.createConnection(s);
  const closers: Enrichment[] = [];
  try {
    await admin.query(`CREATE TABLE ${table} (user_id VARCHAR(20), client VARCHAR(20), UserName VARCHAR(50),
      EmailAddress VARCHAR(100), DateOfBirth DATE, Score DECIMAL(6,2), Visits BIGINT)`);
    await admin.query(`INSERT INTO ${table} VALUES
      ('u1', 'shop', 'alice', 'alice@example.com', '1990-02-03', 12.50, 42),
      ('u2', 'shop', 'bob', 'bob@example.com', NULL, NULL, NULL),
      ('u2', 'shop', 'bobby', 'bob@example.org', NULL, NULL, NULL)`);
    const sql = await createSqlQueryEnrichment(
      config(
        params(myDb(s), {
          query: {
            sql: `SELECT UserName, EmailAddress, DateOfBirth, Score, Visits FROM ${table} WHERE user_id = ? AND client = ? ORDER BY UserName`,
          },
          output: {
            expectedRows: 'AT_LEAST_ONE',
            json: { schema: USER, describes: 'ALL_ROWS', propertyNames: 'SNAKE_CASE' },
          },
        }),
      ),
    );
    closers.push(sql);
    const ev = event({ user_id: 'u1', app_id: 'shop' });
    assert.equal(await sql.enrich(ev), undefined);
    assert.deepEqual(ev.derived, [
      {
        schema: USER,
        data: [
          {
            _user_name: 'alice',
            _email_address: 'alice@example.com',
            _date_of_birth: '1990-02-03',
            _score: 12.5,
            _visits: 42,
          },
        ],
      },
    ]);
    const two = event({ user_id: 'u2', app_id: 'shop' });
    await sql.enrich(two);
    assert.deepEqual(
      (two.derived[0].data as Array<Record<string, unknown>>).map((r) => r._user_name),
      ['bob', 'bobby'],
    );
    const failed = await sql.enrich(event({ user_id: 'nobody', app_id: 'shop' }));
    assert.ok(Array.isArray(failed));
    assert.equal(
      failed[1].message.error,
      'InvalidDbResponse: SQL Query Enrichment: at least one row was expected. 0 given instead',
    );
  } finally {
    for (const c of closers) await c.close?.();
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await admin.end();
  }
});
