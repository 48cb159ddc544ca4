/**
 * The collector's HTTP behaviour (spec collector §2): routes, pixel and `ok` responses, CORS, the
 * network-user-id cookie, redirects, size limits. Each tracking request becomes one or more Thrift
 * `CollectorPayload` records handed to the sink, and the response is sent only after the sink says
 * they are durable; a sink that cannot persist makes the collector answer 503 so trackers retry.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type CollectorPayload, encodeCollectorPayload } from '../protocol/collector-payload.js';
import type { CollectorConfig } from './config.js';
import { allowOrigin, originHosts, readCookie, setCookieHeaders } from './cookies.js';
import { ANONYMOUS_NUID, buildCollectorPayload } from './payload-builder.js';
import { sizeCheck } from './size.js';

/** A batch of raw records from one request; they share a partition key. */
export interface RawBatch {
  key: string;
  records: Uint8Array[];
  payloads: CollectorPayload[];
}

/** Where the collector puts what it accepts. Both resolve only once the data is durable. */
export interface CollectorSink {
  storeRaw(batch: RawBatch): Promise<void>;
  storeBad(rows: string[]): Promise<void>;
}

export type RouteObserver = (route: string, status: number) => void;

/** A transparent 1×1 GIF89a, the 43-byte pixel every Snowplow collector answers with. */
export const PIXEL = Buffer.from('R0lGODlhAQABAPAAAP///wAAACH5BAUAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');
const ROBOTS =
  'User-agent: *\nDisallow: /\n\nUser-agent: Googlebot\nDisallow: /\n\nUser-agent: AdsBot-Google\nDisallow: /\n';
const NO_CACHE = 'no-cache, no-store, must-revalidate';
const TWO_SEGMENTS = /^\/[^/]+\/[^/]+$/;

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => reject(new Error('body read timeout')), timeoutMs);
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        clearTimeout(timer);
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      clearTimeout(timer);
      resolve(chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** Value of query parameter `name` in a raw query string (decoded), without parsing the rest. */
function queryParam(qs: string, name: string): string | undefined {
  if (!qs.includes(name)) return undefined;
  return new URLSearchParams(qs).get(name) ?? undefined;
}

function hasQueryName(qs: string, name: string): boolean {
  if (!qs.includes(name)) return false;
  return new URLSearchParams(qs).has(name);
}

function firstForwardedFor(xff: string | string[] | undefined): string | undefined {
  const v = Array.isArray(xff) ? xff[0] : xff;
  if (v === undefined) return undefined;
  const first = v.split(',')[0].trim();
  return first === '' ? undefined : first;
}

export interface CollectorHandlerOptions {
  config: CollectorConfig;
  sink: CollectorSink;
  observe?: RouteObserver;
  /** `processor` of collector-side bad rows (size violations) */
  processor?: { artifact: string; version: string };
  now?: () => number;
}

/**
 * Returns a `node:http` request handler. Everything that depends only on the configuration (cookie
 * attributes, the cross-domain policy, path mappings) is prepared here, once.
 */
export function createCollectorHandler(
  opts: CollectorHandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const cfg = opts.config;
  const now = opts.now ?? Date.now;
  const observe = opts.observe ?? (() => {});
  const processor = opts.processor ?? { artifact: cfg.name, version: '0.1.0' };
  const crossDomainXml = `<?xml version="1.0"?>\n<cross-domain-policy>\n${cfg.crossDomain.domains
    .map((d) => `  <allow-access-from domain="${d}" secure="${cfg.crossDomain.secure}" />`)
    .join('\n')}\n</cross-domain-policy>`;
  const dnt = cfg.doNotTrackCookie.enabled ? new RegExp(`^(?:${cfg.doNotTrackCookie.value})$`) : null;
  const maxAge = String(cfg.cors.accessControlMaxAgeSeconds);

  function send(
    res: ServerResponse,
    route: string,
    status: number,
    headers: Record<string, string | string[]>,
    body?: string | Buffer,
  ): void {
    res.writeHead(status, headers);
    res.end(body);
    observe(route, status);
  }

  async function track(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    qs: string,
    route: string,
  ): Promise<void> {
    const method = req.method ?? 'GET';
    const timestamp = now();
    const headers = req.headers;
    const cors: Record<string, string | string[]> = {
      'Access-Control-Allow-Origin': allowOrigin(headers.origin),
      'Access-Control-Allow-Credentials': 'true',
    };
    let body: string | undefined;
    if (method === 'POST') {
      try {
        body = await readBody(req, cfg.networking.dropPayloadSize, cfg.networking.bodyReadTimeoutMs);
      } catch (e) {
        if (e instanceof BodyTooLarge)
          send(res, route, 413, { ...cors, Connection: 'close' }, 'Payload Too Large');
        else send(res, route, 408, { ...cors, Connection: 'close' });
        return;
      }
    }
    const pixel = method !== 'POST';
    const redirect = path.startsWith('/r/');
    const anonymous = headers['sp-anonymous'] !== undefined;
    const cookieHeader = headers.cookie;
    const cookieValue = readCookie(cookieHeader, cfg.cookie.name);
    const doNotTrack =
      dnt !== null &&
      (() => {
        const v = readCookie(cookieHeader, cfg.doNotTrackCookie.name);
        return v !== undefined && dnt.test(v);
      })();

    let nuid: string | undefined = anonymous ? ANONYMOUS_NUID : (queryParam(qs, 'nuid') ?? cookieValue);
    let bounce = false;
    if (nuid === undefined && cfg.cookieBounce.enabled && pixel && !redirect) {
      if (hasQueryName(qs, cfg.cookieBounce.name)) nuid = cfg.cookieBounce.fallbackNetworkUserId;
      else bounce = true;
    }
    nuid ??= randomUUID();

    const hosts = originHosts(headers.origin);
    if (cfg.cookie.enabled && !doNotTrack) {
      if (!anonymous) cors['Set-Cookie'] = setCookieHeaders(cfg.cookie, nuid, hosts, timestamp);
      else if (cookieValue !== undefined)
        cors['Set-Cookie'] = setCookieHeaders(cfg.cookie, '', hosts, timestamp, true);
    }
    if (pixel) cors['Cache-Control'] = NO_CACHE;

    if (bounce) {
      const sep = (req.url ?? path).includes('?') ? '&' : '?';
      send(res, route, 302, { ...cors, Location: `${req.url ?? path}${sep}${cfg.cookieBounce.name}=true` });
      return;
    }

    if (!doNotTrack) {
      const ip = anonymous
        ? undefined
        : (firstForwardedFor(headers['x-forwarded-for']) ?? req.socket.remoteAddress);
      const payload = buildCollectorPayload(
        { path, querystring: qs, rawHeaders: req.rawHeaders, body, ipAddress: ip, networkUserId: nuid },
        { collector: cfg.name, timestamp },
      );
      const sized = sizeCheck(payload, encodeCollectorPayload(payload), cfg.networking, processor, timestamp);
      try {
        if (sized.records.length > 0) {
          await opts.sink.storeRaw({ key: randomUUID(), records: sized.records, payloads: sized.payloads });
        }
        if (sized.bad.length > 0) await opts.sink.storeBad(sized.bad);
      } catch {
        // Not durable: no 200. Trackers retry on 503.
        send(
          res,
          route,
          503,
          { ...cors, 'Retry-After': '1', 'Content-Type': 'text/plain' },
          'Service Unavailable',
        );
        return;
      }
    }

    if (redirect) {
      const target = queryParam(qs, 'u');
      let location: string | undefined;
      if (target !== undefined) {
        try {
          const u = new URL(target);
          if (cfg.redirectDomains.length === 0 || cfg.redirectDomains.includes(u.hostname)) location = target;
        } catch {
          location = undefined;
        }
      }
      if (location === undefined) send(res, route, 400, cors);
      else send(res, route, 302, { ...cors, Location: location });
      return;
    }
    if (pixel)
      send(res, route, 200, { ...cors, 'Content-Type': 'image/gif' }, method === 'HEAD' ? undefined : PIXEL);
    else send(res, route, 200, { ...cors, 'Content-Type': 'text/plain' }, 'ok');
  }

  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q === -1 ? url : url.slice(0, q);
    const qs = q === -1 ? '' : url.slice(q + 1);
    const method = req.method ?? 'GET';
    const mapped = cfg.paths[rawPath];
    const path = mapped ?? rawPath;

    if (mapped === undefined && path.startsWith('/r/') && !cfg.enableDefaultRedirect) {
      send(res, 'redirect', 404, { 'Content-Type': 'text/plain' }, 'redirects disabled');
      return;
    }
    if (method === 'OPTIONS') {
      send(res, 'options', 200, {
        'Access-Control-Allow-Origin': allowOrigin(req.headers.origin),
        'Access-Control-Allow-Credentials': 'true',
        'Access-Control-Allow-Headers': 'Content-Type, SP-Anonymous',
        'Access-Control-Max-Age': maxAge,
      });
      return;
    }
    const isGet = method === 'GET' || method === 'HEAD';
    let route: string | undefined;
    if (TWO_SEGMENTS.test(path) && (method === 'POST' || isGet)) {
      route = path === '/com.snowplowanalytics.snowplow/tp2' ? `tp2-${method.toLowerCase()}` : 'vendor';
      if (path.startsWith('/r/')) route = 'redirect';
    } else if (isGet && (path === '/i' || path === '/ice.png')) route = 'pixel';
    if (route !== undefined) {
      track(req, res, path, qs, route).catch(() => {
        if (!res.headersSent) send(res, route, 500, {}, 'Internal Server Error');
      });
      return;
    }
    if (method === 'GET' && path === '/robots.txt') {
      send(res, 'robots', 200, { 'Content-Type': 'text/plain' }, ROBOTS);
    } else if (method === 'GET' && path === '/crossdomain.xml' && cfg.crossDomain.enabled) {
      send(res, 'crossdomain', 200, { 'Content-Type': 'text/xml' }, crossDomainXml);
    } else if (method === 'GET' && path === '/' && cfg.rootResponse.enabled) {
      send(res, 'root', cfg.rootResponse.statusCode, cfg.rootResponse.headers, cfg.rootResponse.body);
    } else {
      send(res, 'not_found', 404, { 'Content-Type': 'text/plain' }, 'Not found');
    }
  };
}
