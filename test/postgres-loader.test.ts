/**
 * Integration: the PostgreSQL loader against the real server (settings from test/helpers/services.ts:
 * PG* variables, default 127.0.0.1:5432, database `test`). Every run works in its own schema
 * (`furrow_it_<pid>_<random>`, instead of `atomic`) and drops it at the end.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, describe, it, type TestContext } from 'node:test';
import pg from 'pg';
import { parsePostgresLoaderConfig } from '../src/loaders/postgres/config.js';
import { PostgresLoader, type PostgresLoaderOptions } from '../src/loaders/postgres/loader.js';
import { ATOMIC_COLUMNS } from '../src/loaders/postgres/schema.js';
import { F, FIELD_COUNT } from '../src/protocol/enriched-fields.js';
import { type DbServer, requirePostgres } from './helpers/services.js';

const RUN = `furrow_it_${process.pid}_${randomBytes(3).toString('hex')}`;
const CONTEXTS_SCHEMA = 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1';
const UE_SCHEMA = 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0';

interface Entity {
  schema: string;
  data: unknown;
}

function contexts(entities: Entity[]): string {
  return JSON.stringify({ schema: CONTEXTS_SCHEMA, data: entities });
}

/** A page view as Enrich writes it; `i` varies ids and timestamps; `overrides` set fields by index. */
function line(i: number, id: string = randomUUID(), overrides: Record<number, string> = {}): string {
  const f = new Array<string>(FIELD_COUNT).fill('');
  const ts = new Date(Date.UTC(2025, 3, 30, 10) + i * 1000).toISOString().replace('T', ' ').slice(0, 23);
  f[F.app_id] = 'shop';
  f[F.platform] = 'web';
  f[F.etl_tstamp] = ts;
  f[F.collector_tstamp] = ts;
  f[F.dvce_created_tstamp] = ts;
  f[F.event] = 'page_view';
  f[F.event_id] = id;
  f[F.name_tracker] = 'sp';
  f[F.v_tracker] = 'js-3.24.0';
  f[F.v_collector] = 'furrow-collector-0.1.0';
  f[F.v_etl] = 'furrow-enrich-0.1.0';
  f[F.user_ipaddress] = '203.0.113.7';
  f[F.domain_userid] = `du-${i % 10}`;
  f[F.domain_sessionidx] = String(1 + (i % 3));
  f[F.geo_country] = 'FR';
  f[F.geo_latitude] = '48.8566';
  f[F.geo_longitude] = '2.3522';
  f[F.page_url] = `https://shop.example.com/p/${i}?q="x"\\y`;
  f[F.page_title] = 'Caf\u00e9 \ud83d\ude00';
  f[F.page_urlport] = '443';
  f[F.contexts] = contexts([
    { schema: 'iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0', data: { id: `pv-${i}` } },
    { schema: 'iglu:com.acme/user/jsonschema/1-0-2', data: { plan: 'pro', seats: i } },
  ]);
  f[F.se_value] = '0.0';
  f[F.br_features_pdf] = '1';
  f[F.br_cookies] = '0';
  f[F.derived_contexts] = contexts([
    {
      schema: 'iglu:com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-0',
      data: { useragentFamily: 'Chrome' },
    },
  ]);
  f[F.domain_sessionid] = randomUUID();
  f[F.derived_tstamp] = ts;
  f[F.event_vendor] = 'com.snowplowanalytics.snowplow';
  f[F.event_name] = 'page_view';
  f[F.event_format] = 'jsonschema';
  f[F.event_version] = '1-0-0';
  for (const [k, v] of Object.entries(overrides)) f[Number(k)] = v;
  return f.join('\t');
}

function lines(n: number, overrides: Record<number, string> = {}): string[] {
  return Array.from({ length: n }, (_, i) => line(i, undefined, overrides));
}

let schemaSeq = 0;
const schemas: string[] = [];

/** A fresh schema name for one test; all are dropped at the end. */
function freshSchema(): string {
  const s = `${RUN}_${schemaSeq++}`;
  schemas.push(s);
  return s;
}

function open(
  server: DbServer,
  schema: string,
  options: PostgresLoaderOptions = {},
  extra = {},
): PostgresLoader {
  const config = parsePostgresLoaderConfig(
    { ...server, schema, ...extra },
    { env: {} }, // the settings are all explicit; the environment must not change them
  );
  return new PostgresLoader(config, options);
}

async function count(
  loader: PostgresLoader,
  schema: string,
  table = 'events',
  where = 'true',
): Promise<number> {
  const [r] = await loader.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM "${schema}".${table} WHERE ${where}`,
  );
  return r.n;
}

async function admin<T>(server: DbServer, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...server });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

let serverForCleanup: DbServer | undefined;

/** A loader on a fresh schema, initialised, closed afterwards; skipped when PostgreSQL is absent. */
async function withLoader(
  t: TestContext,
  fn: (c: { loader: PostgresLoader; schema: string; server: DbServer }) => Promise<void>,
): Promise<void> {
  const server = await setup(t);
  if (server === undefined) return;
  const schema = freshSchema();
  const loader = open(server, schema);
  try {
    await loader.init();
    await fn({ loader, schema, server });
  } finally {
    await loader.close();
  }
}

async function setup(t: TestContext): Promise<DbServer | undefined> {
  const server = await requirePostgres(t);
  if (server !== undefined) serverForCleanup = server;
  return server;
}

after(async () => {
  if (serverForCleanup === undefined || schemas.length === 0) return;
  await admin(serverForCleanup, async (c) => {
    for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  });
});

describe('PostgresLoader (real PostgreSQL)', () => {
  it('creates atomic.events with Snowplow types and loads typed rows with wide jsonb entity columns', async (t) => {
    const server = await setup(t);
    if (server === undefined) return;
    const schema = freshSchema();
    const loader = open(server, schema, { now: () => new Date('2025-05-01T00:00:00.250Z') });
    try {
      await loader.init();
      const id = randomUUID();
      const batch = [line(7, id), ...lines(49)];
      assert.deepEqual(await loader.loadGood(batch), { inserted: 50, rejected: 0 });

      // layout: 128 atomic columns in TSV order, then load_tstamp, then the entity columns
      const cols = await loader.query<{
        column_name: string;
        data_type: string;
        is_nullable: string;
        len: number | null;
      }>(
        `SELECT column_name, data_type, is_nullable, character_maximum_length AS len
         FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'events' ORDER BY ordinal_position`,
        [schema],
      );
      assert.deepEqual(
        cols.slice(0, 128).map((c) => c.column_name),
        ATOMIC_COLUMNS.map((c) => c.name),
      );
      assert.equal(ATOMIC_COLUMNS.length, 128);
      assert.equal(cols[128].column_name, 'load_tstamp');
      const byName = new Map(cols.map((c) => [c.column_name, c]));
      const typeOf = (n: string) => byName.get(n)?.data_type;
      assert.equal(typeOf('event_id'), 'uuid');
      assert.equal(byName.get('event_id')?.is_nullable, 'NO');
      assert.equal(byName.get('collector_tstamp')?.is_nullable, 'NO');
      assert.equal(byName.get('v_collector')?.is_nullable, 'NO');
      assert.equal(byName.get('v_etl')?.is_nullable, 'NO');
      assert.equal(byName.get('app_id')?.is_nullable, 'YES');
      assert.equal(typeOf('collector_tstamp'), 'timestamp without time zone');
      assert.equal(typeOf('geo_latitude'), 'double precision');
      assert.equal(typeOf('se_value'), 'double precision');
      assert.equal(typeOf('br_features_pdf'), 'boolean');
      assert.equal(typeOf('domain_sessionidx'), 'integer');
      assert.equal(typeOf('geo_country'), 'character');
      assert.equal(byName.get('geo_country')?.len, 2);
      assert.equal(byName.get('page_url')?.len, 4096);
      assert.equal(byName.get('user_fingerprint')?.len, 50);
      assert.equal(typeOf('contexts_com_snowplowanalytics_snowplow_web_page_1'), 'jsonb');
      assert.equal(typeOf('contexts_com_acme_user_1'), 'jsonb');
      assert.equal(typeOf('contexts_com_snowplowanalytics_snowplow_ua_parser_context_1'), 'jsonb');
      assert.ok(!byName.has('contexts'), 'the raw JSON columns are not kept');

      const [r] = await loader.query(
        `SELECT collector_tstamp, pg_typeof(collector_tstamp)::text AS ts_type, collector_tstamp::text AS ts_text,
                event_id::text AS event_id, br_features_pdf, br_cookies, br_features_java, geo_latitude, se_value,
                domain_sessionidx, page_urlport, page_url, page_title, geo_country,
                contexts_com_snowplowanalytics_snowplow_web_page_1->0->>'id' AS page_view_id,
                jsonb_typeof(contexts_com_snowplowanalytics_snowplow_web_page_1) AS web_page_type,
                contexts_com_snowplowanalytics_snowplow_web_page_1->0->>'_schema_version' AS web_page_version,
                (contexts_com_acme_user_1->0->>'seats')::int AS seats,
                contexts_com_snowplowanalytics_snowplow_ua_parser_context_1->0->>'useragentFamily' AS ua,
                load_tstamp::text AS load_tstamp
         FROM "${schema}".events WHERE event_id = $1`,
        [id],
      );
      assert.equal(r.ts_type, 'timestamp without time zone');
      assert.equal(r.ts_text, '2025-04-30 10:00:07');
      assert.equal(r.event_id, id);
      assert.equal(r.br_features_pdf, true);
      assert.equal(r.br_cookies, false);
      assert.equal(r.br_features_java, null);
      assert.equal(r.geo_latitude, 48.8566);
      assert.equal(r.se_value, 0);
      assert.equal(r.domain_sessionidx, 2);
      assert.equal(r.page_urlport, 443);
      assert.equal(r.page_url, 'https://shop.example.com/p/7?q="x"\\y');
      assert.equal(r.page_title, 'Caf\u00e9 \ud83d\ude00');
      assert.equal(r.geo_country, 'FR');
      assert.equal(r.page_view_id, 'pv-7');
      assert.equal(r.web_page_type, 'array');
      assert.equal(r.web_page_version, '1-0-0');
      assert.equal(r.seats, 7);
      assert.equal(r.ua, 'Chrome', 'derived_contexts land in the same kind of column');
      assert.equal(r.load_tstamp, '2025-05-01 00:00:00.25');
      assert.equal(await count(loader, schema, 'events', 'user_id IS NULL'), 50, 'empty field → NULL');
    } finally {
      await loader.close();
    }
  });

  it('keeps the self-describing event, big integers and both contexts columns exactly', async (t) => {
    await withLoader(t, async ({ loader, schema }) => {
      const id = randomUUID();
      const ue = `{"schema":"${UE_SCHEMA}","data":{"schema":"iglu:com.acme/Add-To-Cart/jsonschema/2-1-0","data":{"sku":"a\\tb","big":12345678901234567890123,"qty":2}}}`;
      const ctx = `{"schema":"${CONTEXTS_SCHEMA}","data":[{"schema":"iglu:com.acme/user/jsonschema/1-0-0","data":{"n":1}},{"schema":"iglu:com.acme/user/jsonschema/1-1-0","data":{"n":2}}]}`;
      const derived = `{"schema":"${CONTEXTS_SCHEMA}","data":[{"schema":"iglu:com.acme/user/jsonschema/1-0-1","data":{}}]}`;
      const l = line(1, id, { [F.unstruct_event]: ue, [F.contexts]: ctx, [F.derived_contexts]: derived });
      assert.deepEqual(await loader.loadGood([l]), { inserted: 1, rejected: 0 });
      const [r] = await loader.query(
        `SELECT unstruct_event_com_acme_add_to_cart_2::text AS ue, unstruct_event_com_acme_add_to_cart_2->>'sku' AS sku,
                unstruct_event_com_acme_add_to_cart_2->>'big' AS big, contexts_com_acme_user_1 AS users
         FROM "${schema}".events WHERE event_id = $1`,
        [id],
      );
      assert.equal(r.sku, 'a\tb');
      assert.equal(r.big, '12345678901234567890123', 'numbers are not rounded through a JS double');
      assert.deepEqual(r.users, [
        { n: 1, _schema_version: '1-0-0' },
        { n: 2, _schema_version: '1-1-0' },
        { _schema_version: '1-0-1' },
      ]);
    });
  });

  it('the direct COPY path stores exactly what the staged path stores', async (t) => {
    await withLoader(t, async ({ loader, schema }) => {
      const ue = `{"schema":"${UE_SCHEMA}","data":{"schema":"iglu:com.acme/cart/jsonschema/1-0-0","data":{"sku":"a\\\\b\\tc","big":12345678901234567890123}}}`;
      const ctx = `{"schema":"${CONTEXTS_SCHEMA}","data":[{"schema":"iglu:com.acme/user/jsonschema/1-0-0","data":{"n":1}}]}`;
      const fields = { [F.unstruct_event]: ue, [F.contexts]: ctx, [F.page_title]: 'back\\slash' };
      const [a, b] = [randomUUID(), randomUUID()];
      // the first line brings new columns: staged path with a migration; the second finds them: direct
      assert.deepEqual(await loader.loadGood([line(1, a, fields)]), { inserted: 1, rejected: 0 });
      assert.deepEqual(loader.paths, { direct: 0, staged: 1 });
      assert.deepEqual(await loader.loadGood([line(1, b, fields), 'not a tsv line']), {
        inserted: 1,
        rejected: 1,
      });
      assert.deepEqual(loader.paths, { direct: 1, staged: 1 });
      const rows = await loader.query<{ event_id: string; row: Record<string, unknown> }>(
        `SELECT event_id, to_jsonb(e) - 'event_id' - 'domain_sessionid' - 'load_tstamp' AS row FROM "${schema}".events e`,
      );
      assert.equal(rows.length, 2);
      assert.deepEqual(rows[0].row, rows[1].row);
      assert.equal(rows[0].row.page_title, 'back\\slash');
      assert.deepEqual(rows[0].row.unstruct_event_com_acme_cart_1, {
        sku: 'a\\b\tc',
        big: 12345678901234567890123,
      });
      assert.equal(await count(loader, schema, 'bad_rows'), 1);
    });
  });

  it('is idempotent: a replayed batch and in-batch duplicates insert nothing twice', async (t) => {
    await withLoader(t, async ({ loader, schema }) => {
      const batch = lines(200);
      assert.deepEqual(await loader.loadGood(batch), { inserted: 200, rejected: 0 });
      assert.deepEqual(await loader.loadGood(batch), { inserted: 0, rejected: 0 }, 'replay');
      // the replay's direct COPY hit the unique index and rolled back; the staged path inserted nothing
      assert.deepEqual(loader.paths, { direct: 0, staged: 2 });
      assert.equal(await count(loader, schema), 200);

      // in-batch duplicates: the first line of an event_id wins
      const id = randomUUID();
      const dup = [
        line(1, id, { [F.app_id]: 'first' }),
        line(2, id.toUpperCase(), { [F.app_id]: 'second' }),
        line(3, id, { [F.app_id]: 'third' }),
        ...lines(10),
      ];
      assert.deepEqual(await loader.loadGood(dup), { inserted: 11, rejected: 0 });
      const rows = await loader.query<{ app_id: string }>(
        `SELECT app_id FROM "${schema}".events WHERE event_id = $1`,
        [id],
      );
      assert.deepEqual(
        rows.map((x) => x.app_id),
        ['first'],
      );
      // a replay mixing old and new lines inserts only the new ones
      const mixed = [...batch.slice(0, 50), ...lines(5)];
      assert.deepEqual(await loader.loadGood(mixed), { inserted: 5, rejected: 0 });
      assert.equal(await count(loader, schema), 216);
      const [idx] = await loader.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname = $1 AND tablename = 'events'
         AND indexdef LIKE 'CREATE UNIQUE INDEX%(event_id)'`,
        [schema],
      );
      assert.equal(idx.n, 1);
    });
  });

  it('splits a call into batches bounded by maxRows and maxBytes, one transaction each', async (t) => {
    const server = await setup(t);
    if (server === undefined) return;
    const schema = freshSchema();
    let tick = 0;
    const now = () => new Date(Date.UTC(2025, 4, 1) + tick++ * 1000);
    const byRows = open(server, schema, { now }, { maxRows: 10 });
    try {
      await byRows.init();
      assert.deepEqual(await byRows.loadGood(lines(25)), { inserted: 25, rejected: 0 });
      const [r] = await byRows.query<{ n: number }>(
        `SELECT count(DISTINCT load_tstamp)::int AS n FROM "${schema}".events`,
      );
      assert.equal(r.n, 3, '25 lines at maxRows 10 → 3 batches');
    } finally {
      await byRows.close();
    }
    const bySize = open(server, schema, { now }, { maxBytes: 4096 });
    try {
      await bySize.init();
      const batch = lines(12);
      const perLine = Buffer.byteLength(batch[0]) + 1;
      assert.deepEqual(await bySize.loadGood(batch), { inserted: 12, rejected: 0 });
      const [r] = await bySize.query<{ n: number }>(
        `SELECT count(DISTINCT load_tstamp)::int AS n FROM "${schema}".events WHERE load_tstamp > '2025-05-01 00:00:02'`,
      );
      assert.equal(r.n, Math.ceil(12 / Math.floor(4096 / perLine)));
    } finally {
      await bySize.close();
    }
  });

  it('migrates: a new schema major or vendor adds a jsonb column inside the load; minors share it', async (t) => {
    await withLoader(t, async ({ loader, schema }) => {
      await loader.loadGood(lines(5));
      const v2 = contexts([{ schema: 'iglu:com.acme/user/jsonschema/2-0-0', data: { plan: 'team' } }]);
      const minor = contexts([{ schema: 'iglu:com.acme/user/jsonschema/1-3-0', data: { plan: 'free' } }]);
      const perf = contexts([
        { schema: 'iglu:org.w3/PerformanceTiming/jsonschema/1-0-0', data: { domComplete: 10 } },
        { schema: 'iglu:org.ietf/HTTPHeader/jsonschema/1-0-0', data: { name: 'x', value: 'y' } },
      ]);
      const id2 = randomUUID();
      const idMinor = randomUUID();
      const r = await loader.loadGood([
        line(1, id2, { [F.contexts]: v2 }),
        line(2, idMinor, { [F.contexts]: minor }),
        line(3, undefined, { [F.contexts]: perf }),
      ]);
      assert.deepEqual(r, { inserted: 3, rejected: 0 });
      const cols = await loader.query<{ column_name: string; comment: string | null }>(
        `SELECT column_name, col_description($2::regclass, ordinal_position::int) AS comment
         FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'events' AND data_type = 'jsonb'
         ORDER BY ordinal_position`,
        [schema, `"${schema}".events`],
      );
      const names = cols.map((c) => c.column_name);
      for (const c of [
        'contexts_com_acme_user_2',
        'contexts_org_w3_performance_timing_1',
        'contexts_org_ietf_http_header_1',
      ])
        assert.ok(names.includes(c), `${c} added`);
      assert.equal(
        names.filter((n) => n.startsWith('contexts_com_acme_user_')).length,
        2,
        'user_1 and user_2',
      );
      assert.equal(
        cols.find((c) => c.column_name === 'contexts_com_acme_user_2')?.comment,
        'iglu:com.acme/user/jsonschema/2-0-0',
      );
      const [row] = await loader.query(
        `SELECT contexts_com_acme_user_2->0->>'plan' AS plan FROM "${schema}".events WHERE event_id = $1`,
        [id2],
      );
      assert.equal(row.plan, 'team');
      const [rowMinor] = await loader.query(
        `SELECT contexts_com_acme_user_1->0 AS u FROM "${schema}".events WHERE event_id = $1`,
        [idMinor],
      );
      assert.deepEqual(rowMinor.u, { plan: 'free', _schema_version: '1-3-0' });
    });
  });

  it('two loaders racing the same init and the same migrations both succeed', async (t) => {
    const server = await setup(t);
    if (server === undefined) return;
    const schema = freshSchema();
    const a = open(server, schema);
    const b = open(server, schema);
    try {
      await Promise.all([a.init(), b.init()]);
      for (let round = 0; round < 5; round++) {
        const ctx = contexts([{ schema: `iglu:com.race/entity_${round}/jsonschema/1-0-0`, data: { round } }]);
        const ue = `{"schema":"${UE_SCHEMA}","data":{"schema":"iglu:com.race/event_${round}/jsonschema/3-0-0","data":{"r":${round}}}}`;
        const results = await Promise.all([
          a.loadGood(lines(20, { [F.contexts]: ctx, [F.unstruct_event]: ue })),
          b.loadGood(lines(20, { [F.contexts]: ctx, [F.unstruct_event]: ue })),
        ]);
        assert.deepEqual(results, [
          { inserted: 20, rejected: 0 },
          { inserted: 20, rejected: 0 },
        ]);
      }
      const [r] = await a.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM information_schema.columns
         WHERE table_schema = $1 AND table_name = 'events' AND column_name LIKE '%com_race%'`,
        [schema],
      );
      assert.equal(r.n, 10);
      assert.equal(await count(a, schema, 'events', `contexts_com_race_entity_4_1->0->>'round' = '4'`), 40);
      assert.equal(await count(a, schema, 'events', `unstruct_event_com_race_event_4_3->>'r' = '4'`), 40);
      // both racing on the same event_ids: each row once
      const shared = lines(100);
      const both = await Promise.all([a.loadGood(shared), b.loadGood(shared)]);
      assert.equal(both[0].inserted + both[1].inserted, 100);
      assert.equal(await count(a, schema), 300);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('malformed lines become loader_parsing_error rows in bad_rows; the rest of the batch loads', async (t) => {
    await withLoader(t, async ({ loader, schema, server }) => {
      const good = lines(20);
      const ancient = randomUUID();
      const long = randomUUID();
      const huge = randomUUID();
      const malformed = [
        'not a tsv line',
        'a\tb\tc',
        line(1, undefined, { [F.collector_tstamp]: '2025-13-45 99:00:00.000' }),
        line(2, 'not-a-uuid'),
        line(3, undefined, { [F.br_features_pdf]: 'yes' }),
        line(4, undefined, { [F.app_id]: 'nul\u0000inside' }),
        line(5, undefined, {
          [F.contexts]: contexts([{ schema: 'iglu:com.acme/x/jsonschema/1-0-0', data: { s: 'a\u0000b' } }]),
        }),
        line(6, undefined, {
          [F.contexts]: '{"schema":"iglu:com.acme/not_contexts/jsonschema/1-0-0","data":[]}',
        }),
        // valid JSON whose number PostgreSQL's numeric cannot hold: only the server can refuse it
        line(7, undefined, {
          [F.contexts]: `{"schema":"${CONTEXTS_SCHEMA}","data":[{"schema":"iglu:com.acme/x/jsonschema/1-0-0","data":{"n":1e999999}}]}`,
        }),
      ];
      // accepted with a PostgreSQL adaptation rather than rejected
      const adapted = [
        line(8, ancient, { [F.dvce_created_tstamp]: '0000-06-01 12:00:00.000' }),
        line(9, long, { [F.os_timezone]: 'Z'.repeat(60), [F.geo_country]: 'FRA' }),
        line(10, huge, { [F.tr_total]: '1e400', [F.ti_price]: '1e-400' }),
      ];
      const batch = [...good.slice(0, 10), ...malformed, ...adapted, ...good.slice(10)];
      assert.deepEqual(await loader.loadGood(batch), { inserted: 23, rejected: malformed.length });
      assert.equal(await count(loader, schema), 23);
      const bad = await loader.query<{
        schema: string;
        failure_type: string;
        failure: { type: string };
        payload: string;
        processor: { artifact: string };
      }>(
        `SELECT schema, failure_type, failure, payload, processor FROM "${schema}".bad_rows ORDER BY payload`,
      );
      assert.equal(bad.length, malformed.length);
      for (const b of bad) {
        assert.equal(
          b.schema,
          'iglu:com.snowplowanalytics.snowplow.badrows/loader_parsing_error/jsonschema/2-0-0',
        );
        assert.equal(b.failure_type, 'loader_parsing_error');
        assert.equal(b.processor.artifact, 'furrow-loader-postgres');
      }
      const types = bad.map((b) => b.failure.type).sort();
      assert.deepEqual(types, ['FieldNumberMismatch', 'NotTSV', ...Array(7).fill('RowDecodingError')].sort());
      const payloads = new Set(bad.map((b) => b.payload));
      assert.ok(payloads.has('not a tsv line'), 'payload is the raw line');
      assert.ok(payloads.has(malformed[2]));
      assert.ok(
        [...payloads].some((p) => p.includes('nul\ufffdinside')),
        'a NUL in the payload is stored as U+FFFD (jsonb cannot hold U+0000)',
      );
      const [a] = await loader.query(
        `SELECT dvce_created_tstamp::text AS t FROM "${schema}".events WHERE event_id = $1`,
        [ancient],
      );
      assert.equal(a.t, '0001-06-01 12:00:00 BC', 'ISO year 0000 is 1 BC');
      const [l] = await loader.query(
        `SELECT os_timezone, geo_country FROM "${schema}".events WHERE event_id = $1`,
        [long],
      );
      assert.equal(l.os_timezone, 'Z'.repeat(50), 'cut to VARCHAR(50)');
      assert.equal(l.geo_country, 'FR');
      const [h] = await loader.query(
        `SELECT tr_total, ti_price FROM "${schema}".events WHERE event_id = $1`,
        [huge],
      );
      assert.equal(h.tr_total, Number.POSITIVE_INFINITY);
      assert.equal(h.ti_price, 0);

      // replaying the same batch stores no bad row twice either
      assert.deepEqual(await loader.loadGood(batch), { inserted: 0, rejected: malformed.length });
      assert.equal(await count(loader, schema, 'bad_rows'), malformed.length);
    });
  });

  it('loadBad stores self-describing bad rows with their envelope split out, once', async (t) => {
    const server = await setup(t);
    if (server === undefined) return;
    const schema = freshSchema();
    const loader = open(server, schema, { now: () => new Date('2025-05-02T03:04:05.678Z') });
    try {
      await loader.init();
      const sv = JSON.stringify({
        schema: 'iglu:com.snowplowanalytics.snowplow.badrows/schema_violations/jsonschema/2-0-1',
        data: {
          processor: { artifact: 'furrow-enrich', version: '0.1.0' },
          failure: { timestamp: '2025-04-30T10:05:00Z', messages: [{ error: 'x' }] },
          payload: { enriched: { app_id: 'shop' }, raw: { vendor: 'com.snowplowanalytics.snowplow' } },
        },
      });
      const rows = [
        sv,
        'this is not json',
        '{"schema":"iglu:x/y/jsonschema/1-0-0","data":{"payload":"\\u0000"}}',
      ];
      assert.equal(await loader.loadBad(rows), 3);
      assert.equal(await loader.loadBad(rows), 0, 'replayed bad rows are not stored twice');
      const stored = await loader.query(
        `SELECT schema, failure_type, processor->>'artifact' AS artifact, payload->'enriched'->>'app_id' AS app,
                jsonb_typeof(bad_row) AS kind, bad_row #>> '{}' AS text, load_tstamp::text AS ts
         FROM "${schema}".bad_rows ORDER BY failure_type NULLS LAST, kind`,
      );
      assert.equal(stored[0].failure_type, 'schema_violations');
      assert.equal(stored[0].artifact, 'furrow-enrich');
      assert.equal(stored[0].app, 'shop');
      assert.equal(stored[0].ts, '2025-05-02 03:04:05.678');
      assert.equal(stored[1].failure_type, 'y');
      assert.equal(stored[2].kind, 'string');
      assert.equal(stored[2].text, 'this is not json');
      assert.equal(stored[2].schema, null);
    } finally {
      await loader.close();
    }
  });

  for (const hook of ['afterCopy', 'beforeCommit'] as const) {
    it(`a connection killed mid-batch (${hook}) rejects loadGood, leaves nothing partial, and the retry loads`, async (t) => {
      const server = await setup(t);
      if (server === undefined) return;
      const schema = freshSchema();
      let kill = true;
      const terminate = async (pid: number) => {
        if (!kill) return;
        kill = false;
        await admin(server, (c) => c.query('SELECT pg_terminate_backend($1, 5000)', [pid]));
      };
      const loader = open(server, schema, { hooks: { [hook]: terminate } });
      try {
        await loader.init();
        kill = false;
        await loader.loadGood(lines(10));
        kill = true;
        const batch = [...lines(300), 'garbage line'];
        await assert.rejects(loader.loadGood(batch));
        assert.equal(await count(loader, schema), 10, 'no row of the failed batch is visible');
        assert.equal(await count(loader, schema, 'bad_rows'), 0, 'nor its bad rows');
        // the caller's retry, on a fresh pooled connection
        assert.deepEqual(await loader.loadGood(batch), { inserted: 300, rejected: 1 });
        assert.equal(await count(loader, schema), 310);
        assert.equal(await count(loader, schema, 'bad_rows'), 1);
      } finally {
        await loader.close();
      }
    });
  }

  it('a server that cannot be reached makes init reject after the configured retries', async (t) => {
    const server = await setup(t);
    if (server === undefined) return;
    const loader = open(server, freshSchema(), {}, { port: 1, connectRetries: 1, connectTimeoutMs: 500 });
    try {
      await assert.rejects(loader.init(), (e: Error & { code?: string }) => e.code === 'ECONNREFUSED');
    } finally {
      await loader.close();
    }
  });
});
