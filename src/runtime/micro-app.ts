/**
 * `furrow micro`: a drop-in for Snowplow Micro. The collector, enrich and an in-memory store in one
 * process, events stored before the collector answers, the `/micro/*` API on the same port.
 */
import type { Server } from 'node:http';
import { createCollectorHandler } from '../collector/handler.js';
import { chooseEnrichments } from '../enrich/enrichments/defaults.js';
import { Enricher } from '../enrich/pipeline.js';
import { createResolver } from '../iglu/resolver.js';
import { createMicroHandler } from '../micro/routes.js';
import { MicroSink } from '../micro/sink.js';
import { MicroStore } from '../micro/store.js';
import type { FurrowConfig } from './config.js';
import { createHttpServer, listen } from './http-server.js';
import { igluPreflight } from './iglu-preflight.js';
import { closeServer } from './lifecycle.js';
import type { Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { resolverConfigFor } from './resolver.js';

export interface RunningApp {
  url: string;
  port: number;
  server: Server;
  metrics: Metrics;
  unready(): void;
  stop(): Promise<void>;
}

export async function startMicroApp(cfg: FurrowConfig, log: Logger): Promise<RunningApp> {
  const resolver = createResolver(resolverConfigFor(cfg));
  await igluPreflight(resolverConfigFor(cfg), log);
  const enrichments = await chooseEnrichments(
    {
      dir: cfg.enrich.enrichmentsDir,
      defaults: cfg.enrich.defaultEnrichments,
      refererDatabase: cfg.enrich.refererDatabase,
    },
    { resolver },
  );
  // Micro has no record-size limit: nothing is split or turned into a size violation.
  const enricher = new Enricher({
    resolver,
    enrichments,
    maxJsonDepth: cfg.enrich.maxJsonDepth,
    acceptInvalid: cfg.enrich.acceptInvalid,
    maxRecordSize: Number.MAX_SAFE_INTEGER,
  });
  const store = new MicroStore({ maxEvents: cfg.micro.maxEvents });
  const metrics = createMetrics();
  const collectorConfig = {
    ...cfg.collector,
    networking: {
      ...cfg.collector.networking,
      maxBytes: Number.MAX_SAFE_INTEGER,
      maxPayloadSize: Number.MAX_SAFE_INTEGER,
    },
  };
  let ready = true;
  const server = createHttpServer({
    metrics,
    ready: () => ready,
    prefixed: [createMicroHandler({ store, resolver })],
    collector: createCollectorHandler({
      config: collectorConfig,
      sink: new MicroSink(enricher, store),
      observe: (route, status) => metrics.httpRequests.inc({ route, status }),
    }),
    fastHttp: collectorConfig.networking.fastHttp,
  });
  const port = await listen(server, cfg.collector.port, cfg.collector.interface);
  const host = cfg.collector.interface === '0.0.0.0' ? 'localhost' : cfg.collector.interface;
  const url = `http://${host}:${port}`;
  log.info({ url }, 'micro: listening');
  return {
    url,
    port,
    server,
    metrics,
    unready: () => {
      ready = false;
    },
    stop: () => closeServer(server, cfg.shutdown.drainDeadlineMs),
  };
}
