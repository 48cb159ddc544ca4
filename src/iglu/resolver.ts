/**
 * The Iglu resolver: finds schemas in the configured registries, caches them (and failures), and
 * validates data against them with compiled validators that are reused.
 *
 * Lookup order for a key (spec §4.3): registries whose vendor prefix matches first, then by class
 * (in-memory < embedded < HTTP), then by the configured `priority` (ascending); the first that has
 * the schema wins.
 *
 * Failure classes — the distinction callers rely on:
 *   - the schema does not exist (at least one registry answered NotFound, or gave a definite error):
 *     `{ok: false, error: {error: 'ResolutionError', lookupHistory}}`, a bad row; cached like a hit;
 *   - every registry was unreachable (network error, timeout, 5xx after retries): `check` and
 *     `lookupSchema` reject with `IgluSystemError`. Nothing is known about the data, so turning it into
 *     a bad row would lose good events; the caller must retry or stop (Enrich crashes here too). Not
 *     cached, so the next call asks again.
 *
 * @example
 * const resolver = createResolver(JSON.parse(readFileSync('resolver.json', 'utf8')));
 * const r = resolver.check('iglu:com.acme/x/jsonschema/1-0-0', data);
 * const result = r instanceof Promise ? await r : r; // sync once the schema is cached
 */
import { Lru } from './lru.js';
import { createDirectoryRegistry } from './registries/directory.js';
import { createHttpRegistry } from './registries/http.js';
import type { Registry, RegistryLookupResult } from './registries/registry.js';
import type { ParseResolverConfigOptions, ResolverConfig } from './resolver-config.js';
import { parseResolverConfig } from './resolver-config.js';
import type { SchemaKey } from './schema-key.js';
import { compareSchemaVer, formatSchemaKey, parseSchemaKey, parseSchemaVer } from './schema-key.js';
import type { CheckResult, IgluClientError, LookupHistory, Resolver } from './types.js';
import { IgluSystemError } from './types.js';
import type { ValidateData } from './validator.js';
import { createSchemaValidator } from './validator.js';

export interface CreateResolverOptions extends ParseResolverConfigOptions {
  /** clock in ms (cache expiry, `lastAttempt`); default `Date.now` */
  now?: () => number;
  /** HTTP registry tuning (tests shorten the retry delay) */
  http?: { timeoutMs?: number; maxAttempts?: number; retryDelayMs?: number };
  /** registries added to those from the config (e.g. an in-memory one) */
  extraRegistries?: Registry[];
}

export type LookupSchemaResult =
  | { ok: true; schema: Record<string, unknown> }
  | { ok: false; error: IgluClientError };

export interface IgluResolver extends Resolver {
  readonly config: ResolverConfig;
  /** registries in their base order (class, then priority); vendor prefixes reorder per key */
  readonly registries: readonly Registry[];
  lookupSchema(schemaUri: string): Promise<LookupSchemaResult>;
  /** forget every cached schema, failure and validator */
  clearCache(): void;
}

type Failure = { ok: false; error: IgluClientError };

interface FoundEntry {
  kind: 'found';
  storedAt: number;
  key: SchemaKey;
  schema: Record<string, unknown>;
  /** serialised schema, to keep the compiled validator when a refresh returns the same document */
  text: string;
  compiled?: { validate: ValidateData } | Failure;
  /** from `$supersededBy`: the version to validate with instead, or why it cannot be used */
  supersededBy?: { version: string; uri: string; key: SchemaKey; ok: CheckResult } | Failure;
}

interface MissingEntry {
  kind: 'missing';
  storedAt: number;
  result: Failure;
}

type Entry = FoundEntry | MissingEntry;

const OK: CheckResult = Object.freeze({ ok: true as const });
// A superseding schema could itself be superseded; the chain is strictly increasing so it ends, but
// a registry can still serve nonsense, hence a bound.
const MAX_SUPERSEDING_HOPS = 5;

export function createResolver(config: unknown, opts: CreateResolverOptions = {}): IgluResolver {
  const cfg = parseResolverConfig(config, opts);
  const now = opts.now ?? Date.now;
  const ttlMs = cfg.cacheTtl === null ? null : cfg.cacheTtl * 1000;
  const validator = createSchemaValidator();

  const registries: Registry[] = cfg.repositories.map((r): Registry => {
    const base = { name: r.name, priority: r.priority, vendorPrefixes: r.vendorPrefixes };
    return 'http' in r.connection
      ? createHttpRegistry({
          ...base,
          ...opts.http,
          uri: r.connection.http.uri,
          apikey: r.connection.http.apikey,
        })
      : createDirectoryRegistry({ ...base, path: r.connection.embedded.path });
  });
  registries.push(...(opts.extraRegistries ?? []));
  // Stable sort: equal class and priority keep config order.
  registries.sort((a, b) => a.classPriority - b.classPriority || a.priority - b.priority);

  const cache = new Lru<string, Entry>(cfg.cacheSize, (_uri, entry) => {
    if (entry.kind === 'found' && entry.compiled !== undefined && 'validate' in entry.compiled) {
      validator.release(entry.schema);
    }
  });
  const inflight = new Map<string, Promise<Entry>>();

  function fresh(uri: string): Entry | undefined {
    const e = cache.get(uri);
    if (e === undefined) return undefined;
    if (ttlMs !== null && now() - e.storedAt >= ttlMs) return undefined;
    return e;
  }

  function orderFor(key: SchemaKey): Registry[] {
    const first: Registry[] = [];
    const rest: Registry[] = [];
    for (const r of registries) {
      (r.vendorPrefixes.some((p) => key.vendor.startsWith(p)) ? first : rest).push(r);
    }
    return first.concat(rest);
  }

  async function askRegistry(r: Registry, key: SchemaKey): Promise<RegistryLookupResult> {
    try {
      return await r.lookup(key);
    } catch (e) {
      // A registry bug must not take the resolver down; it is recorded like any other failure.
      return {
        error: { error: 'ClientFailure', message: (e as Error).message },
        transient: false,
        attempts: 1,
      };
    }
  }

  async function lookup(uri: string, key: SchemaKey): Promise<Entry> {
    const history: LookupHistory[] = [];
    let unreachableOnly = true;
    for (const r of orderFor(key)) {
      const res = await askRegistry(r, key);
      if ('found' in res) {
        const entry = makeFound(key, res.found);
        cache.set(uri, entry);
        return entry;
      }
      const lastAttempt = new Date(now()).toISOString();
      if ('notFound' in res) {
        unreachableOnly = false;
        history.push({ repository: r.name, errors: [{ error: 'NotFound' }], attempts: 1, lastAttempt });
      } else {
        if (!res.transient) unreachableOnly = false;
        history.push({ repository: r.name, errors: [res.error], attempts: res.attempts, lastAttempt });
      }
    }
    if (unreachableOnly && history.length > 0) {
      const detail = history.map((h) => `${h.repository}: ${h.errors.map((e) => e.message).join('; ')}`);
      throw new IgluSystemError(`cannot resolve ${uri}: no Iglu registry reachable (${detail.join(' | ')})`);
    }
    const entry: MissingEntry = {
      kind: 'missing',
      storedAt: now(),
      result: Object.freeze({
        ok: false as const,
        error: { error: 'ResolutionError' as const, lookupHistory: history },
      }),
    };
    cache.set(uri, entry);
    return entry;
  }

  function makeFound(key: SchemaKey, schema: Record<string, unknown>): FoundEntry {
    const uri = formatSchemaKey(key);
    const text = JSON.stringify(schema);
    const entry: FoundEntry = { kind: 'found', storedAt: now(), key, schema, text };
    const previous = cache.peek(uri);
    if (previous?.kind === 'found' && previous.text === text && previous.compiled !== undefined) {
      entry.compiled = previous.compiled;
      // The old entry is being replaced; keep Ajv's copy for the one that now owns the validator.
      previous.compiled = undefined;
    }
    const by = schema.$supersededBy;
    if (by !== undefined) entry.supersededBy = supersedingTarget(key, uri, by);
    return entry;
  }

  function supersedingTarget(key: SchemaKey, uri: string, by: unknown): FoundEntry['supersededBy'] {
    const v = typeof by === 'string' ? parseSchemaVer(by) : null;
    if (v === null || !v.ok || compareSchemaVer(v.value, key.version) <= 0) {
      return invalidSchema(
        uri,
        `$supersededBy must be a SchemaVer greater than the schema's own, got ${JSON.stringify(by)}`,
      );
    }
    const target: SchemaKey = { ...key, version: v.value };
    return {
      version: by as string,
      uri: formatSchemaKey(target),
      key: target,
      ok: Object.freeze({ ok: true as const, supersededBy: by as string }),
    };
  }

  function invalidSchema(uri: string, message: string): Failure {
    return Object.freeze({
      ok: false as const,
      error: { error: 'InvalidSchema' as const, invalidSchema: uri, message },
    });
  }

  function compiled(entry: FoundEntry): { validate: ValidateData } | Failure {
    if (entry.compiled === undefined) {
      const c = validator.compile(entry.schema);
      entry.compiled = c.ok ? { validate: c.validate } : invalidSchema(formatSchemaKey(entry.key), c.message);
    }
    return entry.compiled;
  }

  function validateWith(entry: FoundEntry, data: unknown, ok: CheckResult): CheckResult {
    const c = compiled(entry);
    if (!('validate' in c)) return c;
    const reports = c.validate(data);
    return reports === null ? ok : { ok: false, error: { error: 'ValidationError', dataReports: reports } };
  }

  /** The synchronous path: answers only from fresh cache entries, `undefined` when a lookup is due. */
  function checkCached(entry: Entry, data: unknown): CheckResult | undefined {
    if (entry.kind === 'missing') return entry.result;
    let target: FoundEntry = entry;
    let ok = OK;
    for (let hop = 0; target.supersededBy !== undefined; hop++) {
      const by = target.supersededBy;
      if (!('version' in by)) return by;
      if (hop === MAX_SUPERSEDING_HOPS) return invalidSchema(by.uri, 'too many $supersededBy hops');
      const next = fresh(by.uri);
      if (next === undefined) return undefined;
      if (next.kind === 'missing') return next.result;
      target = next;
      ok = by.ok;
    }
    return validateWith(target, data, ok);
  }

  function resolveEntry(uri: string, key: SchemaKey): Promise<Entry> {
    const cached = fresh(uri);
    if (cached !== undefined) return Promise.resolve(cached);
    let p = inflight.get(uri);
    if (p === undefined) {
      p = lookup(uri, key).finally(() => inflight.delete(uri));
      inflight.set(uri, p);
    }
    return p;
  }

  async function checkAsync(uri: string, data: unknown): Promise<CheckResult> {
    let entry = await resolveEntry(uri, parseOrThrow(uri));
    let ok = OK;
    for (let hop = 0; ; hop++) {
      if (entry.kind === 'missing') return entry.result;
      const by = entry.supersededBy;
      if (by === undefined) return validateWith(entry, data, ok);
      if (!('version' in by)) return by;
      if (hop === MAX_SUPERSEDING_HOPS) return invalidSchema(by.uri, 'too many $supersededBy hops');
      entry = await resolveEntry(by.uri, by.key);
      ok = by.ok;
    }
  }

  return {
    config: cfg,
    registries,
    check(schemaUri: string, data: unknown): CheckResult | Promise<CheckResult> {
      const entry = fresh(schemaUri);
      if (entry !== undefined) {
        const r = checkCached(entry, data);
        if (r !== undefined) return r;
      }
      return checkAsync(schemaUri, data);
    },
    async lookupSchema(schemaUri: string): Promise<LookupSchemaResult> {
      const entry = await resolveEntry(schemaUri, parseOrThrow(schemaUri));
      return entry.kind === 'found' ? { ok: true, schema: entry.schema } : entry.result;
    },
    clearCache() {
      cache.clear();
    },
  };
}

/**
 * `check` and `lookupSchema` take URIs that callers have already parsed (via `parseSelfDescribing`,
 * which reports bad ones as `NotIglu`), so a malformed one here is a programming error.
 */
function parseOrThrow(uri: string): SchemaKey {
  const key = parseSchemaKey(uri);
  if (!key.ok) throw new TypeError(`not an Iglu schema URI (${key.error}): ${JSON.stringify(uri)}`);
  return key.value;
}
