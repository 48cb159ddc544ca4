/**
 * The Iglu resolver configuration, read as Snowplow's `resolver-config` self-describing JSON
 * (1-0-0 … 1-0-3) or as its bare `data` object.
 *
 * Like the reference client this does not JSON-Schema-validate the document: Snowplow users rely on
 * it accepting `cacheTtl` under 1-0-1 (Micro's default config does) and ignoring unknown keys.
 * Everything that is read is checked, and the error names the key path.
 *
 * @example
 * const config = parseResolverConfig(JSON.parse(readFileSync('resolver.json', 'utf8')));
 */
import { isAbsolute, resolve } from 'node:path';
import { parseSchemaKey } from './schema-key.js';

export interface HttpConnection {
  http: { uri: string; apikey: string | null };
}
export interface EmbeddedConnection {
  /** `path` is a directory holding `schemas/<vendor>/<name>/<format>/<version>` (or that `schemas/` itself) */
  embedded: { path: string };
}

export interface RepositoryConfig {
  name: string;
  priority: number;
  vendorPrefixes: string[];
  connection: HttpConnection | EmbeddedConnection;
}

export interface ResolverConfig {
  /** LRU capacity, counting found schemas and cached failures alike; 0 disables caching */
  cacheSize: number;
  /** seconds before an entry (found or not) is resolved again; null = never expires */
  cacheTtl: number | null;
  repositories: RepositoryConfig[];
}

export class ResolverConfigError extends Error {
  override name = 'ResolverConfigError';
}

export const IGLU_CENTRAL_URI = 'http://iglucentral.com';
const CONFIG_SCHEMA = { vendor: 'com.snowplowanalytics.iglu', name: 'resolver-config', format: 'jsonschema' };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(path: string, message: string): never {
  throw new ResolverConfigError(path === '' ? message : `${path}: ${message}`);
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v);
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

export interface ParseResolverConfigOptions {
  /** directory that relative `embedded.path` values are resolved against (default: process.cwd()) */
  baseDir?: string;
}

/** Throws `ResolverConfigError` naming the offending key path. */
export function parseResolverConfig(json: unknown, opts: ParseResolverConfigOptions = {}): ResolverConfig {
  if (!isObject(json)) fail('', `resolver config must be a JSON object, got ${describe(json)}`);
  let data: Record<string, unknown> = json;
  let prefix = '';
  if ('schema' in json && 'data' in json) {
    const uri = json.schema;
    const key = typeof uri === 'string' ? parseSchemaKey(uri) : null;
    if (
      key === null ||
      !key.ok ||
      key.value.vendor !== CONFIG_SCHEMA.vendor ||
      key.value.name !== CONFIG_SCHEMA.name ||
      key.value.format !== CONFIG_SCHEMA.format ||
      key.value.version.model !== 1 ||
      key.value.version.revision !== 0
    ) {
      fail(
        'schema',
        `expected iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-*, got ${describe(uri)}`,
      );
    }
    if (!isObject(json.data)) fail('data', `expected an object, got ${describe(json.data)}`);
    data = json.data;
    prefix = 'data.';
  }

  const cacheSize = data.cacheSize;
  if (cacheSize === undefined) fail(`${prefix}cacheSize`, 'is required');
  if (typeof cacheSize !== 'number' || !Number.isInteger(cacheSize) || cacheSize < 0) {
    fail(`${prefix}cacheSize`, `expected a non-negative integer, got ${describe(cacheSize)}`);
  }

  let cacheTtl: number | null = null;
  if (data.cacheTtl !== undefined && data.cacheTtl !== null) {
    const ttl = data.cacheTtl;
    if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 0) {
      fail(`${prefix}cacheTtl`, `expected a non-negative integer (seconds) or null, got ${describe(ttl)}`);
    }
    cacheTtl = ttl;
  }

  const repos = data.repositories;
  if (repos === undefined) fail(`${prefix}repositories`, 'is required');
  if (!Array.isArray(repos)) fail(`${prefix}repositories`, `expected an array, got ${describe(repos)}`);
  const seen = new Set<string>();
  const repositories = repos.map((r, i) => {
    const repo = parseRepository(r, `${prefix}repositories[${i}]`, opts);
    if (seen.has(repo.name)) {
      fail(`${prefix}repositories[${i}].name`, `duplicate repository name ${JSON.stringify(repo.name)}`);
    }
    seen.add(repo.name);
    return repo;
  });
  return { cacheSize, cacheTtl, repositories };
}

function parseRepository(r: unknown, path: string, opts: ParseResolverConfigOptions): RepositoryConfig {
  if (!isObject(r)) fail(path, `expected an object, got ${describe(r)}`);
  const { name, priority, vendorPrefixes, connection } = r;
  if (typeof name !== 'string' || name === '') {
    fail(`${path}.name`, `expected a non-empty string, got ${describe(name)}`);
  }
  if (typeof priority !== 'number' || !Number.isFinite(priority)) {
    fail(`${path}.priority`, `expected a number, got ${describe(priority)}`);
  }
  if (!Array.isArray(vendorPrefixes)) {
    fail(`${path}.vendorPrefixes`, `expected an array of strings, got ${describe(vendorPrefixes)}`);
  }
  vendorPrefixes.forEach((p, j) => {
    if (typeof p !== 'string') fail(`${path}.vendorPrefixes[${j}]`, `expected a string, got ${describe(p)}`);
  });
  return {
    name,
    priority,
    vendorPrefixes: vendorPrefixes as string[],
    connection: parseConnection(connection, `${path}.connection`, opts),
  };
}

function parseConnection(
  c: unknown,
  path: string,
  opts: ParseResolverConfigOptions,
): HttpConnection | EmbeddedConnection {
  if (!isObject(c)) fail(path, `expected an object, got ${describe(c)}`);
  const hasHttp = c.http !== undefined;
  const hasEmbedded = c.embedded !== undefined;
  if (hasHttp === hasEmbedded) fail(path, 'expected exactly one of http, embedded');
  if (hasHttp) {
    const http = c.http;
    if (!isObject(http)) fail(`${path}.http`, `expected an object, got ${describe(http)}`);
    const uri = http.uri;
    if (typeof uri !== 'string') fail(`${path}.http.uri`, `expected a string, got ${describe(uri)}`);
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      fail(`${path}.http.uri`, `not a valid URI: ${JSON.stringify(uri)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      fail(`${path}.http.uri`, `expected an http or https URI, got ${JSON.stringify(uri)}`);
    }
    const apikey = http.apikey ?? null;
    if (apikey !== null && typeof apikey !== 'string') {
      fail(`${path}.http.apikey`, `expected a string or null, got ${describe(apikey)}`);
    }
    return { http: { uri, apikey } };
  }
  const embedded = c.embedded;
  if (!isObject(embedded)) fail(`${path}.embedded`, `expected an object, got ${describe(embedded)}`);
  const p = embedded.path;
  if (typeof p !== 'string' || p === '') {
    fail(`${path}.embedded.path`, `expected a non-empty string, got ${describe(p)}`);
  }
  return { embedded: { path: isAbsolute(p) ? p : resolve(opts.baseDir ?? process.cwd(), p) } };
}

export interface DefaultResolverConfigOptions {
  /**
   * a local directory registry: a `schemas/` folder holding `<vendor>/<name>/<format>/<version>`,
   * or a registry root that contains such a folder (see `createDirectoryRegistry`)
   */
  schemasDir?: string;
  cacheSize?: number;
  cacheTtl?: number | null;
}

/** Iglu Central over HTTP, plus a local directory registry when `schemasDir` is given. */
export function defaultResolverConfig(opts: DefaultResolverConfigOptions = {}): ResolverConfig {
  const repositories: RepositoryConfig[] = [
    {
      name: 'Iglu Central',
      priority: 0,
      vendorPrefixes: ['com.snowplowanalytics'],
      connection: { http: { uri: IGLU_CENTRAL_URI, apikey: null } },
    },
  ];
  if (opts.schemasDir !== undefined) {
    repositories.push({
      name: 'Local schemas',
      priority: 0,
      vendorPrefixes: [],
      connection: { embedded: { path: resolve(opts.schemasDir) } },
    });
  }
  return { cacheSize: opts.cacheSize ?? 500, cacheTtl: opts.cacheTtl ?? 600, repositories };
}
