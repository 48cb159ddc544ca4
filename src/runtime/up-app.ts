/**
 * `furrow up`: every role in one process. Collector → raw stream (fsync before the 200; on the embedded
 * engine the raw stream's log is the spool, on the others a spool forwards to it) → enrich worker threads →
 * enriched/bad streams → warehouse (DuckDB by default), plus the Micro API (fed by reference, rebuilt when
 * queried) and a status page on the collector's port. The streams are the embedded engine unless
 * configured otherwise.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createStatusHandler } from '../console/status-page.js';
import { createResolver } from '../iglu/resolver.js';
import { createRawSource } from '../micro/raw-source.js';
import { createMicroHandler } from '../micro/routes.js';
import { storeTaskResult } from '../micro/sink.js';
import { MicroStore } from '../micro/store.js';
import type { FurrowConfig } from './config.js';
import { createHttpServer, listen, type PrefixHandler } from './http-server.js';
import { igluPreflight } from './iglu-preflight.js';
import { closeServer } from './lifecycle.js';
import type { Logger } from './logger.js';
import { createMetrics } from './metrics.js';
import type { RunningApp } from './micro-app.js';
import { resolverConfigFor } from './resolver.js';
import { openStreams, startCollectorRole, startEnrichRole, startLoadRole } from './roles.js';

export const VERSION = '0.1.0';

export interface UpApp extends RunningApp {
  dataDir: string;
  warehouse: string;
}

export async function startUpApp(cfg: FurrowConfig, log: Logger): Promise<UpApp> {
  const dataDir = resolve(cfg.dataDir);
  await mkdir(dataDir, { recursive: true });
  const metrics = createMetrics();
  await igluPreflight(resolverConfigFor(cfg), log);
  const streams = await openStreams(cfg);
  // The workers hand over where each event came from; the raw events are rebuilt only for /micro answers.
  const resolver = cfg.micro.enabled ? createResolver(resolverConfigFor(cfg)) : undefined;
  const store =
    resolver === undefined
      ? undefined
      : new MicroStore({
          maxEvents: cfg.micro.maxEvents,
          source: createRawSource({ resolver, maxJsonDepth: cfg.enrich.maxJsonDepth }),
        });
  const collector = await startCollectorRole(cfg, streams, metrics, log);
  const enrich = await startEnrichRole(cfg, streams, metrics, log, {
    trace: store !== undefined,
    onResult: store === undefined ? undefined : (r, records) => storeTaskResult(store, r, records),
  });
  const load = await startLoadRole(cfg, streams, metrics, log);

  let draining = false;
  const ready = () => !draining && collector.ready();
  const startedAt = new Date().toISOString();
  let url = '';
  const n = cfg.streams.names;
  const lags = async () => ({
    [`${n.raw} / enrich`]: await streams.raw.lag('enrich'),
    [`${n.enriched} / loader`]: await streams.enriched.lag('loader'),
    [`${n.bad} / loader`]: await streams.bad.lag('loader'),
  });
  const prefixed: PrefixHandler[] = [
    createStatusHandler(async () => {
      const s = collector.spool.stats();
      const counts: Record<string, number> = {};
      for (const m of (await metrics.events.get()).values)
        counts[`${m.labels.stage} ${m.labels.outcome}`] = m.value;
      return {
        version: VERSION,
        startedAt,
        dataDir,
        ready: ready(),
        collectorUrl: url,
        counts,
        spool: {
          bytes: s.bytes,
          segments: s.segments,
          unforwarded: s.records,
          oldestAgeSeconds: s.oldestAgeSeconds,
          full: s.full,
        },
        lag: await lags(),
        warehouse: load.loader.describe(),
      };
    }),
  ];
  if (store !== undefined && resolver !== undefined)
    prefixed.unshift(createMicroHandler({ store, resolver }));

  const server = createHttpServer({
    metrics,
    ready,
    prefixed,
    collector: collector.handler,
    fastHttp: cfg.collector.networking.fastHttp,
  });
  const port = await listen(server, cfg.collector.port, cfg.collector.interface);
  const host = cfg.collector.interface === '0.0.0.0' ? 'localhost' : cfg.collector.interface;
  url = `http://${host}:${port}`;

  return {
    url,
    port,
    server,
    metrics,
    dataDir,
    warehouse: load.loader.describe(),
    unready: () => {
      draining = true;
    },
    async stop() {
      draining = true;
      const deadline = Date.now() + cfg.shutdown.drainDeadlineMs;
      // Stop accepting; every request in flight is durable before its 200, so it is drained below.
      await closeServer(server, Math.max(1000, deadline - Date.now()));
      await collector.stop(deadline);
      await enrich.stop(deadline);
      await load.stop(deadline);
      await streams.engine.close();
    },
  };
}
