import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import pg from 'pg';
import { type DbServer, requirePostgres } from '../../test/helpers/services.js';
import { readManifest } from './manifest.js';
import { backupPostgres, DUMP_FILE, type PgTarget, restorePostgres, toolVersion } from './postgres.js';

const SCHEMA = `furrow_bk_${process.pid}_${randomBytes(3).toString('hex')}`;

/** pg_dump and pg_restore present, else skip with the reason (fail under CI, where they must be) */
async function requireTools(t: TestContext): Promise<boolean> {
  for (const tool of ['pg_dump', 'pg_restore']) {
    if ((await toolVersion(tool)) === undefined) {
      const reason = `${tool} not found on PATH (install the PostgreSQL client)`;
      if (process.env.CI === 'true') assert.fail(`${reason}; CI must run this test`);
      process.stderr.write(`skipping "${t.name}": ${reason}\n`);
      t.skip(reason);
      return false;
    }
  }
  return true;
}

function target(s: DbServer): PgTarget {
  return {
    host: s.host,
    port: s.port,
    user: s.user,
    password: s.password,
    database: s.database,
    schema: SCHEMA,
  };
}

async function withClient<T>(s: DbServer, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(s);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const DUMP_EVENTS = (schema: string) =>
  `SELECT event_id::text, app_id, collector_tstamp::text, page_url, contexts::text FROM ${schema}.events ORDER BY event_id`;

describe('PostgreSQL warehouse backup and restore (pg_dump -Fc / pg_restore)', () => {
  let dir = '';
  let server: DbServer | undefined;
  after(async () => {
    if (server !== undefined)
      await withClient(server, (c) => c.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`));
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  it('backs up a warehouse schema, which is dropped, and restores every row', async (t) => {
    server = await requirePostgres(t);
    if (server === undefined || !(await requireTools(t))) return;
    const s = server;
    dir = await mkdtemp(join(tmpdir(), 'furrow-backup-pg-'));
    await withClient(s, async (c) => {
      await c.query(`CREATE SCHEMA ${SCHEMA}`);
      await c.query(`CREATE TABLE ${SCHEMA}.events (event_id uuid PRIMARY KEY, app_id varchar(255),
        collector_tstamp timestamp NOT NULL, page_url varchar(4096), contexts jsonb)`);
      await c.query(`CREATE TABLE ${SCHEMA}.bad_rows (row_hash char(40) PRIMARY KEY, bad_row jsonb)`);
      await c.query(`INSERT INTO ${SCHEMA}.events
        SELECT md5(g::text)::uuid, 'shop', timestamp '2026-01-01' + g * interval '1 second',
               'https://shop.example.com/p/' || g || '?q=''x''', jsonb_build_object('seats', g)
          FROM generate_series(1, 2500) g`);
      await c.query(`INSERT INTO ${SCHEMA}.bad_rows SELECT md5(g::text)::char(40), jsonb_build_object('n', g)
          FROM generate_series(1, 40) g`);
    });
    const before = await withClient(s, (c) => c.query(DUMP_EVENTS(SCHEMA)));

    const out = join(dir, 'pg-backup');
    const m = await backupPostgres({ target: target(s), out });
    assert.deepEqual(Object.fromEntries(m.tables.map((x) => [x.name, x.rows])), {
      [`${SCHEMA}.bad_rows`]: 40,
      [`${SCHEMA}.events`]: 2500,
    });
    assert.equal(m.files.length, 1);
    assert.equal(m.files[0].path, DUMP_FILE);
    assert.deepEqual(await readManifest(out), m);
    assert.ok(!m.source.includes(s.password === '' ? '\u0000' : s.password), 'no password in the manifest');

    await withClient(s, (c) => c.query(`DROP SCHEMA ${SCHEMA} CASCADE`));
    const r = await restorePostgres({ target: target(s), from: out });
    assert.equal(r.counts.get(`${SCHEMA}.events`), 2500);
    const restored = await withClient(s, (c) => c.query(DUMP_EVENTS(SCHEMA)));
    assert.deepEqual(restored.rows, before.rows, 'every event back, value for value');

    // restoring over a changed schema replaces it as a whole
    await withClient(s, (c) =>
      c.query(`DELETE FROM ${SCHEMA}.events WHERE app_id = 'shop' AND page_url LIKE '%/1%'`),
    );
    await restorePostgres({ target: target(s), from: out });
    const again = await withClient(s, (c) => c.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.events`));
    assert.equal(again.rows[0].n, 2500);

    // a damaged dump is refused before anything is touched
    await writeFile(join(out, DUMP_FILE), 'damaged');
    await assert.rejects(
      restorePostgres({ target: target(s), from: out }),
      /bytes, the manifest says|checksum/,
    );
  });
});
