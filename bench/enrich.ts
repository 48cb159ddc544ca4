/**
 * bench/enrich: events per second per core through the enrich core, with no enrichments and with the
 * default set (plus an ablation table: the default set without each enrichment in turn),
 * on a fixed, generated, realistic mix with schemas warm. Single-threaded: run it pinned to one core,
 *
 *     npm run build && taskset -c 1 node dist/bench/enrich.js [--events 200000] [--runs 3] [--mix tracker]
 *
 * `--mix generated` (default) is the varied mix below (GET pixels and small POSTs, ~1% invalid);
 * `--mix tracker` is what the e2e benches send: `trackerBatch` tp2 POSTs of 10 events (page views, pings,
 * structured events, link clicks, each with web_page + client_session contexts, ~1.35 KB per event).
 *
 * The baseline, measured in the same run over the same records, is the unavoidable floor: Thrift decode
 * plus query-string/JSON parsing of every event, with no validation or enrichment.
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultEnrichmentConfigs } from '../src/enrich/enrichments/defaults.js';
import { buildEnrichments } from '../src/enrich/enrichments/load.js';
import { Enricher, type EnrichOutput } from '../src/enrich/pipeline.js';
import { createResolver } from '../src/iglu/resolver.js';
import {
  COLLECTOR_PAYLOAD_SCHEMA,
  type CollectorPayload,
  decodeCollectorPayload,
  encodeCollectorPayload,
} from '../src/protocol/collector-payload.js';
import { parseQueryString } from '../src/protocol/querystring.js';
import { postHeaders, TP2_PATH, trackerBatch, USER_AGENT } from './lib/payloads.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '3' },
    shared: { type: 'string', default: resolve('../shared') },
    /** `standard`: also measure the default enrichment set and its ablation; `none`: only the core */
    enrichments: { type: 'string', default: 'standard' },
    /** a referer database for referer_parser in the default set (e.g. ../shared/referer-parser/referers.json) */
    referers: { type: 'string' },
    /** `generated`: the varied mix below; `tracker`: the e2e generator's `trackerBatch` POSTs */
    mix: { type: 'string', default: 'generated' },
    /** `no`: skip the ablation table (profiling, quick before/after comparisons) */
    ablation: { type: 'string', default: 'yes' },
  },
});
const EVENTS = Number(values.events);
const RUNS = Number(values.runs);

/** Deterministic PRNG so every run enriches the same mix. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const rand = rng(42);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
const uuid = () =>
  'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, (c) => {
    const r = Math.floor(rand() * 16);
    return (c === 'x' ? r : (r & 3) | 8).toString(16);
  });

/** 1,200 distinct, realistic user agents across browsers, platforms and bots. */
const UAS: string[] = (() => {
  const out: string[] = [];
  for (let i = 0; out.length < 1200; i++) {
    const v = 100 + (i % 40);
    const b = i; // the build number makes every generated user agent distinct
    const kind = i % 8;
    if (kind === 0)
      out.push(
        `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.${b}.0 Safari/537.36`,
      );
    else if (kind === 1)
      out.push(
        `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_${i % 8}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${14 + (i % 4)}.${i % 6}.${b} Safari/605.1.15`,
      );
    else if (kind === 2)
      out.push(
        `Mozilla/5.0 (iPhone; CPU iPhone OS ${14 + (i % 4)}_${i % 7} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${14 + (i % 4)}.0 Mobile/15E${148 + b} Safari/604.1`,
      );
    else if (kind === 3)
      out.push(
        `Mozilla/5.0 (Linux; Android ${10 + (i % 5)}; SM-G${970 + (i % 30)}F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.${b}.0 Mobile Safari/537.36`,
      );
    else if (kind === 4)
      out.push(`Mozilla/5.0 (X11; Linux x86_64; rv:${v}.0) Gecko/20100101 Firefox/${v}.${i % 3}.${b}`);
    else if (kind === 5)
      out.push(
        `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.${b}.0 Safari/537.36 Edg/${v}.0.${b}.${i % 50}`,
      );
    else if (kind === 6)
      out.push(
        `Mozilla/5.0 (iPad; CPU OS ${13 + (i % 5)}_${i % 5} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/${v}.0.${b}.0 Mobile/15E148 Safari/604.1`,
      );
    else
      out.push(
        i % 16 === 7
          ? `Mozilla/5.0 (compatible; Googlebot/2.${i % 3}; +http://www.google.com/bot.html) r${b}`
          : `curl/7.${60 + (i % 30)}.${b}`,
      );
  }
  return out;
})();

/** Cumulative Zipf(s=1) weights: a few user agents are very common, most are rare. */
const ZIPF = (() => {
  const w = UAS.map((_, i) => 1 / (i + 1));
  const total = w.reduce((a, b) => a + b, 0);
  let acc = 0;
  return w.map((x) => (acc += x / total));
})();
function zipfUa(): string {
  const r = rand();
  let lo = 0;
  let hi = ZIPF.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ZIPF[mid] < r) lo = mid + 1;
    else hi = mid;
  }
  return UAS[lo];
}
const PAGES = Array.from(
  { length: 500 },
  (_, i) => `https://shop.example.com/catalog/item-${i}?utm_source=news&utm_medium=email&ref=${i % 7}`,
);

function webPage() {
  return { schema: 'iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0', data: { id: uuid() } };
}

function common(now: number): Record<string, string> {
  const dtm = now - Math.floor(rand() * 5000);
  return {
    eid: uuid(),
    tv: 'js-4.10.1',
    tna: 'sp1',
    aid: 'shop',
    p: 'web',
    dtm: String(dtm),
    stm: String(dtm + 40),
    cookie: '1',
    cs: 'UTF-8',
    lang: 'en-GB',
    res: '1920x1080',
    cd: '24',
    tz: 'Europe/London',
    vp: '1280x720',
    ds: '1280x4000',
    vid: String(1 + Math.floor(rand() * 20)),
    sid: uuid(),
    duid: uuid(),
    url: pick(PAGES),
    refr: 'https://www.google.com/search?q=shoes',
  };
}

/** One tracker event of the mix: 40% page view, 30% page ping, 15% struct, 15% self-describing. */
function event(now: number): Record<string, string> {
  const r = rand();
  const base = common(now);
  const co = (extra: object[] = []) =>
    JSON.stringify({
      schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0',
      data: [webPage(), ...extra],
    });
  if (r < 0.4) return { ...base, e: 'pv', page: 'Catalog item', co: co() };
  if (r < 0.7) return { ...base, e: 'pp', pp_mix: '0', pp_max: '0', pp_miy: '120', pp_may: '800', co: co() };
  if (r < 0.85)
    return { ...base, e: 'se', se_ca: 'basket', se_ac: 'add', se_la: 'sku-12', se_va: '19.99', co: co() };
  const click = {
    schema: 'iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1',
    data: {
      targetUrl: 'https://shop.example.com/checkout',
      elementId: 'buy',
      elementClasses: ['btn', 'primary'],
    },
  };
  const timing = {
    schema: 'iglu:org.w3/PerformanceTiming/jsonschema/1-0-0',
    data: { navigationStart: now - 900, domComplete: now - 100, loadEventEnd: now - 50 },
  };
  return {
    ...base,
    e: 'ue',
    ue_pr: JSON.stringify({
      schema: 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0',
      data: click,
    }),
    co: co([timing]),
  };
}

/** ~1% invalid: a bad timestamp, a context missing a required property, or a non-JSON body. */
function invalid(e: Record<string, string>): Record<string, string> {
  const r = rand();
  if (r < 0.33) return { ...e, dtm: 'yesterday' };
  if (r < 0.66)
    return {
      ...e,
      co: JSON.stringify({
        schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0',
        data: [{ schema: 'iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0', data: {} }],
      }),
    };
  return { ...e, e: 'nonsense' };
}

function records(n: number): { bytes: Buffer[]; events: number } {
  const now = Date.UTC(2025, 5, 1);
  const out: Buffer[] = [];
  let events = 0;
  while (events < n) {
    const base: CollectorPayload = {
      schema: COLLECTOR_PAYLOAD_SCHEMA,
      ipAddress: `${11 + Math.floor(rand() * 200)}.${Math.floor(rand() * 255)}.${Math.floor(rand() * 255)}.${Math.floor(rand() * 255)}`,
      timestamp: now,
      encoding: 'UTF-8',
      collector: 'furrow-collector-0.1.0',
      userAgent: zipfUa(),
      hostname: 'collector.example.com',
      networkUserId: uuid(),
      headers: ['Host: collector.example.com', 'Accept: */*'],
    };
    if (rand() < 0.5) {
      // GET pixel, one event, base64 entities as the browser tracker sends them.
      let e = event(now);
      if (rand() < 0.01) e = invalid(e);
      if (e.co) {
        e.cx = Buffer.from(e.co).toString('base64url');
        delete e.co;
      }
      if (e.ue_pr) {
        e.ue_px = Buffer.from(e.ue_pr).toString('base64url');
        delete e.ue_pr;
      }
      out.push(
        encodeCollectorPayload({ ...base, path: '/i', querystring: new URLSearchParams(e).toString() }),
      );
      events += 1;
    } else {
      // POST batch of 1–5 events.
      const batch = Array.from({ length: 1 + Math.floor(rand() * 5) }, () => {
        const e = event(now);
        return rand() < 0.01 ? invalid(e) : e;
      });
      const body = JSON.stringify({
        schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4',
        data: batch,
      });
      out.push(
        encodeCollectorPayload({
          ...base,
          path: '/com.snowplowanalytics.snowplow/tp2',
          querystring: '',
          contentType: 'application/json; charset=utf-8',
          body,
        }),
      );
      events += batch.length;
    }
  }
  return { bytes: out, events };
}

/** The e2e benches' load: `trackerBatch` bodies as the collector records them (headers included). */
function trackerRecords(n: number): { bytes: Buffer[]; events: number } {
  const now = Date.UTC(2025, 5, 1);
  const headers = Object.entries(postHeaders())
    .filter(([k]) => k !== 'Content-Type')
    .map(([k, v]) => `${k}: ${v}`);
  headers.push('application/json; charset=utf-8');
  const out: Buffer[] = [];
  let events = 0;
  for (let b = 0; events < n; b++) {
    const ids = Array.from({ length: 10 }, () => uuid());
    out.push(
      encodeCollectorPayload({
        schema: COLLECTOR_PAYLOAD_SCHEMA,
        ipAddress: `10.0.${(b >> 8) & 255}.${b & 255}`,
        timestamp: now + b,
        encoding: 'UTF-8',
        collector: 'furrow-collector-0.1.0',
        userAgent: USER_AGENT,
        hostname: 'collector.example.com',
        networkUserId: 'c0ffee00-1234-4abc-8def-0123456789ab',
        headers,
        path: TP2_PATH,
        querystring: '',
        contentType: 'application/json; charset=utf-8',
        body: trackerBatch(ids, now + b - 30, 'bench-enrich'),
      }),
    );
    events += ids.length;
  }
  return { bytes: out, events };
}

function baseline(recs: readonly Buffer[]): number {
  let n = 0;
  for (const r of recs) {
    const p = decodeCollectorPayload(r);
    if (p.body !== undefined) {
      const body = JSON.parse(p.body) as { data: Array<Record<string, string>> };
      for (const e of body.data) {
        if (e.co) JSON.parse(e.co);
        if (e.ue_pr) JSON.parse(e.ue_pr);
        n++;
      }
    } else {
      const params = parseQueryString(p.querystring ?? '');
      for (const [k, v] of params)
        if ((k === 'cx' || k === 'ue_px') && v) JSON.parse(Buffer.from(v, 'base64url').toString());
      n++;
    }
  }
  return n;
}

async function enrichAll(
  enricher: Enricher,
  recs: readonly Buffer[],
): Promise<{ good: number; bad: number }> {
  const out: EnrichOutput = { good: [], bad: [] };
  let good = 0;
  let bad = 0;
  const etl = Date.now();
  for (const r of recs) {
    await enricher.processRecord(r, out, etl);
    good += out.good.length;
    bad += out.bad.length;
    out.good.length = 0;
    out.bad.length = 0;
  }
  return { good, bad };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function measure(
  label: string,
  enricher: Enricher,
  bytes: Buffer[],
  events: number,
  base: number[],
): Promise<number> {
  // Warm-up: resolve and compile every schema, fill caches, let the JIT settle.
  await enrichAll(enricher, bytes.slice(0, Math.min(bytes.length, 20_000)));
  const times: number[] = [];
  const cpus: number[] = [];
  let counts = { good: 0, bad: 0 };
  for (let run = 0; run < RUNS; run++) {
    let t = process.hrtime.bigint();
    baseline(bytes);
    base.push(Number(process.hrtime.bigint() - t) / 1e9);
    t = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    counts = await enrichAll(enricher, bytes);
    times.push(Number(process.hrtime.bigint() - t) / 1e9);
    const used = process.cpuUsage(cpu);
    cpus.push((used.user + used.system) / events);
  }
  const eps = events / median(times);
  console.log(
    `${label.padEnd(34)} ${eps.toFixed(0).padStart(7)} ev/s  ${(1e6 / eps).toFixed(1).padStart(6)} µs/event  ` +
      `(min ${(events / Math.max(...times)).toFixed(0)}, max ${(events / Math.min(...times)).toFixed(0)}; ` +
      `${counts.good} good, ${counts.bad} bad; CPU ${median(cpus).toFixed(1)} µs/event)`,
  );
  return eps;
}

async function main() {
  const resolver = createResolver({
    schema: 'iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-3',
    data: {
      cacheSize: 1000,
      cacheTtl: 3600,
      repositories: [
        {
          name: 'Iglu Central mirror',
          priority: 0,
          vendorPrefixes: [],
          connection: { embedded: { path: join(values.shared, 'iglu-central') } },
        },
      ],
    },
  });
  if (values.mix !== 'generated' && values.mix !== 'tracker') throw new Error('--mix generated|tracker');
  const { bytes, events } = values.mix === 'tracker' ? trackerRecords(EVENTS) : records(EVENTS);
  console.log(
    `bench/enrich: ${events} events in ${bytes.length} records (${(bytes.reduce((a, b) => a + b.length, 0) / 1e6).toFixed(1)} MB), ` +
      `mix ${values.mix}${values.mix === 'generated' ? ` (${new Set(UAS).size} distinct user agents, Zipf)` : ''}, node ${process.version}, ${RUNS} runs, medians`,
  );
  const base: number[] = [];
  const none = await measure('no enrichments', new Enricher({ resolver }), bytes, events, base);
  const beps = events / median(base);
  console.log(
    `${'baseline (decode + parse only)'.padEnd(34)} ${beps.toFixed(0).padStart(7)} ev/s  → no-enrichment/baseline = ${(none / beps).toFixed(2)}`,
  );
  if (values.enrichments === 'none') return;

  const sources = defaultEnrichmentConfigs(values.referers).map((json, i) => ({
    file: `default-${i}`,
    json,
  }));
  const all = await buildEnrichments(sources, { resolver, baseDir: process.cwd() });
  const full = await measure(
    'default set',
    new Enricher({ resolver, enrichments: all }),
    bytes,
    events,
    base,
  );
  if (values.ablation === 'no') return;
  console.log('ablation (default set without one enrichment):');
  for (let i = 0; i < all.length; i++) {
    const name = all[i].info?.identifier ?? `#${i}`;
    const rest = all.filter((_, j) => j !== i);
    const eps = await measure(
      `  without ${name}`,
      new Enricher({ resolver, enrichments: rest }),
      bytes,
      events,
      base,
    );
    console.log(`${''.padEnd(34)} ${name} costs ${(1e6 / full - 1e6 / eps).toFixed(1)} µs/event`);
  }
  console.log(`rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`);
}

await main();
