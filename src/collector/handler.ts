/**
 * The collector's HTTP behaviour (spec collector §2): routes, pixel and `ok` responses, CORS, the
 * network-user-id cookie, redirects, size limits. Each tracking request becomes one or more Thrift
 * `CollectorPayload` records handed to the sink, and the response is sent only after the sink says
 * they are durable; a sink that cannot persist makes the collector answer 503 so trackers retry.
 */
import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { type CollectorPayload, encodeCollectorPayloadWith } from '../protocol/collector-payload.js';
import type { CollectorConfig } from './config.js';
import { allowOrigin, createSetCookie, originHosts, readCookie } from './cookies.js';
import { ANONYMOUS_NUID, buildCollectorPayload } from './payload-builder.js';
import { sizeCheck } from './size.js';
import { Slab } from './slab.js';

/** A batch of raw records from one request; they share a partition key. */
export interface RawBatch {
  /** a random UUID per request, made on first read (no sink of the collector uses it today) */
  readonly key: string;
  records: Uint8Array[];
  payloads: CollectorPayload[];
}

/** Where the collector puts what it accepts. Both resolve only once the data is durable. */
export interface CollectorSink {
  storeRaw(batch: RawBatch): Promise<void>;
  storeBad(rows: string[]): Promise<void>;
  /** allocator for raw records (exactly `size` bytes) when the sink stores its buffers without a copy */
  readonly alloc?: (size: number) => Buffer;
}

class LazyKeyBatch implements RawBatch {
  private k?: string;
  constructor(
    readonly records: Uint8Array[],
    readonly payloads: CollectorPayload[],
  ) {}
  get key(): string {
    this.k ??= randomUUID();
    return this.k;
  }
}

export type RouteObserver = (route: string, status: number) => void;

/** A transparent 1×1 GIF89a, the 43-byte pixel every Snowplow collector answers with. */
export const PIXEL = Buffer.from('R0lGODlhAQABAPAAAP///wAAACH5BAUAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');
const ROBOTS =
  'User-agent: *\nDisallow: /\n\nUser-agent: Googlebot\nDisallow: /\n\nUser-agent: AdsBot-Google\nDisallow: /\n';
const NO_CACHE = 'no-cache, no-store, must-revalidate';
const TWO_SEGMENTS = /^\/[^/]+\/[^/]+$/;
const ASCII = /^[\x00-\x7f]*$/;

/** A body over the collector's `dropPayloadSize`: answered 413, and the connection is closed. */
export class BodyTooLarge extends Error {}

/**
 * One request and its response, whichever HTTP reader produced them: node:http
 * (`nodeExchange`) or the collector's own reader for tracking requests (src/runtime/fast-http.ts).
 */
export interface CollectorExchange {
  readonly method: string;
  /** the raw request target: path and query string */
  readonly url: string;
  /** `rawHeaders` as node:http gives them: name, value, name, value… with the original casing */
  readonly rawHeaders: readonly string[];
  readonly remoteAddress: string | undefined;
  /** true when the request line and headers arrived as ASCII bytes (the fast reader checks; node:http's adapter does not) */
  readonly asciiHead?: boolean;
  /** the header names of `rawHeaders` in lower case, in order, when the reader has them already */
  readonly lowerNames?: readonly string[];
  /** a request header by lower-case name, with duplicates joined as node:http joins them */
  header(name: string): string | undefined;
  /** the whole body; rejects with BodyTooLarge past `limit` bytes, with an Error after `timeoutMs` */
  readBody(limit: number, timeoutMs: number): Promise<Buffer>;
  /** send the whole response; throws as node:http does on an invalid header value */
  respond(status: number, headers: OutgoingHttpHeaders | string[], body?: string | Buffer): void;
  /** true once the response is on its way */
  readonly responded: boolean;
}

/** The node:http request/response pair as a CollectorExchange. */
export function nodeExchange(req: IncomingMessage, res: ServerResponse): CollectorExchange {
  return {
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    rawHeaders: req.rawHeaders,
    get remoteAddress() {
      return req.socket.remoteAddress;
    },
    header(name) {
      const v = req.headers[name];
      return Array.isArray(v) ? v.join(', ') : v;
    },
    readBody: (limit, timeoutMs) => readBody(req, limit, timeoutMs),
    respond(status, headers, body) {
      res.writeHead(status, headers);
      res.end(body);
    },
    get responded() {
      return res.headersSent;
    },
  };
}

function readBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<Buffer> {
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
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    });
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/**
 * Value of the first query parameter `name` in a raw query string, decoded as `URLSearchParams.get`
 * decodes it, without building a `URLSearchParams` of the whole (~1 KB) tracker query per request. A
 * query that never spells `name` literally is not parsed at all (so `n%75id=` is not `nuid`).
 */
export function queryParam(qs: string, name: string): string | undefined {
  if (!qs.includes(name)) return undefined;
  let start = 0;
  while (start <= qs.length) {
    let end = qs.indexOf('&', start);
    if (end === -1) end = qs.length;
    let eq = qs.indexOf('=', start);
    if (eq > end) eq = -1;
    const keyEnd = eq === -1 ? end : eq;
    if (
      (keyEnd - start === name.length && qs.startsWith(name, start)) ||
      (keyEnd > start && needsDecoding(qs, start, keyEnd) && decodeParam(qs.slice(start, keyEnd)) === name)
    )
      return eq === -1 ? '' : decodeParam(qs.slice(eq + 1, end));
    start = end + 1;
  }
  return undefined;
}

function needsDecoding(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 || c === 0x2b) return true; // '%' or '+'
  }
  return false;
}

/** application/x-www-form-urlencoded decoding; invalid escapes or UTF-8 decode as URLSearchParams does. */
function decodeParam(v: string): string {
  if (!needsDecoding(v, 0, v.length)) return v;
  try {
    return decodeURIComponent(v.replaceAll('+', ' '));
  } catch {
    return new URLSearchParams(`x=${v}`).get('x') ?? '';
  }
}

function firstForwardedFor(v: string | undefined): string | undefined {
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

/** A `node:http` request handler that can also serve exchanges from another HTTP reader. */
export interface CollectorHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  handle(ex: CollectorExchange): void;
}

/**
 * Returns the collector's request handler. Everything that depends only on the configuration (cookie
 * attributes, the cross-domain policy, path mappings) is prepared here, once.
 */
export function createCollectorHandler(opts: CollectorHandlerOptions): CollectorHandler {
  const cfg = opts.config;
  const now = opts.now ?? Date.now;
  const observe = opts.observe ?? (() => {});
  const processor = opts.processor ?? { artifact: cfg.name, version: '0.1.0' };
  const crossDomainXml = `<?xml version="1.0"?>\n<cross-domain-policy>\n${cfg.crossDomain.domains
    .map((d) => `  <allow-access-from domain="${d}" secure="${cfg.crossDomain.secure}" />`)
    .join('\n')}\n</cross-domain-policy>`;
  const dnt = cfg.doNotTrackCookie.enabled ? new RegExp(`^(?:${cfg.doNotTrackCookie.value})$`) : null;
  const maxAge = String(cfg.cors.accessControlMaxAgeSeconds);
  const setCookie = createSetCookie(cfg.cookie);
  // with the embedded raw stream the spool frames records allocated from it in place (no copy)
  const alloc = opts.sink.alloc ?? new Slab().alloc;
  const pixelLength = String(PIXEL.length);
  const collectorAscii = ASCII.test(cfg.name);
  // Trackers on one site send the same Origin on every request: parse it once, not per request.
  let lastOrigin: string | undefined;
  let lastAllow = allowOrigin(undefined);
  let lastHosts: string[] = originHosts(undefined);
  function origin(o: string | undefined): void {
    if (o === lastOrigin) return;
    lastOrigin = o;
    lastAllow = allowOrigin(o);
    lastHosts = originHosts(o);
  }

  function send(
    ex: CollectorExchange,
    route: string,
    status: number,
    // a flat [name, value, …] list where built per request: no header object, no spreads
    headers: OutgoingHttpHeaders | string[],
    body?: string | Buffer,
  ): void {
    ex.respond(status, headers, body);
    observe(route, status);
  }

  async function track(ex: CollectorExchange, path: string, qs: string, route: string): Promise<void> {
    const method = ex.method;
    const timestamp = now();
    origin(ex.header('origin'));
    const hosts = lastHosts;
    const out = ['Access-Control-Allow-Origin', lastAllow, 'Access-Control-Allow-Credentials', 'true'];
    let body: string | undefined;
    let bodyUtf8: Buffer | undefined;
    if (method === 'POST') {
      try {
        const raw = await ex.readBody(cfg.networking.dropPayloadSize, cfg.networking.bodyReadTimeoutMs);
        // valid UTF-8 round-trips through a string unchanged: keep the bytes, copy them into the
        // record, and decode only if something asks for the text; invalid input is stored as
        // decoded (U+FFFD)
        if (isUtf8(raw)) bodyUtf8 = raw;
        else body = raw.toString('utf8');
      } catch (e) {
        out.push('Connection', 'close');
        if (e instanceof BodyTooLarge) send(ex, route, 413, out, 'Payload Too Large');
        else send(ex, route, 408, out);
        return;
      }
    }
    const pixel = method !== 'POST';
    const redirect = path.startsWith('/r/');
    const anonymous = ex.header('sp-anonymous') !== undefined;
    const cookieHeader = ex.header('cookie');
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
      if (queryParam(qs, cfg.cookieBounce.name) !== undefined) nuid = cfg.cookieBounce.fallbackNetworkUserId;
      else bounce = true;
    }
    nuid ??= randomUUID();

    if (cfg.cookie.enabled && !doNotTrack) {
      let cookies: string[] | undefined;
      if (!anonymous) cookies = setCookie(nuid, hosts, timestamp);
      else if (cookieValue !== undefined) cookies = setCookie('', hosts, timestamp, true);
      if (cookies !== undefined) for (const c of cookies) out.push('Set-Cookie', c);
    }
    if (pixel) out.push('Cache-Control', NO_CACHE);

    if (bounce) {
      const sep = ex.url.includes('?') ? '&' : '?';
      out.push('Location', `${ex.url}${sep}${cfg.cookieBounce.name}=true`);
      send(ex, route, 302, out);
      return;
    }

    if (!doNotTrack) {
      const ip = anonymous
        ? undefined
        : (firstForwardedFor(ex.header('x-forwarded-for')) ?? ex.remoteAddress);
      const payload = buildCollectorPayload(
        {
          path,
          querystring: qs,
          rawHeaders: ex.rawHeaders,
          lowerNames: ex.lowerNames,
          body,
          bodyUtf8,
          ipAddress: ip,
          networkUserId: nuid,
        },
        { collector: cfg.name, timestamp },
      );
      // Every string of the payload but the body comes from the request head, the peer address or the
      // configuration, except a network user id percent-decoded from the query string: with an ASCII
      // head, a checked name and id they are all ASCII, and the encoder copies them without measuring.
      const ascii = ex.asciiHead === true && collectorAscii && ASCII.test(nuid);
      const bytes = encodeCollectorPayloadWith(payload, alloc, bodyUtf8, ascii);
      const sized = sizeCheck(payload, bytes, cfg.networking, processor, timestamp);
      try {
        if (sized.records.length > 0) {
          await opts.sink.storeRaw(new LazyKeyBatch(sized.records, sized.payloads));
        }
        if (sized.bad.length > 0) await opts.sink.storeBad(sized.bad);
      } catch {
        // Not durable: no 200. Trackers retry on 503.
        out.push('Retry-After', '1', 'Content-Type', 'text/plain');
        send(ex, route, 503, out, 'Service Unavailable');
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
      if (location === undefined) send(ex, route, 400, out);
      else {
        out.push('Location', location);
        send(ex, route, 302, out);
      }
      return;
    }
    // A Content-Length spares the chunked framing Node would otherwise add after writeHead.
    if (pixel) {
      out.push('Content-Type', 'image/gif', 'Content-Length', pixelLength);
      send(ex, route, 200, out, method === 'HEAD' ? undefined : PIXEL);
    } else {
      out.push('Content-Type', 'text/plain', 'Content-Length', '2');
      send(ex, route, 200, out, 'ok');
    }
  }

  function handle(ex: CollectorExchange): void {
    const url = ex.url;
    const q = url.indexOf('?');
    const rawPath = q === -1 ? url : url.slice(0, q);
    const qs = q === -1 ? '' : url.slice(q + 1);
    const method = ex.method;
    const mapped = cfg.paths[rawPath];
    const path = mapped ?? rawPath;

    if (mapped === undefined && path.startsWith('/r/') && !cfg.enableDefaultRedirect) {
      send(ex, 'redirect', 404, { 'Content-Type': 'text/plain' }, 'redirects disabled');
      return;
    }
    if (method === 'OPTIONS') {
      send(ex, 'options', 200, {
        'Access-Control-Allow-Origin': allowOrigin(ex.header('origin')),
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
      track(ex, path, qs, route).catch(() => {
        if (!ex.responded) send(ex, route, 500, {}, 'Internal Server Error');
      });
      return;
    }
    if (method === 'GET' && path === '/robots.txt') {
      send(ex, 'robots', 200, { 'Content-Type': 'text/plain' }, ROBOTS);
    } else if (method === 'GET' && path === '/crossdomain.xml' && cfg.crossDomain.enabled) {
      send(ex, 'crossdomain', 200, { 'Content-Type': 'text/xml' }, crossDomainXml);
    } else if (method === 'GET' && path === '/' && cfg.rootResponse.enabled) {
      send(ex, 'root', cfg.rootResponse.statusCode, cfg.rootResponse.headers, cfg.rootResponse.body);
    } else {
      send(ex, 'not_found', 404, { 'Content-Type': 'text/plain' }, 'Not found');
    }
  }

  const handler = ((req: IncomingMessage, res: ServerResponse) =>
    handle(nodeExchange(req, res))) as CollectorHandler;
  handler.handle = handle;
  return handler;
}
