/**
 * Integration: the DuckDB loader against a real database file in os.tmpdir().
 * The crash test re-runs this file as a child process (FURROW_DUCKDB_CRASH_CHILD) that SIGKILLs itself
 * inside a batch's transaction.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseDuckDbLoaderConfig } from '../src/loaders/duckdb/config.js';
import { DuckDbLoader, type DuckDbLoaderOptions } from '../src/loaders/duckdb/loader.js';
import { F, FIELD_COUNT } from '../src/protocol/enriched-fields.js';

const CONTEXTS = (i: number) =>
  JSON.stringify({
    schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1',
    data: [
      { schema: 'iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0', data: { id: `pv-${i}` } },
      { schema: 'iglu:com.acme/user/jsonschema/1-0-2', data: { plan: 'pro', seats: i } },
    ],
  });

/** A page view as Enrich writes it; `i` varies the ids and timestamps. */
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
  f[F.v_tracker] = 'js-3.24.0';
  f[F.v_collector] = 'furrow-collector-0.1.0';
  f[F.v_etl] = 'furrow-enrich-0.1.0';
  f[F.domain_userid] = `du-${i % 10}`;
  f[F.domain_sessionidx] = String(1 + (i % 3));
  f[F.geo_country] = 'FR';
  f[F.geo_latitude] = '48.8566';
  f[F.geo_longitude] = '2.3522';
  f[F.page_url] = `https://shop.example.com/p/${i}?q="x"`;
  f[F.page_urlport] = '443';
  f[F.contexts] = CONTEXTS(i);
  f[F.se_value] = '0.0';
  f[F.br_features_pdf] = '1';
  f[F.br_cookies] = '0';
  f[F.derived_tstamp] = ts;
  f[F.event_name] = 'page_view';
  for (const [k, v] of Object.entries(overrides)) f[Number(k)] = v;
  return f.join('\t');
}

function open(path: string, options: DuckDbLoaderOptions = {}): DuckDbLoader {
  return new DuckDbLoader(parseDuckDbLoaderConfig({ path, threads: 2 }), options);
}

async function count(loader: DuckDbLoader, where = 'true'): Promise<number> {
  const [r] = await loader.query(`SELECT count(*)::INTEGER AS n FROM atomic.events WHERE ${where}`);
  return r.n as number;
}

const crashChild = process.env.FURROW_DUCKDB_CRASH_CHILD;
if (crashChild !== undefined) {
  // Child: commit batch A, then die by SIGKILL inside batch B's transaction.
  let crash = false;
  const loader = open(crashChild, {
    beforeCommit: () => {
      if (crash) process.kill(process.pid, 'SIGKILL');
    },
  });
  await loader.init();
  await loader.loadGood(Array.from({ length: 100 }, (_, i) => line(i, undefined, { [F.app_id]: 'batch-a' })));
  crash = true;
  await loader.loadGood(Array.from({ length: 100 }, (_, i) => line(i, undefined, { [F.app_id]: 'batch-b' })));
  process.exit(3); // not reached
} else {
  describe('DuckDbLoader (real DuckDB file)', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'furrow-duckdb-'));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('loads lines with typed columns, JSON contexts and load_tstamp', async () => {
      const loader = open(join(dir, 'types.duckdb'), { now: () => new Date('2025-05-01T00:00:00.250Z') });
      await loader.init();
      const id = randomUUID();
      const lines = [line(7, id), ...Array.from({ length: 49 }, (_, i) => line(i))];
      assert.deepEqual(await loader.loadGood(lines), { inserted: 50, rejected: 0 });
      const [r] = await loader.query(`
        SELECT collector_tstamp, typeof(collector_tstamp) AS ts_type, event_id::VARCHAR AS event_id,
               typeof(event_id) AS id_type, br_features_pdf, br_cookies, br_features_java, geo_latitude,
               se_value, domain_sessionidx, page_urlport, page_url, typeof(contexts) AS ctx_type,
               contexts->>'$.data[0].data.id' AS page_view_id,
               (contexts->'$.data[1].data.seats')::INTEGER AS seats, unstruct_event, load_tstamp
        FROM atomic.events WHERE event_id = '${id}'`);
      assert.equal(r.ts_type, 'TIMESTAMP');
      assert.deepEqual(r.collector_tstamp, new Date('2025-04-30T10:00:07.000Z'));
      assert.equal(r.event_id, id);
      assert.equal(r.id_type, 'UUID');
      assert.equal(r.br_features_pdf, true);
      assert.equal(r.br_cookies, false);
      assert.equal(r.br_features_java, null);
      assert.equal(r.geo_latitude, 48.8566);
      assert.equal(r.se_value, 0);
      assert.equal(r.domain_sessionidx, 2);
      assert.equal(r.page_urlport, 443);
      assert.equal(r.page_url, 'https://shop.example.com/p/7?q="x"');
      assert.equal(r.ctx_type, 'JSON');
      assert.equal(r.page_view_id, 'pv-7');
      assert.equal(r.seats, 7);
      assert.equal(r.unstruct_event, null);
      assert.deepEqual(r.load_tstamp, new Date('2025-05-01T00:00:00.250Z'));
      await loader.close();
    });

    it('dedupes within the batch range of collector_tstamp widened by dedupeWindowSeconds', async () => {
      for (const method of ['copy', 'appender'] as const) {
        const loader = new DuckDbLoader(
          parseDuckDbLoaderConfig({ path: join(dir, `window-${method}.duckdb`), dedupeWindowSeconds: 60 }),
          { method },
        );
        await loader.init();
        // line(i) is collector_tstamp 2025-04-30 10:00 + i seconds
        const early = line(0);
        const id = randomUUID();
        assert.equal((await loader.loadGood([early, line(10, id)])).inserted, 2);
        // a replay spread over hours (after a long outage) still matches its own rows exactly
        assert.equal((await loader.loadGood([line(7200), early, line(10, id), line(14_400)])).inserted, 2);
        // a resend of the same event_id 50 s later is within the window; 2 h later it is not
        assert.equal((await loader.loadGood([line(60, id)])).inserted, 0, `${method}: inside the window`);
        assert.equal((await loader.loadGood([line(7210, id)])).inserted, 1, `${method}: outside the window`);
        assert.equal(await count(loader), 5);
        await loader.close();
      }
    });

    it('stages multi-byte text intact across batches of growing and shrinking size', async () => {
      // the copy method reuses one staging buffer: a grown buffer, then a shorter batch, must stage
      // exactly the current batch's bytes
      const loader = open(join(dir, 'utf8.duckdb'));
      await loader.init();
      const title = (i: number) => `Größe ✓ 😀 ${'é'.repeat(i % 50)} #${i}`;
      const batch = (from: number, n: number) =>
        Array.from({ length: n }, (_, k) =>
          line(from + k, randomUUID(), { [F.page_title]: title(from + k) }),
        );
      assert.equal((await loader.loadGood(batch(0, 3))).inserted, 3);
      assert.equal((await loader.loadGood(batch(3, 2000))).inserted, 2000);
      assert.equal((await loader.loadGood(batch(2003, 5))).inserted, 5);
      const rows = await loader.query('SELECT page_title FROM atomic.events');
      assert.equal(rows.length, 2008);
      const expected = new Set(Array.from({ length: 2008 }, (_, i) => title(i)));
      for (const r of rows) assert.ok(expected.delete(r.page_title as string), `unexpected ${r.page_title}`);
      await loader.close();
    });

    it('is idempotent: a replayed batch and in-batch duplicates add no row', async () => {
      const loader = open(join(dir, 'dedupe.duckdb'));
      await loader.init();
      const batch = Array.from({ length: 200 }, (_, i) => line(i));
      assert.deepEqual(await loader.loadGood(batch), { inserted: 200, rejected: 0 });
      assert.deepEqual(await loader.loadGood(batch), { inserted: 0, rejected: 0 });
      const dupId = randomUUID();
      const upper = dupId.toUpperCase();
      // Same id three times in one batch (once upper-cased), plus half of the earlier batch again.
      const mixed = [
        line(1000, dupId),
        line(1001, dupId),
        line(1002, upper),
        ...batch.slice(0, 100),
        line(1003),
      ];
      assert.deepEqual(await loader.loadGood(mixed), { inserted: 2, rejected: 0 });
      assert.equal(await count(loader), 202);
      const [d] = await loader.query(
        'SELECT count(*)::INTEGER AS n, count(DISTINCT event_id)::INTEGER AS d FROM atomic.events',
      );
      assert.equal(d.n, d.d);
      const [first] = await loader.query(
        `SELECT collector_tstamp FROM atomic.events WHERE event_id = '${dupId}'`,
      );
      assert.deepEqual(first.collector_tstamp, new Date(Date.UTC(2025, 3, 30, 10) + 1000 * 1000)); // first line wins
      await loader.close();
    });

    it('stores malformed lines as loader_parsing_error bad rows and loads the rest', async () => {
      const loader = open(join(dir, 'bad.duckdb'));
      await loader.init();
      const good = Array.from({ length: 20 }, (_, i) => line(i));
      const wrongCount = 'a\tb\tc';
      const badBool = line(99, undefined, { [F.br_cookies]: 'yes' });
      const batch = [...good.slice(0, 10), wrongCount, badBool, ...good.slice(10)];
      assert.deepEqual(await loader.loadGood(batch), { inserted: 20, rejected: 2 });
      const rows = await loader.query(
        `SELECT schema, failure_type, failure->>'type' AS type, failure, payload->>'$' AS payload,
                processor->>'artifact' AS artifact, bad_row->'data'->>'payload' AS inner_payload
         FROM atomic.bad_rows ORDER BY type`,
      );
      assert.equal(rows.length, 2);
      assert.equal(
        rows[0].schema,
        'iglu:com.snowplowanalytics.snowplow.badrows/loader_parsing_error/jsonschema/2-0-0',
      );
      assert.equal(rows[0].failure_type, 'loader_parsing_error');
      assert.equal(rows[0].type, 'FieldNumberMismatch');
      assert.deepEqual(JSON.parse(rows[0].failure as string), { type: 'FieldNumberMismatch', fieldCount: 3 });
      assert.equal(rows[0].payload, wrongCount);
      assert.equal(rows[0].artifact, 'furrow-loader-duckdb');
      assert.equal(rows[1].type, 'RowDecodingError');
      assert.deepEqual(JSON.parse(rows[1].failure as string).errors, [
        {
          type: 'InvalidValue',
          key: 'br_cookies',
          value: 'yes',
          message: 'Cannot parse key br_cookies into boolean',
        },
      ]);
      assert.equal(rows[1].inner_payload, badBool);
      // A replay of the same batch stores neither the events nor the bad rows again.
      assert.deepEqual(await loader.loadGood(batch), { inserted: 0, rejected: 2 });
      const [n] = await loader.query('SELECT count(*)::INTEGER AS n FROM atomic.bad_rows');
      assert.equal(n.n, 2);
      await loader.close();
    });

    it('loadBad stores self-describing bad rows, once, and keeps non-JSON input too', async () => {
      const loader = open(join(dir, 'loadbad.duckdb'));
      await loader.init();
      const sv = JSON.stringify({
        schema: 'iglu:com.snowplowanalytics.snowplow.badrows/schema_violations/jsonschema/2-0-1',
        data: {
          processor: { artifact: 'furrow-enrich', version: '0.1.0' },
          failure: {
            timestamp: '2025-04-30T10:05:00Z',
            messages: [{ schemaKey: 'iglu:com.acme/x/jsonschema/1-0-0' }],
          },
          payload: { enriched: { app_id: 'shop' }, raw: { vendor: 'com.snowplowanalytics.snowplow' } },
        },
      });
      assert.equal(await loader.loadBad([sv, 'not json \ud800']), 2);
      assert.equal(await loader.loadBad([sv]), 0);
      const rows = await loader.query(
        `SELECT failure_type, payload->'enriched'->>'app_id' AS app, failure->'messages'->0->>'schemaKey' AS key,
                bad_row->>'$' AS text FROM atomic.bad_rows ORDER BY failure_type NULLS LAST`,
      );
      assert.equal(rows[0].failure_type, 'schema_violations');
      assert.equal(rows[0].app, 'shop');
      assert.equal(rows[0].key, 'iglu:com.acme/x/jsonschema/1-0-0');
      assert.equal(rows[1].failure_type, null);
      assert.equal(rows[1].text, 'not json \ufffd');
      await loader.close();
    });

    it('a batch that fails inside its transaction leaves nothing behind', async () => {
      let fail = false;
      const loader = open(join(dir, 'rollback.duckdb'), {
        beforeCommit: () => {
          if (fail) throw new Error('injected failure before COMMIT');
        },
      });
      await loader.init();
      await loader.loadGood(Array.from({ length: 30 }, (_, i) => line(i)));
      fail = true;
      const batch = [...Array.from({ length: 30 }, (_, i) => line(100 + i)), 'oops\tline'];
      await assert.rejects(loader.loadGood(batch), /injected failure/);
      assert.equal(await count(loader), 30);
      const [b] = await loader.query('SELECT count(*)::INTEGER AS n FROM atomic.bad_rows');
      assert.equal(b.n, 0, 'bad rows are part of the same transaction');
      fail = false;
      assert.deepEqual(await loader.loadGood(batch), { inserted: 30, rejected: 1 });
      assert.equal(await count(loader), 60);
      await loader.close();
    });

    it('survives a SIGKILL mid-batch: the committed batch is there on reopen, the other is not', async () => {
      const path = join(dir, 'crash.duckdb');
      const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], {
        env: { ...process.env, FURROW_DUCKDB_CRASH_CHILD: path },
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(child.signal, 'SIGKILL', child.stderr);
      const loader = open(path);
      await loader.init();
      assert.equal(await count(loader, "app_id = 'batch-a'"), 100);
      assert.equal(await count(loader, "app_id = 'batch-b'"), 0);
      assert.deepEqual(
        (await readdir(dir)).filter((n) => n.startsWith('crash.duckdb.stage-')),
        [],
        'stale staging files are removed',
      );
      await loader.close();
    });

    it('keeps the data across close and reopen', async () => {
      const path = join(dir, 'reopen.duckdb');
      const first = open(path);
      await first.init();
      const batch = Array.from({ length: 500 }, (_, i) => line(i));
      await first.loadGood(batch);
      await first.close();
      await assert.rejects(first.loadGood(batch), /closed/);
      const second = open(path);
      await second.init();
      assert.equal(await count(second), 500);
      assert.deepEqual(await second.loadGood(batch), { inserted: 0, rejected: 0 });
      await second.close();
    });

    it('the appender method loads the same rows', async () => {
      const loader = open(join(dir, 'appender.duckdb'), { method: 'appender' });
      await loader.init();
      const batch = Array.from({ length: 100 }, (_, i) => line(i));
      assert.deepEqual(await loader.loadGood([...batch, 'x\ty']), { inserted: 100, rejected: 1 });
      assert.deepEqual(await loader.loadGood(batch), { inserted: 0, rejected: 0 });
      const [r] = await loader.query(
        "SELECT count(*)::INTEGER AS n, sum(geo_latitude) AS lat, count(*) FILTER (br_features_pdf)::INTEGER AS pdf, max(contexts->>'$.data[1].data.seats') AS s FROM atomic.events",
      );
      assert.equal(r.n, 100);
      assert.equal(r.pdf, 100);
      assert.ok(Math.abs((r.lat as number) - 4885.66) < 1e-6);
      await loader.close();
    });
  });
}
