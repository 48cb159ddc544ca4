/**
 * What the SQL query and API request enrichments share (spec §4.16–§4.17): reading their `inputs`
 * (an atomic field by name, or a JSONPath into the first entity matching a schema criterion) and a
 * small LRU cache whose entries expire.
 */
import { JSONPath } from 'jsonpath-plus';
import { parseSchemaKey, schemaCriterion } from '../../iglu/schema-key.js';
import { F, FIELDS, type FieldType } from '../../protocol/enriched-fields.js';
import { type EnrichedEvent, type SelfDescribingJson, wrapContexts, wrapUnstruct } from '../event.js';
import { EnrichmentConfigError } from './types.js';

export type JsonInputField = 'unstruct_event' | 'contexts' | 'derived_contexts';

/** An input source resolved once from the configuration. */
export type InputSource =
  | { kind: 'pojo'; field: string; index: number; type: FieldType }
  | {
      kind: 'json';
      field: JsonInputField;
      criterion: string;
      matches: (schema: string) => boolean;
      jsonPath: string;
    };

const FIELD_INDEX: ReadonlyMap<string, number> = new Map(FIELDS.map((f, i) => [f.name, i]));
const JSON_FIELDS: readonly string[] = ['unstruct_event', 'contexts', 'derived_contexts'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses the `pojo`/`json` part of one input; `where` is the key path used in error messages
 * (`parameters.inputs[0]`). Unknown atomic fields fail here, at start, instead of on every event.
 */
export function parseInputSource(input: Record<string, unknown>, where: string): InputSource {
  const { pojo, json } = input;
  if (pojo !== undefined && json !== undefined) {
    throw new EnrichmentConfigError(`${where}: either json or pojo input must be specified, both provided`);
  }
  if (isObject(pojo)) {
    const field = pojo.field;
    if (typeof field !== 'string') throw new EnrichmentConfigError(`${where}.pojo.field: expected a string`);
    const index = FIELD_INDEX.get(field);
    if (index === undefined) {
      throw new EnrichmentConfigError(`${where}.pojo.field: "${field}" is not an atomic event field`);
    }
    return { kind: 'pojo', field, index, type: FIELDS[index].type };
  }
  if (isObject(json)) {
    const { field, schemaCriterion: criterion, jsonPath } = json;
    if (typeof field !== 'string' || !JSON_FIELDS.includes(field)) {
      throw new EnrichmentConfigError(
        `${where}.json.field: expected one of unstruct_event, contexts, derived_contexts`,
      );
    }
    if (typeof criterion !== 'string') {
      throw new EnrichmentConfigError(`${where}.json.schemaCriterion: expected an Iglu schema criterion`);
    }
    let c: ReturnType<typeof schemaCriterion>;
    try {
      c = schemaCriterion(criterion);
    } catch {
      throw new EnrichmentConfigError(
        `${where}.json.schemaCriterion: "${criterion}" is not an Iglu schema criterion (iglu:vendor/name/format/1-*-*)`,
      );
    }
    if (typeof jsonPath !== 'string' || !jsonPath.startsWith('$')) {
      throw new EnrichmentConfigError(`${where}.json.jsonPath: expected a JSONPath starting with $`);
    }
    checkJsonPath(jsonPath, `${where}.json.jsonPath`);
    return {
      kind: 'json',
      field: field as JsonInputField,
      criterion,
      matches: (schema: string) => {
        const k = parseSchemaKey(schema);
        return k.ok && c.matches(k.value);
      },
      jsonPath,
    };
  }
  throw new EnrichmentConfigError(`${where}: either json or pojo input must be specified`);
}

/** Fails start on a JSONPath the library cannot parse, rather than on every event. */
export function checkJsonPath(path: string, where: string): void {
  try {
    JSONPath({ path, json: { probe: [] }, wrap: true, eval: 'safe' });
  } catch (e) {
    throw new EnrichmentConfigError(`${where}: invalid JSONPath "${path}" (${(e as Error).message})`);
  }
}

/** Every match of `path` in `json` (an empty array when there is none). */
export function queryJsonPath(path: string, json: unknown): unknown[] {
  if (json === null || typeof json !== 'object') return [];
  const r = JSONPath({ path, json: json as object, wrap: true, eval: 'safe' }) as unknown;
  return Array.isArray(r) ? r : [];
}

/** Snowplow's `wrapArray`: one match is the value itself, several are an array (none: an empty array). */
export function wrapMatches(matches: unknown[]): unknown {
  return matches.length === 1 ? matches[0] : matches;
}

/** The atomic field as Snowplow's event object holds it, as text (`null` when unset). */
export function pojoText(ev: EnrichedEvent, index: number): string | null {
  if (index === F.contexts) return wrapContexts(ev.contexts);
  if (index === F.unstruct_event) return ev.unstruct === null ? null : wrapUnstruct(ev.unstruct);
  if (index === F.derived_contexts) return wrapContexts(ev.derived);
  return ev.fields[index];
}

/** The entity a `json` input reads: the first one whose schema matches, as Snowplow picks it. */
export function entityData(ev: EnrichedEvent, source: InputSource & { kind: 'json' }): unknown {
  let list: readonly SelfDescribingJson[];
  if (source.field === 'contexts') list = ev.contexts;
  else if (source.field === 'derived_contexts') list = ev.derived;
  else list = ev.unstruct === null ? [] : [ev.unstruct];
  for (const e of list) if (source.matches(e.schema)) return e.data;
  return undefined;
}

interface CacheEntry<V> {
  value: V;
  expires: number;
}

/**
 * A bounded map that forgets its least recently used entry first and treats expired entries as
 * absent. `Map` keeps insertion order, so re-inserting on a hit is enough to track recency.
 */
export class TtlLruCache<V> {
  private readonly entries = new Map<string, CacheEntry<V>>();

  constructor(private readonly capacity: number) {}

  get(key: string, now: number): V | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    this.entries.delete(key);
    if (e.expires <= now) return undefined;
    this.entries.set(key, e);
    return e.value;
  }

  set(key: string, value: V, expires: number): void {
    if (this.capacity <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expires });
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Either a value or a failure, as cached (failures are cached for a tenth of the ttl, as Snowplow does). */
export type Outcome<V> = { ok: true; value: V } | { ok: false; errors: string[] };

/**
 * Looks `key` up in the cache, or computes it once even when several events ask at the same time,
 * caching successes for `ttlMs` and failures for `ttlMs / 10`.
 */
export class CachingEvaluator<V> {
  private readonly cache: TtlLruCache<Outcome<V>>;
  private readonly inFlight = new Map<string, Promise<Outcome<V>>>();

  constructor(
    size: number,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.cache = new TtlLruCache(size);
  }

  evaluate(key: string, compute: () => Promise<Outcome<V>>): Promise<Outcome<V>> | Outcome<V> {
    const cached = this.cache.get(key, this.now());
    if (cached !== undefined) return cached;
    const pending = this.inFlight.get(key);
    if (pending !== undefined) return pending;
    const p = compute()
      .catch((e: unknown): Outcome<V> => ({ ok: false, errors: [String(e)] }))
      .then((outcome) => {
        this.inFlight.delete(key);
        const ttl = outcome.ok ? this.ttlMs : Math.floor(this.ttlMs / 10);
        this.cache.set(key, outcome, this.now() + ttl);
        return outcome;
      });
    this.inFlight.set(key, p);
    return p;
  }
}

/** `cache: {size, ttl}` (ttl in seconds, at most 86400), validated. */
export function parseCache(cache: unknown): { size: number; ttlMs: number } {
  if (!isObject(cache)) throw new EnrichmentConfigError('parameters.cache: expected an object {size, ttl}');
  const { size, ttl } = cache;
  if (!Number.isInteger(size) || (size as number) < 0) {
    throw new EnrichmentConfigError('parameters.cache.size: expected an integer ≥ 0');
  }
  if (!Number.isInteger(ttl) || (ttl as number) < 0 || (ttl as number) > 86400) {
    throw new EnrichmentConfigError('parameters.cache.ttl: expected an integer number of seconds, 0–86400');
  }
  return { size: size as number, ttlMs: (ttl as number) * 1000 };
}

/** `ignoreOnError`: optional boolean (null counts as absent, as the schema allows). */
export function parseIgnoreOnError(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new EnrichmentConfigError('parameters.ignoreOnError: expected a boolean');
  return v;
}

/** `outputs[].schema` / `output.json.schema`: a full Iglu URI with a concrete version. */
export function parseOutputSchema(v: unknown, where: string): string {
  if (typeof v !== 'string' || !parseSchemaKey(v).ok) {
    throw new EnrichmentConfigError(
      `${where}: expected an Iglu URI such as iglu:com.acme/user/jsonschema/1-0-0`,
    );
  }
  return v;
}
