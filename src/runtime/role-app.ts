/**
 * One role per process (`furrow collector`, `furrow enrich`, `furrow load`): the role plus an HTTP
 * server for health and metrics (and, for the collector, the tracking routes). Scale by running more.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { FurrowConfig } from './config.js';
import { createHttpServer, type Handler, listen } from './http-server.js';
import { closeServer } from './lifecycle.js';
import type { Logger } from './logger.js';
import { createMetrics } from './metrics.js';
import type { RunningApp } from './micro-app.js';
import { openStreams, startCollectorRole, startEnrichRole, startLoadRole } from './roles.js';

export type RoleName = 'collector' | 'enrich' | 'load';

export async function startRoleApp(
  cfg: FurrowConfig,
  log: Logger,
  role: RoleName,
): Promise<RunningApp & { describe: string }> {
  await mkdir(resolve(cfg.dataDir), { recursive: true });
  const metrics = createMetrics();
  const streams = await openStreams(cfg);
  let draining = false;
  let roleReady = () => true;
  let stopRole: (deadline: number) => Promise<void>;
  let describe: string;
  let collectorHandler: Handler | undefined;
  if (role === 'collector') {
    const c = await startCollectorRole(cfg, streams, metrics, log);
    roleReady = c.ready;
    stopRole = c.stop;
    collectorHandler = c.handler;
    describe = `collector → ${streams.engine.kind} stream "${cfg.streams.names.raw}"`;
  } else if (role === 'enrich') {
    const e = await startEnrichRole(cfg, streams, metrics, log);
    stopRole = e.stop;
    describe = `enrich: ${streams.engine.kind} "${cfg.streams.names.raw}" → "${cfg.streams.names.enriched}" + "${cfg.streams.names.bad}" (${e.pool.size} workers)`;
  } else {
    const l = await startLoadRole(cfg, streams, metrics, log);
    stopRole = l.stop;
    describe = `load: ${streams.engine.kind} "${cfg.streams.names.enriched}" + "${cfg.streams.names.bad}" → ${l.loader.describe()}`;
  }
  const server = createHttpServer({
    metrics,
    ready: () => !draining && roleReady(),
    collector: collectorHandler,
    fastHttp: cfg.collector.networking.fastHttp,
  });
  const port = await listen(server, cfg.collector.port, cfg.collector.interface);
  const host = cfg.collector.interface === '0.0.0.0' ? 'localhost' : cfg.collector.interface;
  return {
    url: `http://${host}:${port}`,
    port,
    server,
    metrics,
    describe,
    unready: () => {
      draining = true;
    },
    async stop() {
      draining = true;
      const deadline = Date.now() + cfg.shutdown.drainDeadlineMs;
      await closeServer(server, Math.max(1000, deadline - Date.now()));
      await stopRole(deadline);
      await streams.engine.close();
    },
  };
}
