/**
 * PostgreSQL loader throughput against a plain COPY baseline measured in the same run.
 *
 *   node dist/bench/postgres-loader.js [--rows 100000] [--batch 5000] [--rounds 2]
 *
 * Connection from PG* variables (default 127.0.0.1:5432, user postgres, database test); everything is
 * created in a throw-away schema `furrow_bench_<pid>` that is dropped at the end.
 *
 * - baseline: the same enriched lines, `COPY`ed unchanged (backslashes escaped) in batches into a bare table
 *   of the 131 TSV columns typed like events (the JSON columns as jsonb), no index, no dedupe — the least
 *   work that lands the rows typed in PostgreSQL; sent the way the loader sends (rows written as UTF-8
 *   into 256 KB pieces), so the ratio compares the work, not two ways of feeding the socket;
 * - loader: `PostgresLoader.loadGood` per batch — validation, wide-row entity columns, staging COPY,
 *   INSERT … ON CONFLICT on the unique event_id index, one transaction per batch;
 * - encode: the loader's JS work alone (encodeLine + directCopyRow + UTF-8 pieces), to show the
 *   client/server split.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { parsePostgresLoaderConfig } from '../src/loaders/postgres/config.js';
import { directCopyRow, encodeLine } from '../src/loaders/postgres/encoder.js';
import { PostgresLoader } from '../src/loaders/postgres/loader.js';
import { ATOMIC_COLUMNS, quoteIdent } from '../src/loaders/postgres/schema.js';
import { F, FIELD_COUNT, FIELDS } from '../src/protocol/enriched-fields.js';
import { postgresSettings } from '../test/helpers/services.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    batch: { type: 'string', default: '5000' },
    rounds: { type: 'string', default: '2' },
  },
});
const ROWS = Number(args.rows);
const BATCH = Number(args.batch);
const ROUNDS = Number(args.rounds);
const SCHEMA = `furrow_bench_${process.pid}`;
const PIECE = 256 * 1024;

const server = postgresSettings();

const CONTEXTS_SCHEMA = 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1';
const UA_CONTEXT = JSON.stringify({
  schema: CONTEXTS_SCHEMA,
  data: [
    {
      schema: 'iglu:com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-0',
      data: {
        useragentFamily: 'Firefox',
        useragentMajor: '126',
        useragentMinor: '0',
        useragentPatch: null,
        useragentVersion: 'Firefox 126.0',
        osFamily: 'Windows',
        osMajor: '10',
        osMinor: null,
        osPatch: null,
        osPatchMinor: null,
        osVersion: 'Windows 10',
        deviceFamily: 'Other',
      },
    },
  ],
});

/** A page view with the fields a JS tracker plus the usual enrichments fill (~1.5 KB). */
function realisticLine(i: number): string {
  const f = new Array<string>(FIELD_COUNT).fill('');
  const at = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 23);
  const t = Date.UTC(2025, 4, 12, 8) + i * 29;
  const put = (name: keyof typeof F, value: string) => {
    f[F[name]] = value;
  };
  const path = `/catalog/item-${i % 5000}`;
  put('app_id', 'storefront');
  put('platform', 'web');
  put('etl_tstamp', at(t + 900));
  put('collector_tstamp', at(t));
  put('dvce_created_tstamp', at(t - 350));
  put('event', 'page_view');
  put('event_id', randomUUID());
  put('name_tracker', 'sp1');
  put('v_tracker', 'js-4.6.8');
  put('v_collector', 'furrow-collector-0.1.0');
  put('v_etl', 'furrow-enrich-0.1.0');
  put('user_ipaddress', `198.51.100.${i % 250}`);
  put('domain_userid', randomUUID());
  put('domain_sessionidx', String(1 + (i % 12)));
  put('network_userid', randomUUID());
  put('geo_country', 'DE');
  put('geo_region', 'BE');
  put('geo_city', 'Berlin');
  put('geo_zipcode', '10115');
  put('geo_latitude', '52.5321');
  put('geo_longitude', '13.3849');
  put('geo_region_name', 'Land Berlin');
  put(
    'page_url',
    `https://www.example.org${path}?utm_source=newsletter&utm_medium=email&utm_campaign=spring`,
  );
  put('page_title', `Item ${i % 5000} \u2013 "Example" store`);
  put('page_referrer', 'https://duckduckgo.com/?q=example+store');
  put('page_urlscheme', 'https');
  put('page_urlhost', 'www.example.org');
  put('page_urlport', '443');
  put('page_urlpath', path);
  put('page_urlquery', 'utm_source=newsletter&utm_medium=email&utm_campaign=spring');
  put('refr_urlscheme', 'https');
  put('refr_urlhost', 'duckduckgo.com');
  put('refr_urlport', '443');
  put('refr_urlpath', '/');
  put('refr_urlquery', 'q=example+store');
  put('refr_medium', 'search');
  put('refr_source', 'DuckDuckGo');
  put('mkt_medium', 'email');
  put('mkt_source', 'newsletter');
  put('mkt_campaign', 'spring');
  put(
    'contexts',
    JSON.stringify({
      schema: CONTEXTS_SCHEMA,
      data: [
        {
          schema: 'iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0',
          data: { id: randomUUID() },
        },
        {
          schema: 'iglu:org.w3/PerformanceTiming/jsonschema/1-0-0',
          data: {
            navigationStart: 1747036800000 + i,
            responseEnd: 1747036800210 + i,
            loadEventEnd: 1747036801020 + i,
          },
        },
        {
          schema: 'iglu:com.example/customer/jsonschema/1-0-3',
          data: { tier: 'gold', visits: i % 97, tags: ['b2b'] },
        },
      ],
    }),
  );
  put('useragent', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:126.0) Gecko/20100101 Firefox/126.0');
  put('br_lang', 'de-DE');
  put('br_features_pdf', '1');
  put('br_features_java', '0');
  put('br_cookies', '1');
  put('br_colordepth', '24');
  put('br_viewwidth', '1536');
  put('br_viewheight', '730');
  put('os_timezone', 'Europe/Berlin');
  put('dvce_screenwidth', '1920');
  put('dvce_screenheight', '1080');
  put('doc_charset', 'UTF-8');
  put('doc_width', '1536');
  put('doc_height', '4210');
  put('dvce_sent_tstamp', at(t - 200));
  put('derived_contexts', UA_CONTEXT);
  put('domain_sessionid', randomUUID());
  put('derived_tstamp', at(t - 150));
  put('event_vendor', 'com.snowplowanalytics.snowplow');
  put('event_name', 'page_view');
  put('event_format', 'jsonschema');
  put('event_version', '1-0-0');
  put('event_fingerprint', 'a3f1c0de5b7e9d2411aa06e8c4b2f917');
  return f.join('\t');
}

function perSecond(rows: number, ms: number): number {
  return Math.round((rows / ms) * 1000);
}

function fmt(n: number): string {
  return `${n.toLocaleString('en-US')} rows/s`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : Math.round((s[m - 1] + s[m]) / 2);
}

/** COPY data as the loader sends it: each row (plus its newline) written as UTF-8 into 256 KB pieces. */
function* copyPieces(lines: readonly string[], row: (line: string) => string): Generator<Buffer> {
  let piece = Buffer.allocUnsafe(PIECE);
  let used = 0;
  for (const line of lines) {
    const text = `${row(line)}\n`;
    if (used + text.length * 3 > PIECE) {
      yield piece.subarray(0, used);
      piece = Buffer.allocUnsafe(Math.max(PIECE, text.length * 3));
      used = 0;
    }
    used += piece.write(text, used);
  }
  if (used > 0) yield piece.subarray(0, used);
}

async function plainCopy(client: pg.Client, table: string, batches: readonly string[][]): Promise<number> {
  const pgType = (type: string) =>
    type === 'json'
      ? 'JSONB'
      : (ATOMIC_COLUMNS.find((c) => c.tsvType === type)?.type.replace(/\(.*/, '') ?? 'TEXT');
  const cols = FIELDS.map((f, i) => {
    const atomic = ATOMIC_COLUMNS.find((c) => c.field === i);
    return `${quoteIdent(f.name)} ${atomic?.type ?? pgType(f.type)}`;
  });
  await client.query(`DROP TABLE IF EXISTS ${table}`);
  await client.query(`CREATE TABLE ${table} (${cols.join(', ')})`);
  const started = performance.now();
  for (const batch of batches) {
    await pipeline(
      Readable.from(
        copyPieces(batch, (line) => (line.includes('\\') ? line.replaceAll('\\', '\\\\') : line)),
      ),
      client.query(copyFrom(`COPY ${table} FROM STDIN WITH (FORMAT text, NULL '')`)),
    );
  }
  return performance.now() - started;
}

async function viaLoader(schema: string, batches: readonly string[][]): Promise<number> {
  const loader = new PostgresLoader(
    parsePostgresLoaderConfig({ ...server, schema, maxRows: BATCH }, { env: {} }),
  );
  try {
    await loader.init();
    const started = performance.now();
    let inserted = 0;
    for (const batch of batches) inserted += (await loader.loadGood(batch)).inserted;
    const ms = performance.now() - started;
    console.log(`    loader batches: ${loader.paths.direct} direct COPY, ${loader.paths.staged} staged`);
    if (inserted !== ROWS) throw new Error(`loader inserted ${inserted} of ${ROWS} rows`);
    return ms;
  } finally {
    await loader.close();
  }
}

function encodeOnly(batches: readonly string[][]): number {
  // the entity columns the loader's table has after the first batch, as its direct COPY writes them
  const columns = new Map<string, string>();
  for (const line of batches[0]) encodeLine(line, { columns });
  const entityColumns = [...columns.keys()].sort();
  const loadTs = '2025-05-12 08:00:00';
  const started = performance.now();
  for (const batch of batches) {
    let bytes = 0;
    const rows = copyPieces(batch, (line) => {
      const r = encodeLine(line, { columns });
      return r.ok ? directCopyRow(r.event, entityColumns, loadTs).slice(0, -1) : '';
    });
    for (const piece of rows) bytes += piece.length;
    if (bytes === 0) throw new Error('nothing encoded');
  }
  return performance.now() - started;
}

async function main(): Promise<void> {
  const lines = Array.from({ length: ROWS }, (_, i) => realisticLine(i));
  const batches: string[][] = [];
  for (let i = 0; i < lines.length; i += BATCH) batches.push(lines.slice(i, i + BATCH));
  const mb = lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0) / 1e6;
  console.log(
    `postgres loader bench: ${ROWS.toLocaleString('en-US')} rows (${((mb / ROWS) * 1e6).toFixed(0)} B/row avg), ` +
      `batches of ${BATCH}, ${ROUNDS} round(s), server ${server.host}:${server.port}/${server.database}`,
  );
  const admin = new pg.Client(server);
  await admin.connect();
  const base: number[] = [];
  const load: number[] = [];
  try {
    await admin.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await admin.query(`CREATE SCHEMA ${SCHEMA}`);
    const enc = perSecond(ROWS, encodeOnly(batches));
    const benchStart = performance.now();
    for (let round = 0; round < ROUNDS; round++) {
      // a busy machine: stop after the round that passed 25 s, to stay well under a minute
      if (round > 0 && performance.now() - benchStart > 25_000) {
        console.log(`  (stopping after ${round} round(s): the machine is slow right now)`);
        break;
      }
      const b = perSecond(ROWS, await plainCopy(admin, `${SCHEMA}.bare_${round}`, batches));
      const l = perSecond(ROWS, await viaLoader(`${SCHEMA}_l${round}`, batches));
      await admin.query(`DROP SCHEMA IF EXISTS ${SCHEMA}_l${round} CASCADE`);
      await admin.query(`DROP TABLE IF EXISTS ${SCHEMA}.bare_${round}`);
      base.push(b);
      load.push(l);
      console.log(
        `  round ${round + 1}: plain COPY ${fmt(b)} · loader ${fmt(l)} · ratio ${(l / b).toFixed(2)}`,
      );
    }
    const b = median(base);
    const l = median(load);
    console.log(`plain COPY into a bare typed table (baseline) .. ${fmt(b)}`);
    console.log(`PostgresLoader.loadGood ....................... ${fmt(l)}`);
    console.log(`ratio loader / plain COPY ..................... ${(l / b).toFixed(2)}`);
    console.log(`JS encode alone (validate + COPY rows) ........ ${fmt(enc)}`);
    console.log(
      `target ≥ 50,000 rows/s ........................ ${l >= 50_000 ? 'met' : 'NOT met on this machine'}`,
    );
  } finally {
    for (let round = 0; round < ROUNDS; round++)
      await admin.query(`DROP SCHEMA IF EXISTS ${SCHEMA}_l${round} CASCADE`).catch(() => undefined);
    await admin.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`).catch(() => undefined);
    await admin.end();
  }
}

await main();
