/**
 * Iglu identifiers: SchemaVer (`MODEL-REVISION-ADDITION`), SchemaKey (`iglu:vendor/name/format/M-R-A`),
 * SchemaCriterion (`iglu:vendor/name/format/1-0-*`) and self-describing data.
 *
 * Parsers return results instead of throwing: malformed keys arrive from clients all the time and
 * must end up in bad rows (`NotIglu`) with Snowplow's error codes, never as exceptions.
 */
import { Lru } from './lru.js';

export interface SchemaVer {
  readonly model: number;
  readonly revision: number;
  readonly addition: number;
}

export interface SchemaKey {
  readonly vendor: string;
  readonly name: string;
  readonly format: string;
  readonly version: SchemaVer;
}

/** A key pattern: `undefined` components match any value (`*`). */
export interface SchemaCriterion {
  readonly vendor: string;
  readonly name: string;
  readonly format: string;
  readonly model?: number;
  readonly revision?: number;
  readonly addition?: number;
}

/** Snowplow's `ParseError` codes (iglu-scala-core), spelled as they appear in `NotIglu` bad rows. */
export type IgluParseError =
  | 'INVALID_IGLUURI'
  | 'INVALID_SCHEMAVER'
  | 'INVALID_DATA_PAYLOAD'
  | 'INVALID_SCHEMA';

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: IgluParseError };

// The URI regex accepts any digit groups so that "iglu:a/b/jsonschema/01-0-0" is reported as a bad
// SchemaVer (INVALID_SCHEMAVER) rather than a bad URI, as the reference parser does.
const URI_RE = /^iglu:([a-zA-Z0-9\-_.]+)\/([a-zA-Z0-9\-_]+)\/([a-zA-Z0-9\-_]+)\/([0-9]*-[0-9]*-[0-9]*)$/;
const PATH_RE = /^([a-zA-Z0-9\-_.]+)\/([a-zA-Z0-9\-_]+)\/([a-zA-Z0-9\-_]+)\/([0-9]*-[0-9]*-[0-9]*)$/;
const SCHEMAVER_RE = /^([1-9][0-9]*)-(0|[1-9][0-9]*)-(0|[1-9][0-9]*)$/;
const CRITERION_RE =
  /^iglu:([a-zA-Z0-9\-_.]+)\/([a-zA-Z0-9\-_]+)\/([a-zA-Z0-9\-_]+)\/([1-9][0-9]*|\*)-(0|[1-9][0-9]*|\*)-(0|[1-9][0-9]*|\*)$/;

// The reference implementation stores components in a JVM Int; bigger numbers are not valid SchemaVers.
const MAX_COMPONENT = 2147483647;

export function parseSchemaVer(text: string): ParseResult<SchemaVer> {
  const m = SCHEMAVER_RE.exec(text);
  if (m === null) return { ok: false, error: 'INVALID_SCHEMAVER' };
  const model = Number(m[1]);
  const revision = Number(m[2]);
  const addition = Number(m[3]);
  if (model > MAX_COMPONENT || revision > MAX_COMPONENT || addition > MAX_COMPONENT) {
    return { ok: false, error: 'INVALID_SCHEMAVER' };
  }
  return { ok: true, value: { model, revision, addition } };
}

export function formatSchemaVer(v: SchemaVer): string {
  return `${v.model}-${v.revision}-${v.addition}`;
}

/** Numeric order per component (so 1-0-10 > 1-0-9); negative, zero or positive like `Array.sort`. */
export function compareSchemaVer(a: SchemaVer, b: SchemaVer): number {
  return a.model - b.model || a.revision - b.revision || a.addition - b.addition;
}

function keyFromMatch(m: RegExpExecArray): ParseResult<SchemaKey> {
  const version = parseSchemaVer(m[4]);
  if (!version.ok) return version;
  return { ok: true, value: { vendor: m[1], name: m[2], format: m[3], version: version.value } };
}

// Every entity of every event names its schema, and a pipeline sees few distinct ones: parsed keys are
// kept (frozen, as callers share them) so the regexes run once per URI, in an LRU bounded against
// clients that send endless distinct URIs.
const PARSED_KEYS = new Lru<string, ParseResult<SchemaKey>>(1024);

/** Parses `iglu:vendor/name/format/M-R-A`. */
export function parseSchemaKey(uri: string): ParseResult<SchemaKey> {
  if (typeof uri !== 'string') return { ok: false, error: 'INVALID_IGLUURI' };
  let r = PARSED_KEYS.get(uri);
  if (r !== undefined) return r;
  const m = URI_RE.exec(uri);
  r = m === null ? { ok: false, error: 'INVALID_IGLUURI' } : keyFromMatch(m);
  if (r.ok) Object.freeze(r.value.version);
  Object.freeze(r.ok ? r.value : r);
  Object.freeze(r);
  PARSED_KEYS.set(uri, r);
  return r;
}

/** Parses the registry path form `vendor/name/format/M-R-A`. */
export function parseSchemaPath(path: string): ParseResult<SchemaKey> {
  const m = PATH_RE.exec(path);
  if (m === null) return { ok: false, error: 'INVALID_IGLUURI' };
  return keyFromMatch(m);
}

export function formatSchemaKey(key: SchemaKey): string {
  return `iglu:${key.vendor}/${key.name}/${key.format}/${formatSchemaVer(key.version)}`;
}

/** `vendor/name/format/M-R-A`, the path of the schema below a registry's `schemas/`. */
export function schemaKeyPath(key: SchemaKey): string {
  return `${key.vendor}/${key.name}/${key.format}/${formatSchemaVer(key.version)}`;
}

export function schemaKeyEquals(a: SchemaKey, b: SchemaKey): boolean {
  return (
    a.vendor === b.vendor &&
    a.name === b.name &&
    a.format === b.format &&
    compareSchemaVer(a.version, b.version) === 0
  );
}

/** Parses `iglu:vendor/name/format/M-R-A` where any of M, R, A may be `*`. */
export function parseSchemaCriterion(text: string): ParseResult<SchemaCriterion> {
  const m = typeof text === 'string' ? CRITERION_RE.exec(text) : null;
  if (m === null) return { ok: false, error: 'INVALID_IGLUURI' };
  const num = (s: string): number | undefined => (s === '*' ? undefined : Number(s));
  const model = num(m[4]);
  const revision = num(m[5]);
  const addition = num(m[6]);
  for (const n of [model, revision, addition]) {
    if (n !== undefined && n > MAX_COMPONENT) return { ok: false, error: 'INVALID_SCHEMAVER' };
  }
  return { ok: true, value: { vendor: m[1], name: m[2], format: m[3], model, revision, addition } };
}

export function formatSchemaCriterion(c: SchemaCriterion): string {
  const part = (n: number | undefined): string => (n === undefined ? '*' : String(n));
  return `iglu:${c.vendor}/${c.name}/${c.format}/${part(c.model)}-${part(c.revision)}-${part(c.addition)}`;
}

export function criterionMatches(c: SchemaCriterion, key: SchemaKey): boolean {
  return (
    c.vendor === key.vendor &&
    c.name === key.name &&
    c.format === key.format &&
    (c.model === undefined || c.model === key.version.model) &&
    (c.revision === undefined || c.revision === key.version.revision) &&
    (c.addition === undefined || c.addition === key.version.addition)
  );
}

/**
 * Builds a criterion once (for the hot path) from its text. Throws on a malformed literal because
 * criteria are written in code and config, not sent by clients.
 */
export function schemaCriterion(text: string): SchemaCriterion & { matches(key: SchemaKey): boolean } {
  const parsed = parseSchemaCriterion(text);
  if (!parsed.ok) throw new TypeError(`invalid schema criterion ${JSON.stringify(text)}: ${parsed.error}`);
  const c = parsed.value;
  return { ...c, matches: (key: SchemaKey) => criterionMatches(c, key) };
}

export type SelfDescribingResult =
  | { ok: true; schema: SchemaKey; data: unknown }
  | { ok: false; error: 'INVALID_IGLUURI' | 'INVALID_SCHEMAVER' | 'INVALID_DATA_PAYLOAD' | 'INVALID_SCHEMA' };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Self-describing data is an object with exactly `schema` (an Iglu URI string) and `data` (any JSON,
 * including null). Anything else is `INVALID_DATA_PAYLOAD`; a bad URI reports the URI error.
 */
export function parseSelfDescribing(json: unknown): SelfDescribingResult {
  if (!isPlainObject(json)) return { ok: false, error: 'INVALID_DATA_PAYLOAD' };
  let keys = 0;
  for (const k in json) {
    if (!Object.hasOwn(json, k)) continue;
    if (k !== 'schema' && k !== 'data') return { ok: false, error: 'INVALID_DATA_PAYLOAD' };
    keys++;
  }
  if (keys !== 2) return { ok: false, error: 'INVALID_DATA_PAYLOAD' };
  const uri = json.schema;
  if (typeof uri !== 'string') return { ok: false, error: 'INVALID_DATA_PAYLOAD' };
  const key = parseSchemaKey(uri);
  if (!key.ok) return key;
  return { ok: true, schema: key.value, data: json.data };
}

/**
 * Reads the `self` block of a schema document. A schema without a well-formed `self` is
 * `INVALID_SCHEMA` (the self-describing meta-schema requires all four keys).
 */
export function parseSchemaSelf(schema: unknown): ParseResult<SchemaKey> {
  if (!isPlainObject(schema)) return { ok: false, error: 'INVALID_SCHEMA' };
  const self = schema.self;
  if (!isPlainObject(self)) return { ok: false, error: 'INVALID_SCHEMA' };
  const { vendor, name, format, version } = self;
  if (
    typeof vendor !== 'string' ||
    typeof name !== 'string' ||
    typeof format !== 'string' ||
    typeof version !== 'string'
  ) {
    return { ok: false, error: 'INVALID_SCHEMA' };
  }
  return parseSchemaKey(`iglu:${vendor}/${name}/${format}/${version}`);
}
