/**
 * `furrow up`: every stage in one process on the embedded engine. Collector → spool (fsync before the
 * 200) → raw stream → enrich worker threads → enriched/bad streams → DuckDB, plus the Micro API and a
 * status page on the collector's port.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createCollectorHandler } from '../collector/handler.js';
import { SpoolSink } from '../collector/spool-sink.js';
import { Spool } from '../collector/spool.js';
import { createStatusHandler } from '../console/status-page.js';
import { EnrichStage } from '../enrich/stage.js';
import type { TaskResult } from '../enrich/worker/protocol.js';
import { WorkerPool } from '../enrich/worker/pool.js';
import { createResolver } from '../iglu/resolver.js';
import { parseDuckDbLoaderConfig } from '../loaders/duckdb/config.js';
import { DuckDbLoader } from '../loaders/duckdb/loader.js';
import { LoadStage } from '../loaders/stage.js';
import { createMicroHandler } from '../micro/routes.js';
import { MicroStore } from '../micro/store.js';
import { EmbeddedStreamEngine } from '../streams/embedded/engine.js';
import type { Stream } from '../streams/types.js';
import type { FurrowConfig } from './config.js';
import { createHttpServer, listen, type PrefixHandler } from './http-server.js';
import { closeServer } from './lifecycle.js';
import type { Logger } from './logger.js';
import { createMetrics } from './metrics.js';
import type { RunningApp } from './micro-app.js';
import { resolverConfigFor } from './resolver.js';

const VERSION = '0.1.0';

function feedMicro(store: MicroStore, r: TaskResult): void {
  if (r.goodRaw !== undefined) for (let i = 0; i < r.good.length; i++) store.addGood(r.goodRaw[i], r.good[i]);
  if (r.badRaw !== undefined) {
    for (let i = 0; i < r.bad.length; i++) store.addBad(r.badRaw[i]?.payload ?? null, r.badRaw[i]?.raw ?? null, r.bad[i]);
  }
}

export interface UpApp extends RunningApp {
  dataDir: string;
  warehousePath: string;
}

export async function startUpApp(cfg: FurrowConfig, log: Logger): Promise<UpApp> {
  const dataDir = resolve(cfg.dataDir);
  await mkdir(dataDir, { recursive: true });
  const metrics = createMetrics();
  const resolverConfig = resolverConfigFor(cfg);
  const resolver = createResolver(resolverConfig);

  const engine = new EmbeddedStreamEngine({ dir: dataDir, durability: cfg.spool.durability });
  const [raw, enriched, bad] = await Promise.all([engine.stream('raw'), engine.stream('enriched'), engine.stream('bad')]);
  const spool = await Spool.open({ dataDir, maxBytes: cfg.spool.maxBytes, durability: cfg.spool.durability });
  spool.start(raw);

  const store = cfg.micro.enabled ? new MicroStore({ maxEvents: cfg.micro.maxEvents }) : undefined;
  const pool = new WorkerPool({
    size: cfg.enrich.workers,
    init: {
      resolverConfig,
      enrichmentsDir: cfg.enrich.enrichmentsDir === undefined ? undefined : resolve(cfg.enrich.enrichmentsDir),
      maxJsonDepth: cfg.enrich.maxJsonDepth,
      acceptInvalid: cfg.enrich.acceptInvalid,
      trace: store !== undefined,
    },
    onRestart: (reason) => {
      metrics.workerRestarts.inc();
      log.warn({ reason }, 'enrich worker restarted');
    },
  });
  await pool.ready();
  const enrichStage = new EnrichStage({
    raw,
    enriched,
    bad,
    pool,
    batchSize: cfg.enrich.batchSize,
    metrics,
    log,
    onResult: store === undefined ? undefined : (r) => feedMicro(store, r),
  });

  const duckCfg = parseDuckDbLoaderConfig({ maxRows: cfg.loader.batchRows, maxDelayMs: cfg.loader.maxDelayMs }, { dataDir });
  const loader = new DuckDbLoader(duckCfg);
  await loader.init();
  const loadStage = new LoadStage({
    enriched,
    bad,
    loader,
    batchSize: cfg.loader.batchRows,
    maxWaitMs: cfg.loader.maxDelayMs,
    metrics,
    log,
  });
  enrichStage.start();
  loadStage.start();

  let draining = false;
  const ready = () => !draining && !spool.stats().highWatermark;
  const startedAt = new Date().toISOString();
  let url = '';
  const lags = async () => ({
    'raw / enrich': await raw.lag('enrich'),
    'enriched / loader': await enriched.lag('loader'),
    'bad / loader': await bad.lag('loader'),
  });
  const gauges = setInterval(() => {
    const s = spool.stats();
    metrics.spoolBytes.set(s.bytes);
    metrics.spoolSegments.set(s.segments);
    metrics.spoolRecords.set(s.records);
    metrics.spoolOldestAge.set(s.oldestAgeSeconds);
    void lags().then(
      (l) => {
        metrics.streamLag.set({ stream: 'raw', group: 'enrich' }, l['raw / enrich']);
        metrics.streamLag.set({ stream: 'enriched', group: 'loader' }, l['enriched / loader']);
        metrics.streamLag.set({ stream: 'bad', group: 'loader' }, l['bad / loader']);
      },
      () => {},
    );
  }, 1000);
  gauges.unref();

  const prefixed: PrefixHandler[] = [
    createStatusHandler(async () => {
      const s = spool.stats();
      const counts: Record<string, number> = {};
      for (const m of (await metrics.events.get()).values) counts[`${m.labels.stage} ${m.labels.outcome}`] = m.value;
      return {
        version: VERSION,
        startedAt,
        dataDir,
        ready: ready(),
        collectorUrl: url,
        counts,
        spool: { bytes: s.bytes, segments: s.segments, unforwarded: s.records, oldestAgeSeconds: s.oldestAgeSeconds, full: s.full },
        lag: await lags(),
        warehouse: duckCfg.path,
      };
    }),
  ];
  if (store !== undefined) prefixed.unshift(createMicroHandler({ store, resolver }));

  const server = createHttpServer({
    metrics,
    ready,
    prefixed,
    collector: createCollectorHandler({
      config: cfg.collector,
      sink: new SpoolSink(spool, bad),
      observe: (route, status) => {
        metrics.httpRequests.inc({ route, status });
        if (status === 503) metrics.spoolRejected.inc();
      },
    }),
  });
  const port = await listen(server, cfg.collector.port, cfg.collector.interface);
  const host = cfg.collector.interface === '0.0.0.0' ? 'localhost' : cfg.collector.interface;
  url = `http://${host}:${port}`;

  /** Waits until the consumer group has caught up with the stream, or the deadline passes. */
  async function caughtUp(stream: Stream, group: string, deadline: number): Promise<boolean> {
    while (Date.now() < deadline) {
      if ((await stream.lag(group)) === 0) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return (await stream.lag(group)) === 0;
  }

  return {
    url,
    port,
    server,
    metrics,
    dataDir,
    warehousePath: duckCfg.path,
    unready: () => {
      draining = true;
    },
    async stop() {
      draining = true;
      const deadline = Date.now() + cfg.shutdown.drainDeadlineMs;
      // Stop accepting; every in-flight request is already durable before its 200.
      await closeServer(server, Math.max(1000, deadline - Date.now()));
      const drained = await spool.drain(deadline);
      const enrichedAll = await caughtUp(raw, 'enrich', deadline);
      const loadedAll = (await caughtUp(enriched, 'loader', deadline)) && (await caughtUp(bad, 'loader', deadline));
      log.info({ spool: drained, enrichedAll, loadedAll }, 'drain finished');
      clearInterval(gauges);
      await enrichStage.stop();
      await loadStage.stop();
      await pool.close();
      await loader.close();
      await engine.close();
    },
  };
}
