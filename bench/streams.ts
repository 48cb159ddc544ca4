/**
 * bench/streams: raw → enriched throughput per stream engine, with the enrich stage as `furrow enrich` runs
 * it (worker threads, one per core; at-least-once commits). For each engine available here it first
 * measures a baseline in the same run — publish the raw records and consume them back with no enrichment
 * (the engine's own cost) — then publishes the same records again and times the enrich stage until every
 * record is enriched and acknowledged.
 *
 *     npm run build && node dist/bench/streams.js [--records 20000] [--engines embedded,nats,kafka,pubsub]
 *
 * Kafka needs `bash scripts/dev-services.sh start kafka`; Pub/Sub needs the emulator on 127.0.0.1:8085.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { EnrichStage } from '../src/enrich/stage.js';
import { WorkerPool } from '../src/enrich/worker/pool.js';
import { COLLECTOR_PAYLOAD_SCHEMA, encodeCollectorPayload } from '../src/protocol/collector-payload.js';
import { createStreamEngine } from '../src/streams/registry.js';
import type { Stream, StreamEngine } from '../src/streams/types.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '20000' },
    engines: { type: 'string', default: 'embedded,nats,kafka,pubsub' },
    shared: { type: 'string', default: resolve('../shared') },
  },
});
const N = Number(values.records);

function records(n: number): Uint8Array[] {
  const now = Date.now();
  return Array.from({ length: n }, (_, i) => {
    const body = JSON.stringify({
      schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4',
      data: [
        {
          e: i % 2 === 0 ? 'pv' : 'se',
          p: 'web',
          tv: 'js-4.10.1',
          eid: randomUUID(),
          aid: 'bench',
          url: `https://shop.example.com/item-${i % 500}?utm_source=news`,
          se_ca: 'cat',
          se_ac: 'act',
          dtm: String(now),
          co: JSON.stringify({
            schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0',
            data: [
              {
                schema: 'iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0',
                data: { id: randomUUID() },
              },
            ],
          }),
        },
      ],
    });
    return encodeCollectorPayload({
      schema: COLLECTOR_PAYLOAD_SCHEMA,
      ipAddress: '203.0.113.9',
      timestamp: now,
      encoding: 'UTF-8',
      collector: 'bench',
      path: '/com.snowplowanalytics.snowplow/tp2',
      querystring: '',
      contentType: 'application/json',
      body,
      userAgent:
        'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
    });
  });
}

async function publishAll(s: Stream, recs: Uint8Array[]): Promise<void> {
  for (let i = 0; i < recs.length; i += 500)
    await s.publish(recs.slice(i, i + 500).map((value) => ({ value })));
}

async function until(cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function engineFor(kind: string, dataDir: string, run: string): Promise<StreamEngine> {
  const options: Record<string, unknown> = {
    embedded: undefined,
    nats: { streamPrefix: `bench-${run}-`, subjectPrefix: `bench-${run}` },
    kafka: { topicPrefix: `bench-${run}-`, partitions: 4 },
    pubsub: { projectId: 'furrow-bench', apiEndpoint: '127.0.0.1:8085', topicPrefix: `bench-${run}-` },
  };
  return createStreamEngine(kind, options[kind], { dataDir, durability: 'fsync' });
}

async function bench(kind: string, recs: Uint8Array[]): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), `furrow-bench-${kind}-`));
  const run = randomUUID().slice(0, 6);
  let engine: StreamEngine | undefined;
  try {
    engine = await Promise.race([
      engineFor(kind, dataDir, run),
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error('connect timeout')), 15_000)),
    ]);
    // Baseline: the engine's own publish + consume + commit of the same records.
    const copy = await engine.stream(`copy-${run}`);
    let t = performance.now();
    await publishAll(copy, recs);
    const pubS = (performance.now() - t) / 1000;
    const sub = copy.subscribe('copy');
    t = performance.now();
    let got = 0;
    while (got < recs.length) {
      const b = await sub.next(1000, 1000);
      got += b.records.length;
      if (b.records.length > 0) await b.ack();
    }
    const conS = (performance.now() - t) / 1000;
    await sub.close();

    const raw = await engine.stream(`raw-${run}`);
    const enriched = await engine.stream(`enriched-${run}`);
    const bad = await engine.stream(`bad-${run}`);
    await publishAll(raw, recs);
    const workers = availableParallelism();
    const pool = new WorkerPool({
      size: workers,
      init: {
        resolverConfig: {
          schema: 'iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-3',
          data: {
            cacheSize: 500,
            repositories: [
              {
                name: 'mirror',
                priority: 0,
                vendorPrefixes: [],
                connection: { embedded: { path: join(values.shared, 'iglu-central') } },
              },
            ],
          },
        },
      },
    });
    await pool.ready();
    const stage = new EnrichStage({ raw, enriched, bad, pool, batchSize: 1000 });
    t = performance.now();
    stage.start();
    await until(async () => (await raw.lag('enrich')) === 0, 600_000);
    const enrichS = (performance.now() - t) / 1000;
    await stage.stop();
    await pool.close();
    const eps = recs.length / enrichS;
    const base = recs.length / (pubS + conS);
    console.log(
      `${kind.padEnd(9)} publish ${(recs.length / pubS).toFixed(0).padStart(7)} rec/s, consume+commit ${(recs.length / conS).toFixed(0).padStart(7)} rec/s ` +
        `(baseline pub+con ${base.toFixed(0)} rec/s) | raw→enriched with ${workers} workers ${eps.toFixed(0).padStart(7)} ev/s ` +
        `(${((eps / base) * 100).toFixed(0)} % of the engine's own copy rate)`,
    );
  } catch (e) {
    console.log(`${kind.padEnd(9)} skipped: ${(e as Error).message}`);
  } finally {
    await engine?.close().catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  }
}

const recs = records(N);
console.log(`bench/streams: ${N} raw records (tp2 POST, 1 event + 1 context each), node ${process.version}`);
for (const kind of values.engines.split(',')) await bench(kind, recs);
process.exit(0);
