/**
 * The three roles of the pipeline, each startable alone (`furrow collector|enrich|load`, one per process,
 * scaled by running more) or all together (`furrow up`). A role depends only on the `StreamEngine` and
 * `Loader` interfaces; which engine and warehouse back them is configuration.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { CollectorConfig } from '../collector/config.js';
import { type CollectorSink, createCollectorHandler } from '../collector/handler.js';
import { type CollectorSpool, drainOrphanedSpool, Spool } from '../collector/spool.js';
import { SpoolSink } from '../collector/spool-sink.js';
import { StreamSpool } from '../collector/stream-spool.js';
import { EnrichStage, type EnrichStageOptions } from '../enrich/stage.js';
import { WorkerPool } from '../enrich/worker/pool.js';
import { createLoader } from '../loaders/registry.js';
import { LoadStage } from '../loaders/stage.js';
import type { Loader } from '../loaders/types.js';
import { EmbeddedStream } from '../streams/embedded/engine.js';
import { createStreamEngine } from '../streams/registry.js';
import type { Stream, StreamEngine } from '../streams/types.js';
import type { FurrowConfig } from './config.js';
import type { Handler } from './http-server.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { resolverConfigFor } from './resolver.js';

export interface Streams {
  engine: StreamEngine;
  raw: Stream;
  enriched: Stream;
  bad: Stream;
}

export async function openStreams(cfg: FurrowConfig): Promise<Streams> {
  const kind = cfg.streams.engine;
  const options = (cfg.streams as Record<string, unknown>)[kind];
  const engine = await createStreamEngine(kind, options, {
    dataDir: resolve(cfg.dataDir),
    durability: cfg.spool.durability,
  });
  const n = cfg.streams.names;
  const [raw, enriched, bad] = await Promise.all([
    engine.stream(n.raw),
    engine.stream(n.enriched),
    engine.stream(n.bad),
  ]);
  return { engine, raw, enriched, bad };
}

/** Resolves true once `group` has consumed everything in `stream`, false at the deadline. */
export async function caughtUp(
  stream: Stream,
  group: string,
  deadline: number,
  giveUp: () => boolean = () => false,
): Promise<boolean> {
  for (;;) {
    if ((await stream.lag(group)) === 0) return true;
    if (Date.now() >= deadline || giveUp()) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** a drain stops waiting for enrich after this many failed attempts in a row (~0.7 s of retries) */
const STUCK_AFTER_FAILURES = 3;

export interface CollectorRole {
  handler: Handler;
  spool: CollectorSpool;
  ready(): boolean;
  /** drain the spool into the raw stream (until the deadline) */
  stop(deadline: number): Promise<void>;
}

/**
 * The collector's write-ahead log. With the embedded engine it is the raw stream's own log (one write and
 * one fdatasync per record instead of two: see stream-spool.ts); any other engine gets the spool in
 * `<dataDir>/spool` and its forwarder.
 */
async function openCollectorSpool(cfg: FurrowConfig, raw: Stream, log: Logger): Promise<CollectorSpool> {
  const dataDir = resolve(cfg.dataDir);
  if (!(raw instanceof EmbeddedStream)) {
    const spool = await Spool.open({
      dataDir,
      maxBytes: cfg.spool.maxBytes,
      durability: cfg.spool.durability,
    });
    spool.start(raw);
    return spool;
  }
  // A spool left by an earlier version (or by a run on another engine) is moved into the stream first.
  const legacy = join(dataDir, 'spool');
  if (existsSync(legacy)) {
    const r = await drainOrphanedSpool(legacy, raw, Date.now() + cfg.shutdown.drainDeadlineMs, {
      maxBytes: cfg.spool.maxBytes,
      durability: cfg.spool.durability,
    });
    if (r.drained) {
      await rm(legacy, { recursive: true, force: true });
      if (r.forwarded > 0) log.info({ spool: r }, 'collector: moved the old spool into the raw stream');
    } else log.warn({ spool: r }, 'collector: old spool not fully moved into the raw stream; kept');
  }
  return new StreamSpool(raw.log, { maxBytes: cfg.spool.maxBytes });
}

export async function startCollectorRole(
  cfg: FurrowConfig,
  streams: Streams,
  metrics: Metrics,
  log: Logger,
  opts: { collector?: CollectorConfig; sink?: CollectorSink } = {},
): Promise<CollectorRole> {
  const spool = await openCollectorSpool(cfg, streams.raw, log);
  spool.observeFsyncs((seconds, pooled) => {
    metrics.spoolFsyncs.inc();
    if (pooled) metrics.spoolSlowDiskFsyncs.inc();
    metrics.spoolFsyncSeconds.observe(seconds);
  });
  const gauges = setInterval(() => {
    const s = spool.stats();
    metrics.spoolBytes.set(s.bytes);
    metrics.spoolSegments.set(s.segments);
    metrics.spoolRecords.set(s.records);
    metrics.spoolOldestAge.set(s.oldestAgeSeconds);
  }, 1000);
  gauges.unref();
  const requestCounters = new Map<string, { inc(): void }>();
  const handler = createCollectorHandler({
    config: opts.collector ?? cfg.collector,
    sink: opts.sink ?? new SpoolSink(spool, streams.bad),
    observe: (route, status) => {
      // the labelled child is looked up once per route and status: prom-client hashes labels per inc()
      const key = `${route} ${status}`;
      let c = requestCounters.get(key);
      if (c === undefined) {
        c = metrics.httpRequests.labels(route, String(status));
        requestCounters.set(key, c);
      }
      c.inc();
      if (status === 503) metrics.spoolRejected.inc();
    },
  });
  return {
    handler,
    spool,
    ready: () => !spool.stats().highWatermark,
    async stop(deadline) {
      const r = await spool.drain(deadline);
      clearInterval(gauges);
      log.info({ spool: r }, 'collector: spool drained');
    },
  };
}

export interface EnrichRole {
  pool: WorkerPool;
  stop(deadline: number): Promise<void>;
}

export async function startEnrichRole(
  cfg: FurrowConfig,
  streams: Streams,
  metrics: Metrics,
  log: Logger,
  opts: { onResult?: EnrichStageOptions['onResult']; trace?: boolean } = {},
): Promise<EnrichRole> {
  const pool = new WorkerPool({
    size: cfg.enrich.workers,
    init: {
      resolverConfig: resolverConfigFor(cfg),
      enrichmentsDir:
        cfg.enrich.enrichmentsDir === undefined ? undefined : resolve(cfg.enrich.enrichmentsDir),
      maxJsonDepth: cfg.enrich.maxJsonDepth,
      acceptInvalid: cfg.enrich.acceptInvalid,
      trace: opts.trace ?? false,
    },
    onRestart: (reason) => {
      metrics.workerRestarts.inc();
      log.warn({ reason }, 'enrich worker restarted');
    },
  });
  await pool.ready();
  const stage = new EnrichStage({
    raw: streams.raw,
    enriched: streams.enriched,
    bad: streams.bad,
    pool,
    batchSize: cfg.enrich.batchSize,
    metrics,
    log,
    onResult: opts.onResult,
  });
  stage.start();
  const lag = setInterval(() => {
    streams.raw.lag('enrich').then(
      (n) => metrics.streamLag.set({ stream: cfg.streams.names.raw, group: 'enrich' }, n),
      () => {},
    );
  }, 1000);
  lag.unref();
  return {
    pool,
    async stop(deadline) {
      // Waiting for a stage whose batches keep failing (no registry answers) would only run out the
      // deadline: the raw records are durable and are enriched after the next start.
      const stuck = () => stage.consecutiveFailures >= STUCK_AFTER_FAILURES;
      const done = await caughtUp(streams.raw, 'enrich', deadline, stuck);
      clearInterval(lag);
      await stage.stop();
      await pool.close();
      if (!done && stuck())
        log.warn(
          { failures: stage.consecutiveFailures },
          'enrich: stopping before catching up, its batches keep failing; the raw events stay in the stream and are enriched after the next start',
        );
      log.info({ caughtUp: done }, 'enrich: stopped');
    },
  };
}

export interface LoadRole {
  loader: Loader & { describe(): string };
  stop(deadline: number): Promise<void>;
}

export async function startLoadRole(
  cfg: FurrowConfig,
  streams: Streams,
  metrics: Metrics,
  log: Logger,
): Promise<LoadRole> {
  const kind = cfg.warehouse.loader;
  const loader = createLoader(kind, (cfg.warehouse as Record<string, unknown>)[kind], {
    dataDir: resolve(cfg.dataDir),
  });
  await loader.init();
  const stage = new LoadStage({
    enriched: streams.enriched,
    bad: streams.bad,
    loader,
    batchSize: cfg.loader.batchRows,
    maxWaitMs: cfg.loader.maxDelayMs,
    metrics,
    log,
  });
  stage.start();
  const lag = setInterval(() => {
    for (const s of [streams.enriched, streams.bad]) {
      s.lag('loader').then(
        (n) => metrics.streamLag.set({ stream: s.name, group: 'loader' }, n),
        () => {},
      );
    }
  }, 1000);
  lag.unref();
  return {
    loader,
    async stop(deadline) {
      const done =
        (await caughtUp(streams.enriched, 'loader', deadline)) &&
        (await caughtUp(streams.bad, 'loader', deadline));
      clearInterval(lag);
      await stage.stop();
      await loader.close();
      log.info({ caughtUp: done }, 'loader: stopped');
    },
  };
}
