import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { parseDuckDbLoaderConfig } from '../loaders/duckdb/config.js';
import { DuckDbLoader } from '../loaders/duckdb/loader.js';
import { F, FIELD_COUNT } from '../protocol/enriched-fields.js';
import { backupDuckDb, backupName, pruneBackups, restoreDuckDb } from './duckdb.js';
import { readManifest } from './manifest.js';

/** an enriched TSV line as Enrich writes it */
function line(i: number): string {
  const f = new Array<string>(FIELD_COUNT).fill('');
  const ts = new Date(Date.UTC(2026, 0, 1, 10) + i * 1000).toISOString().replace('T', ' ').slice(0, 23);
  f[F.app_id] = 'shop';
  f[F.platform] = 'web';
  f[F.etl_tstamp] = ts;
  f[F.collector_tstamp] = ts;
  f[F.dvce_created_tstamp] = ts;
  f[F.event] = i % 3 === 0 ? 'struct' : 'page_view';
  f[F.event_id] = randomUUID();
  f[F.v_tracker] = 'js-4.6.8';
  f[F.v_collector] = 'furrow-collector-0.1.0';
  f[F.v_etl] = 'furrow-enrich-0.1.0';
  f[F.page_url] = `https://shop.example.com/p/${i}?q='x'\\y`;
  f[F.page_title] = `Café ${i} \u{1F600}`;
  f[F.se_value] = String(i / 4);
  f[F.contexts] = JSON.stringify({
    schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1',
    data: [{ schema: 'iglu:com.acme/user/jsonschema/1-0-0', data: { seats: i } }],
  });
  f[F.derived_tstamp] = ts;
  return f.join('\t');
}

function badRow(i: number): string {
  return JSON.stringify({
    schema: 'iglu:com.snowplowanalytics.snowplow.badrows/schema_violations/jsonschema/2-0-0',
    data: { processor: { artifact: 'furrow', version: '0.1.0' }, failure: { n: i }, payload: { i } },
  });
}

async function query(path: string, sql: string): Promise<Record<string, unknown>[]> {
  const db = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY' });
  try {
    const c = await db.connect();
    try {
      return (await c.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
    } finally {
      c.closeSync();
    }
  } finally {
    db.closeSync();
  }
}

const CONTENT = {
  events: 'SELECT * EXCLUDE (load_tstamp) FROM atomic.events ORDER BY event_id',
  badRows: 'SELECT * FROM atomic.bad_rows ORDER BY row_hash',
};

describe('DuckDB warehouse backup and restore', () => {
  let dir = '';
  let dbPath = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'furrow-backup-duckdb-'));
    const dataDir = join(dir, 'data');
    const loader = new DuckDbLoader(parseDuckDbLoaderConfig({}, { dataDir }));
    await loader.init();
    for (let b = 0; b < 3; b++) {
      const r = await loader.loadGood(Array.from({ length: 400 }, (_, i) => line(b * 400 + i)));
      assert.equal(r.inserted, 400);
    }
    assert.equal((await loader.loadGood(['not\ta\tvalid line'])).rejected, 1);
    assert.equal(await loader.loadBad(Array.from({ length: 25 }, (_, i) => badRow(i))), 25);
    await loader.close();
    dbPath = join(dataDir, 'warehouse.duckdb');
  });
  after(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  it('backs up, the warehouse is deleted, restore brings back every row and value', async () => {
    const events = await query(dbPath, CONTENT.events);
    const bad = await query(dbPath, CONTENT.badRows);
    assert.equal(events.length, 1200);
    assert.equal(bad.length, 26, '25 bad rows + 1 loader_parsing_error');

    const out = join(dir, 'backups', backupName('duckdb'));
    const m = await backupDuckDb({ path: dbPath, out });
    assert.deepEqual(Object.fromEntries(m.tables.map((t) => [t.name, t.rows])), {
      'atomic.bad_rows': 26,
      'atomic.events': 1200,
    });
    const onDisk = await readManifest(out);
    assert.deepEqual(onDisk, m);
    assert.ok(m.files.some((f) => f.path === 'schema.sql'));
    assert.ok(m.files.every((f) => /^[0-9a-f]{64}$/.test(f.sha256)));
    assert.ok(!(await readdir(join(dir, 'backups'))).some((n) => n.includes('.partial-')));

    await rm(dbPath);
    await rm(`${dbPath}.wal`, { force: true });
    const r = await restoreDuckDb({ from: out, path: dbPath });
    assert.equal(r.counts.get('atomic.events'), 1200);
    assert.deepEqual(await query(dbPath, CONTENT.events), events, 'events identical, column by column');
    assert.deepEqual(await query(dbPath, CONTENT.badRows), bad, 'bad rows identical');
    const types = await query(
      dbPath,
      `SELECT column_name, data_type FROM information_schema.columns
        WHERE table_schema = 'atomic' AND table_name = 'events' AND column_name IN ('event_id', 'collector_tstamp')
        ORDER BY column_name`,
    );
    assert.deepEqual(types, [
      { column_name: 'collector_tstamp', data_type: 'TIMESTAMP' },
      { column_name: 'event_id', data_type: 'UUID' },
    ]);

    // the restored warehouse takes loads again, and still dedupes on event_id
    const loader = new DuckDbLoader(parseDuckDbLoaderConfig({ path: dbPath }));
    await loader.init();
    const again = await loader.loadGood([line(5000)]);
    await loader.close();
    assert.equal(again.inserted, 1);
  });

  it('refuses an existing target without force, a damaged backup, and a file held by a writer', async () => {
    const out = join(dir, 'b2');
    await backupDuckDb({ path: dbPath, out });
    await assert.rejects(restoreDuckDb({ from: out, path: dbPath }), /exists: pass --force/);
    const m = await readManifest(out);
    const parquet = m.tables[0].file as string;
    await writeFile(join(out, parquet), 'damaged');
    await assert.rejects(
      restoreDuckDb({ from: out, path: dbPath, force: true }),
      /bytes, the manifest says|checksum/,
    );
    const before = await query(dbPath, 'SELECT count(*)::INTEGER AS n FROM atomic.events');
    assert.deepEqual(before, [{ n: 1201 }], 'a refused restore leaves the warehouse untouched');

    // DuckDB's lock is per process: a writer in another process (a running loader) blocks the backup
    const writer = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { DuckDBInstance } from '@duckdb/node-api';
         const db = await DuckDBInstance.create(${JSON.stringify(dbPath)});
         process.stdout.write('open\\n');
         setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        writer.stdout?.once('data', () => resolve());
        writer.once('exit', (code) => reject(new Error(`writer exited with ${code}`)));
      });
      await assert.rejects(backupDuckDb({ path: dbPath, out: join(dir, 'b3') }), /open in another process/);
    } finally {
      // Wait for the exit: until then the child still holds DuckDB's lock on the file the next test uses.
      const exited =
        writer.exitCode !== null || writer.signalCode !== null
          ? Promise.resolve()
          : new Promise((r) => writer.once('exit', r));
      writer.kill('SIGKILL');
      await exited;
    }
  });

  it('keeps the newest N backups', async () => {
    const root = join(dir, 'rotating');
    for (const ts of ['20260101T000000Z', '20260102T000000Z', '20260103T000000Z']) {
      await backupDuckDb({ path: dbPath, out: join(root, `furrow-duckdb-${ts}`) });
    }
    const removed = await pruneBackups(root, 2);
    assert.deepEqual(removed, [join(root, 'furrow-duckdb-20260101T000000Z')]);
    assert.deepEqual((await readdir(root)).sort(), [
      'furrow-duckdb-20260102T000000Z',
      'furrow-duckdb-20260103T000000Z',
    ]);
  });
});
