/**
 * The Snowplow-Micro-compatible REST API (`/micro/*`) as a `node:http` handler. It serves the union of
 * Micro 3.x and 4.x: `/micro/all|good|bad|reset|iglu/...`, `GET /micro/events` (3.x array) and
 * `POST /micro/events` (4.x pages), `/micro/columns`, `/micro/columnStats`, `/micro/timeline`,
 * `/micro/auth-config`. `/micro/reset` answers the summary object that Micro ≤3.x and the docs show.
 *
 * Responses are JSON, gzip-compressed when the client accepts it, and carry no CORS headers: test runners call
 * Micro server-side. Anything a client sends — bad JSON, wrong types, huge bodies — is a 4xx, never a crash.
 *
 * @example
 * const micro = createMicroHandler({ store, resolver });
 * http.createServer(async (req, res) => {
 *   const url = new URL(req.url ?? '/', 'http://localhost');
 *   if (await micro(req, res, url)) return;
 *   collector(req, res, url);
 * });
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { parseSchemaVer } from '../iglu/schema-key.js';
import type { LookupHistory, Resolver } from '../iglu/types.js';
import type {
  BadFilters,
  EventsFilter,
  EventsRequest,
  GoodFilters,
  MicroStore,
  TimelineBucket,
} from './store.js';

const gzipAsync = promisify(gzip);

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export const SUPPORTED_ENDPOINTS =
  'Supported endpoints: /micro/all, /micro/good, /micro/bad, /micro/events, /micro/reset, /micro/iglu, ' +
  '/micro/columns, /micro/columnStats, /micro/timeline, /micro/auth-config';

const IGLU_PATH_HINT =
  'Schema lookup should be in format iglu/{vendor}/{schemaName}/jsonschema/{model}-{revision}-{addition}';

const AUTH_CONFIG = { domain: '', audience: '', clientId: '', enabled: false };

export interface MicroHandlerOptions {
  store: MicroStore;
  resolver: Resolver;
  /** request bodies above this are answered 413; default 1 MiB */
  maxBodyBytes?: number;
}

export type MicroHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
) => boolean | Promise<boolean>;

/** A client mistake, answered with `status` and a JSON string body. */
class ClientError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function acceptsGzip(req: IncomingMessage): boolean {
  const header = req.headers['accept-encoding'];
  if (header === undefined) return false;
  const value = Array.isArray(header) ? header.join(',') : header;
  for (const part of value.split(',')) {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding.trim() !== 'gzip' && coding.trim() !== '*') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}

async function sendJson(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: unknown,
): Promise<void> {
  let payload: Buffer = Buffer.from(JSON.stringify(body), 'utf8');
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/json',
    Vary: 'Accept-Encoding',
  };
  if (acceptsGzip(req)) {
    payload = await gzipAsync(payload);
    headers['Content-Encoding'] = 'gzip';
  }
  headers['Content-Length'] = payload.length;
  res.writeHead(status, headers);
  res.end(req.method === 'HEAD' ? undefined : payload);
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      // Keep reading (and discarding) so the client gets the 413 instead of a reset connection.
      req.resume();
      reject(new ClientError(413, `Request body exceeds the limit of ${limit} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        reject(new ClientError(413, `Request body exceeds the limit of ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (err) => {
      if (!failed) {
        failed = true;
        reject(err);
      }
    });
  });
}

/** Parsed JSON object body; an empty body counts as `{}` because Micro clients often POST without one. */
async function readJsonObject(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const text = await readBody(req, limit);
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ClientError(400, `Malformed JSON body: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ClientError(400, 'The request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

// --- Body / query decoding ----------------------------------------------------------------------------------
// Like circe's decoders: a missing key or `null` is "not given", a value of the wrong type is rejected.

function optString(o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ClientError(400, `Field '${key}' must be a string`);
  return v;
}

function optInt(o: Record<string, unknown>, key: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw new ClientError(400, `Field '${key}' must be an integer`);
  return v;
}

function optStringArray(o: Record<string, unknown>, key: string): string[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new ClientError(400, `Field '${key}' must be an array of strings`);
  }
  return v as string[];
}

function optBool(o: Record<string, unknown>, key: string): boolean | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'boolean') throw new ClientError(400, `Field '${key}' must be a boolean`);
  return v;
}

function requireObject(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ClientError(400, `${what} must be an object`);
  return v as Record<string, unknown>;
}

function parseInstant(v: unknown, what: string): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new ClientError(400, `${what} must be an ISO-8601 string`);
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new ClientError(400, `${what} is not an ISO-8601 instant: ${v}`);
  return ms;
}

/** Java `Instant.toString` at ms precision, for echoing bucket bounds the way Micro does. */
function instantString(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}

function queryString(url: URL, key: string): string | undefined {
  const v = url.searchParams.get(key);
  return v === null ? undefined : v;
}

function queryLimit(url: URL): number | undefined {
  const v = url.searchParams.get('limit');
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw new ClientError(400, `Query parameter 'limit' must be an integer`);
  return Number(v);
}

function goodFiltersFromQuery(url: URL): GoodFilters {
  const filters: GoodFilters = {};
  const eventType = queryString(url, 'event_type');
  if (eventType !== undefined) filters.event_type = eventType;
  const schema = queryString(url, 'schema');
  if (schema !== undefined) filters.schema = schema;
  // Iglu URIs never contain commas, so `contexts=a,b` and `contexts=a&contexts=b` can both be accepted.
  const contexts = url.searchParams
    .getAll('contexts')
    .flatMap((c) => c.split(','))
    .filter((c) => c !== '');
  if (contexts.length > 0) filters.contexts = contexts;
  const limit = queryLimit(url);
  if (limit !== undefined) filters.limit = limit;
  return filters;
}

function goodFiltersFromBody(o: Record<string, unknown>): GoodFilters {
  const filters: GoodFilters = {};
  const eventType = optString(o, 'event_type');
  if (eventType !== undefined) filters.event_type = eventType;
  const schema = optString(o, 'schema');
  if (schema !== undefined) filters.schema = schema;
  const contexts = optStringArray(o, 'contexts');
  if (contexts !== undefined) filters.contexts = contexts;
  const limit = optInt(o, 'limit');
  if (limit !== undefined) filters.limit = limit;
  return filters;
}

function badFiltersFromQuery(url: URL): BadFilters {
  const filters: BadFilters = {};
  const vendor = queryString(url, 'vendor');
  if (vendor !== undefined) filters.vendor = vendor;
  const version = queryString(url, 'version');
  if (version !== undefined) filters.version = version;
  const limit = queryLimit(url);
  if (limit !== undefined) filters.limit = limit;
  return filters;
}

function badFiltersFromBody(o: Record<string, unknown>): BadFilters {
  const filters: BadFilters = {};
  const vendor = optString(o, 'vendor');
  if (vendor !== undefined) filters.vendor = vendor;
  const version = optString(o, 'version');
  if (version !== undefined) filters.version = version;
  const limit = optInt(o, 'limit');
  if (limit !== undefined) filters.limit = limit;
  return filters;
}

function eventsRequestFromBody(o: Record<string, unknown>): EventsRequest {
  const page = optInt(o, 'page');
  const pageSize = optInt(o, 'pageSize');
  if (page === undefined || page < 1) throw new ClientError(400, `Field 'page' must be an integer >= 1`);
  if (pageSize === undefined || pageSize < 1)
    throw new ClientError(400, `Field 'pageSize' must be an integer >= 1`);
  if (!Array.isArray(o.filters)) throw new ClientError(400, `Field 'filters' must be an array`);
  const filters: EventsFilter[] = o.filters.map((raw, i) => {
    const f = requireObject(raw, `filters[${i}]`);
    const column = optString(f, 'column');
    if (column === undefined) throw new ClientError(400, `filters[${i}].column must be a string`);
    const values = optStringArray(f, 'values');
    // `value` (one string) is the form Micro accepted before 4.4.
    const single = optString(f, 'value');
    return { column, values: values ?? (single === undefined ? [] : [single]) };
  });
  let timeRange: EventsRequest['timeRange'] = null;
  if (o.timeRange !== undefined && o.timeRange !== null) {
    const tr = requireObject(o.timeRange, 'timeRange');
    timeRange = {
      start: parseInstant(tr.start, 'timeRange.start'),
      end: parseInstant(tr.end, 'timeRange.end'),
    };
  }
  let sorting: EventsRequest['sorting'] = null;
  if (o.sorting !== undefined && o.sorting !== null) {
    const s = requireObject(o.sorting, 'sorting');
    const column = optString(s, 'column');
    if (column === undefined) throw new ClientError(400, 'sorting.column must be a string');
    sorting = { column, desc: optBool(s, 'desc') === true };
  }
  return { page, pageSize, filters, validEvents: optBool(o, 'validEvents'), timeRange, sorting };
}

function timelineBucketsFromBody(
  o: Record<string, unknown>,
): Array<TimelineBucket & { text: { start: string; end: string } }> {
  if (!Array.isArray(o.buckets)) throw new ClientError(400, `Field 'buckets' must be an array`);
  return o.buckets.map((raw, i) => {
    const b = requireObject(raw, `buckets[${i}]`);
    const start = parseInstant(b.start, `buckets[${i}].start`);
    const end = parseInstant(b.end, `buckets[${i}].end`);
    if (start === null || end === null) throw new ClientError(400, `buckets[${i}] needs both start and end`);
    return { start, end, text: { start: instantString(start), end: instantString(end) } };
  });
}

/** Iglu client's `ResolutionError` JSON: `{"value": {<repository>: {errors, attempts, lastAttempt}}}`, sorted. */
function resolutionErrorJson(history: readonly LookupHistory[]): { value: Record<string, unknown> } {
  const value: Record<string, unknown> = {};
  for (const h of [...history].sort((a, b) =>
    a.repository < b.repository ? -1 : a.repository > b.repository ? 1 : 0,
  )) {
    const entry = { errors: h.errors, attempts: h.attempts, lastAttempt: h.lastAttempt };
    if (h.repository === '__proto__') {
      Object.defineProperty(value, h.repository, {
        value: entry,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else value[h.repository] = entry;
  }
  return { value };
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Builds the `/micro/*` handler. It returns `false` for paths outside `/micro` (so the caller can route them
 * to the collector) and otherwise answers the request and resolves to `true`.
 */
export function createMicroHandler(opts: MicroHandlerOptions): MicroHandler {
  const { store, resolver } = opts;
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;

  async function iglu(segments: string[]): Promise<[number, unknown]> {
    const [vendor, name, format, version] = segments.map(decodeSegment);
    if (!parseSchemaVer(version).ok) return [404, IGLU_PATH_HINT];
    let result: Awaited<ReturnType<Resolver['lookupSchema']>>;
    try {
      result = await resolver.lookupSchema(`iglu:${vendor}/${name}/${format}/${version}`);
    } catch (e) {
      // Registries unreachable: an infrastructure problem, not a missing schema.
      return [502, `Iglu lookup failed: ${(e as Error).message}`];
    }
    if (result.ok) return [200, result.schema];
    const err = result.error;
    return [404, err.error === 'ResolutionError' ? resolutionErrorJson(err.lookupHistory) : err];
  }

  async function route(req: IncomingMessage, url: URL, path: string): Promise<[number, unknown]> {
    const method = req.method ?? 'GET';
    const isGet = method === 'GET' || method === 'HEAD';
    const isPost = method === 'POST';
    switch (path) {
      case '/micro/all':
        if (isGet || isPost) return [200, store.summary()];
        break;
      case '/micro/good':
        if (isGet) return [200, await store.good(goodFiltersFromQuery(url))];
        if (isPost) return [200, await store.good(goodFiltersFromBody(await readJsonObject(req, maxBody)))];
        break;
      case '/micro/bad':
        if (isGet) return [200, await store.bad(badFiltersFromQuery(url))];
        if (isPost) return [200, await store.bad(badFiltersFromBody(await readJsonObject(req, maxBody)))];
        break;
      case '/micro/reset':
        if (isGet || isPost) {
          store.reset();
          return [200, store.summary()];
        }
        break;
      case '/micro/events':
        if (isGet) return [200, store.lossyEvents()];
        if (isPost)
          return [200, store.queryEvents(eventsRequestFromBody(await readJsonObject(req, maxBody)))];
        break;
      case '/micro/columns':
        if (isGet) return [200, store.columns()];
        break;
      case '/micro/columnStats':
        if (isPost) {
          const body = await readJsonObject(req, maxBody);
          const columns = optStringArray(body, 'columns');
          if (columns === undefined)
            throw new ClientError(400, `Field 'columns' must be an array of strings`);
          return [200, store.columnStats(columns)];
        }
        break;
      case '/micro/timeline':
        if (isPost) {
          const buckets = timelineBucketsFromBody(await readJsonObject(req, maxBody));
          const counts = store.timeline(buckets);
          return [200, { points: counts.map((c, i) => ({ ...c, bucket: buckets[i].text })) }];
        }
        break;
      case '/micro/auth-config':
        if (isGet) return [200, AUTH_CONFIG];
        break;
      default:
        if (isGet && path.startsWith('/micro/iglu/')) {
          const segments = path.slice('/micro/iglu/'.length).split('/');
          if (segments.length === 4 && segments.every((s) => s !== '')) return iglu(segments);
        }
    }
    return [404, SUPPORTED_ENDPOINTS];
  }

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL, path: string): Promise<boolean> {
    let status: number;
    let body: unknown;
    try {
      [status, body] = await route(req, url, path);
    } catch (e) {
      if (e instanceof ClientError) {
        status = e.status;
        body = e.message;
      } else {
        status = 500;
        body = `Internal error: ${(e as Error)?.message ?? String(e)}`;
      }
    }
    try {
      if (!res.headersSent) await sendJson(req, res, status, body);
    } catch {
      // The client went away while we answered; nothing left to tell it.
      if (!res.writableEnded) res.destroy();
    }
    return true;
  }

  return (req, res, url) => {
    const pathname = url.pathname;
    if (pathname !== '/micro' && !pathname.startsWith('/micro/')) return false;
    // One trailing slash is tolerated; http4s would 404 it, but no client means anything else by it.
    const path =
      pathname.length > '/micro/'.length && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
    return handle(req, res, url, path);
  };
}
