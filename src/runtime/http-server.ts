/**
 * One HTTP server per process: health and metrics first (they must answer even when everything else is
 * busy), then the Micro API and the status page when enabled, then the collector's routes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { CollectorExchange } from '../collector/handler.js';
import { attachFastPath } from './fast-http.js';
import type { Metrics } from './metrics.js';

export type Handler = ((req: IncomingMessage, res: ServerResponse) => void) & {
  /** the same handler for exchanges read by the fast path (src/runtime/fast-http.ts) */
  handle?: (ex: CollectorExchange) => void;
};
export type PrefixHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
) => boolean | Promise<boolean>;

export interface HttpServerParts {
  metrics: Metrics;
  /** readiness: false while starting, draining or when the spool is over its high watermark */
  ready: () => boolean;
  /** the collector's handler; absent in roles without a collector (404 instead) */
  collector?: Handler;
  /** handlers tried before the collector (Micro API, status page); true when they answered */
  prefixed?: PrefixHandler[];
  /** serve the collector's requests with the fast HTTP reader (default true; `collector.networking.fastHttp`) */
  fastHttp?: boolean;
}

type Route = 'live' | 'ready' | 'metrics' | 'prefixed' | 'collector';

/** Where a request goes: one answer for both HTTP readers, so the fast one claims only collector routes. */
function routeOf(method: string | undefined, path: string, prefixed: boolean): Route {
  if (method === 'GET' || method === 'HEAD') {
    // Liveness never depends on downstreams; readiness does.
    if (path === '/health' || path === '/health/live') return 'live';
    if (path === '/health/ready' || path === '/sink-health') return 'ready';
    if (path === '/metrics') return 'metrics';
  }
  if (prefixed && (path.startsWith('/micro') || path.startsWith('/status'))) return 'prefixed';
  return 'collector';
}

export function createHttpServer(parts: HttpServerParts): Server {
  const { metrics } = parts;
  const prefixed = parts.prefixed ?? [];
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    switch (routeOf(req.method, path, prefixed.length > 0)) {
      case 'live':
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
        metrics.httpRequests.inc({ route: 'health', status: 200 });
        return;
      case 'ready': {
        const ok = parts.ready();
        res
          .writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' })
          .end(ok ? 'ok' : 'Service Unavailable');
        metrics.httpRequests.inc({ route: 'ready', status: ok ? 200 : 503 });
        return;
      }
      case 'metrics':
        metrics.registry.metrics().then(
          (text) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(text),
          () => res.writeHead(500).end(),
        );
        return;
      case 'prefixed': {
        const full = new URL(url, 'http://localhost');
        (async () => {
          for (const h of prefixed) if (await h(req, res, full)) return;
          fallback(req, res);
        })().catch(() => {
          if (!res.headersSent) res.writeHead(500).end();
        });
        return;
      }
      case 'collector':
        fallback(req, res);
    }
  });

  function fallback(req: IncomingMessage, res: ServerResponse): void {
    if (parts.collector !== undefined) parts.collector(req, res);
    else {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found');
      metrics.httpRequests.inc({ route: 'not_found', status: 404 });
    }
  }

  // Trackers keep connections alive; give them longer than typical load-balancer idle timeouts.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  const collector = parts.collector;
  if (collector?.handle !== undefined && parts.fastHttp !== false) {
    attachFastPath(server, {
      claims: (method, path) => routeOf(method, path, prefixed.length > 0) === 'collector',
      handle: collector.handle,
      keepAliveTimeoutMs: server.keepAliveTimeout,
      headersTimeoutMs: server.headersTimeout,
    });
  }
  return server;
}

export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr !== null ? addr.port : port);
    });
  });
}
