/**
 * DuckDB loader throughput: rows/s loading realistic enriched TSV lines (~1.9 KB, contexts + derived
 * contexts) in batches, for both load methods, against a baseline measured in the same run: plain
 * `COPY` of the same staged batches into the same typed table, with no validation and no dedupe.
 *
 *   node dist/bench/duckdb-loader.js [--rows 100000] [--batch 5000] [--dedupe]
 *
 * `--dedupe` adds the 1M-row comparison of the two idempotency strategies (anti-join vs PRIMARY KEY +
 * INSERT OR IGNORE); it takes a few minutes, so it is off by default.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { parseDuckDbLoaderConfig } from '../src/loaders/duckdb/config.js';
import { DuckDbLoader, type LoadMethod } from '../src/loaders/duckdb/loader.js';
import { createStatements, eventsDdl, readStagedTsv } from '../src/loaders/duckdb/schema.js';
import { F, FIELD_COUNT } from '../src/protocol/enriched-fields.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    batch: { type: 'string', default: '5000' },
    dedupe: { type: 'boolean', default: false },
  },
});
const ROWS = Number(args.rows);
/** The baseline runs with the loader's DuckDB settings, so the ratio measures the loader's own work. */
const DEFAULTS = parseDuckDbLoaderConfig({});
const SETTINGS = { threads: String(DEFAULTS.threads), checkpoint_threshold: DEFAULTS.checkpointThreshold };
const BATCH = Number(args.batch);

const DERIVED = JSON.stringify({
  schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1',
  data: [
    {
      schema: 'iglu:com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-0',
      data: {
        useragentFamily: 'Chrome',
        useragentMajor: '120',
        useragentMinor: '0',
        useragentPatch: '6099',
        useragentVersion: 'Chrome 120.0.6099',
        osFamily: 'Mac OS X',
        osMajor: '10',
        osMinor: '15',
        osPatchMinor: null,
        osVersion: 'Mac OS X 10.15.7',
        deviceFamily: 'Mac',
      },
    },
  ],
});

function realisticLine(i: number): string {
  const f = new Array<string>(FIELD_COUNT).fill('');
  const ts = new Date(Date.UTC(2025, 3, 30, 10) + i * 37).toISOString().replace('T', ' ').slice(0, 23);
  const set = (k: keyof typeof F, v: string) => {
    f[F[k]] = v;
  };
  set('app_id', 'shop');
  set('platform', 'web');
  set('etl_tstamp', ts);
  set('collector_tstamp', ts);
  set('dvce_created_tstamp', ts);
  set('event', 'page_view');
  set('event_id', randomUUID());
  set('name_tracker', 'sp');
  set('v_tracker', 'js-3.24.0');
  set('v_collector', 'furrow-collector-0.1.0');
  set('v_etl', 'furrow-enrich-0.1.0');
  set('user_ipaddress', `203.0.113.${i % 255}`);
  set('domain_userid', randomUUID());
  set('domain_sessionidx', String(1 + (i % 7)));
  set('network_userid', randomUUID());
  set('geo_country', 'FR');
  set('geo_region', 'IDF');
  set('geo_city', 'Paris');
  set('geo_zipcode', '75001');
  set('geo_latitude', '48.8566');
  set('geo_longitude', '2.3522');
  set('geo_region_name', 'Ile-de-France');
  set('page_url', `https://shop.example.com/products/${i}?utm_source=news&utm_medium=email`);
  set('page_title', `Product ${i} — "Shop"`);
  set('page_referrer', 'https://www.google.com/search?q=shoes');
  set('page_urlscheme', 'https');
  set('page_urlhost', 'shop.example.com');
  set('page_urlport', '443');
  set('page_urlpath', `/products/${i}`);
  set('page_urlquery', 'utm_source=news&utm_medium=email');
  set('refr_urlscheme', 'https');
  set('refr_urlhost', 'www.google.com');
  set('refr_urlport', '443');
  set('refr_urlpath', '/search');
  set('refr_urlquery', 'q=shoes');
  set('refr_medium', 'search');
  set('refr_source', 'Google');
  set('refr_term', 'shoes');
  set('mkt_medium', 'email');
  set('mkt_source', 'news');
  set(
    'contexts',
    JSON.stringify({
      schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1',
      data: [
        {
          schema: 'iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0',
          data: { id: randomUUID() },
        },
        {
          schema: 'iglu:org.w3/PerformanceTiming/jsonschema/1-0-0',
          data: {
            navigationStart: 1700000000000 + i,
            domComplete: 1700000000950 + i,
            loadEventEnd: 1700000001000 + i,
          },
        },
        {
          schema: 'iglu:com.acme/user/jsonschema/1-0-2',
          data: { plan: 'pro', seats: i % 50, tags: ['a', 'b'] },
        },
      ],
    }),
  );
  set(
    'useragent',
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  );
  set('br_lang', 'fr-FR');
  set('br_features_pdf', '1');
  set('br_features_flash', '0');
  set('br_cookies', '1');
  set('br_colordepth', '24');
  set('br_viewwidth', '1440');
  set('br_viewheight', '900');
  set('os_timezone', 'Europe/Paris');
  set('dvce_screenwidth', '2560');
  set('dvce_screenheight', '1440');
  set('doc_charset', 'UTF-8');
  set('doc_width', '1440');
  set('doc_height', '5000');
  set('dvce_sent_tstamp', ts);
  set('derived_contexts', DERIVED);
  set('domain_sessionid', randomUUID());
  set('derived_tstamp', ts);
  set('event_vendor', 'com.snowplowanalytics.snowplow');
  set('event_name', 'page_view');
  set('event_format', 'jsonschema');
  set('event_version', '1-0-0');
  set('event_fingerprint', 'e3b0c44298fc1c149afbf4c8996fb924');
  return f.join('\t');
}

function rate(rows: number, ms: number): string {
  return `${Math.round((rows / ms) * 1000).toLocaleString('en-US')} rows/s`;
}

/** Baseline: the same batches staged and COPYed into the same typed table, nothing else. */
async function plainCopy(dir: string, batches: readonly string[][]): Promise<number> {
  const instance = await DuckDBInstance.create(join(dir, 'baseline.duckdb'), SETTINGS);
  const conn = await instance.connect();
  for (const sql of createStatements('atomic')) await conn.run(sql);
  const file = join(dir, 'baseline.tsv');
  const t = performance.now();
  for (const b of batches) {
    await writeFile(file, `${b.join('\n')}\n`);
    await conn.run('BEGIN TRANSACTION');
    await conn.run(`INSERT INTO atomic.events SELECT *, now()::TIMESTAMP FROM ${readStagedTsv(file)}`);
    await conn.run('COMMIT');
  }
  const ms = performance.now() - t;
  conn.closeSync();
  instance.closeSync();
  return ms;
}

/**
 * In `furrow up` the loader shares the event loop with the collector, so the longest stall it causes
 * matters as much as its rate: the appender's 131 native calls per row are synchronous.
 */
async function loader(
  dir: string,
  method: LoadMethod,
  batches: readonly string[][],
): Promise<{ ms: number; maxStallMs: number }> {
  const l = new DuckDbLoader(parseDuckDbLoaderConfig({ path: join(dir, `${method}.duckdb`) }), {
    method,
  });
  await l.init();
  const stalls = monitorEventLoopDelay({ resolution: 5 });
  stalls.enable();
  const t = performance.now();
  let inserted = 0;
  for (const b of batches) inserted += (await l.loadGood(b)).inserted;
  const ms = performance.now() - t;
  stalls.disable();
  if (inserted !== ROWS) throw new Error(`${method}: inserted ${inserted} of ${ROWS}`);
  await l.close();
  return { ms, maxStallMs: stalls.max / 1e6 };
}

/** Idempotency strategies on top of 1M rows already in the table (only the event_id column matters). */
async function dedupeAt1M(dir: string, batches: readonly string[][]): Promise<void> {
  const variants: Array<[string, (s: string) => string, string]> = [
    ['no dedupe', (s) => `INSERT INTO atomic.events SELECT *, now()::TIMESTAMP FROM ${s}`, ''],
    [
      'anti-join',
      (s) =>
        `INSERT INTO atomic.events SELECT s.*, now()::TIMESTAMP FROM ${s} s WHERE NOT EXISTS (SELECT 1 FROM atomic.events e WHERE e.event_id = s.event_id)`,
      '',
    ],
    [
      'PRIMARY KEY + INSERT OR IGNORE',
      (s) => `INSERT OR IGNORE INTO atomic.events SELECT *, now()::TIMESTAMP FROM ${s}`,
      'PK',
    ],
  ];
  for (const [name, sql, pk] of variants) {
    const path = join(dir, `dedupe-${pk || name.replace(/\W/g, '')}.duckdb`);
    const instance = await DuckDBInstance.create(path, SETTINGS);
    const conn = await instance.connect();
    await conn.run('CREATE SCHEMA atomic');
    await conn.run(
      eventsDdl('atomic').replace(
        '"event_id" UUID NOT NULL',
        `"event_id" UUID NOT NULL${pk ? ' PRIMARY KEY' : ''}`,
      ),
    );
    await conn.run(
      `INSERT INTO atomic.events (event_id, collector_tstamp, v_collector, v_etl, load_tstamp) SELECT uuid(), now()::TIMESTAMP, 'c', 'e', now()::TIMESTAMP FROM range(1000000)`,
    );
    await conn.run('CHECKPOINT');
    const file = join(dir, 'dedupe.tsv');
    const t = performance.now();
    for (const b of batches) {
      await writeFile(file, `${b.join('\n')}\n`);
      await conn.run('BEGIN TRANSACTION');
      await conn.run(sql(readStagedTsv(file)));
      await conn.run('COMMIT');
    }
    const ms = performance.now() - t;
    await conn.run('CHECKPOINT');
    conn.closeSync();
    instance.closeSync();
    const size = (await stat(path)).size;
    console.log(
      `  at 1M rows, ${name.padEnd(31)} ${rate(ROWS, ms).padStart(16)}   file ${(size / 1e6).toFixed(0)} MB`,
    );
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'furrow-bench-duckdb-'));
  try {
    const lines = Array.from({ length: ROWS }, (_, i) => realisticLine(i));
    const batches: string[][] = [];
    for (let i = 0; i < ROWS; i += BATCH) batches.push(lines.slice(i, i + BATCH));
    const avg = lines.reduce((n, l) => n + l.length, 0) / ROWS;
    console.log(`DuckDB loader: ${ROWS} rows (~${Math.round(avg)} chars each) in batches of ${BATCH}`);
    const base = await plainCopy(dir, batches);
    console.log(`  baseline: plain COPY, no validation/dedupe ${rate(ROWS, base).padStart(16)}   ratio 1.00`);
    for (const method of ['copy', 'appender'] as const) {
      const { ms, maxStallMs } = await loader(dir, method, batches);
      const label =
        method === 'copy' ? 'loader copy (read_csv + anti-join)' : 'loader appender (+ anti-join)';
      console.log(
        `  ${label.padEnd(42)} ${rate(ROWS, ms).padStart(16)}   ratio ${(base / ms).toFixed(2)}   ` +
          `longest event-loop stall ${maxStallMs.toFixed(0)} ms`,
      );
    }
    if (args.dedupe) await dedupeAt1M(dir, batches);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
