/**
 * Enriched TSV line → the JSON views Snowplow's analytics SDK (and therefore Snowplow Micro) produce:
 *
 * - the canonical (non-lossy) event: every one of the 131 fields, in TSV order, `null` when empty, typed values,
 *   `contexts`/`derived_contexts` as `{}` or a `contexts/1-0-0` wrapper, `unstruct_event` as `null` or an
 *   `unstruct_event/1-0-0` wrapper. This is `event` inside Micro's `/micro/good` elements.
 * - the lossy ("shredded") event of `/micro/events` and `--output-json`: the atomic fields plus one
 *   `contexts_<vendor>_<name>_<model>` array per entity schema, `unstruct_event_<vendor>_<name>_<model>` and
 *   `geo_location`.
 *
 * Pure functions, no I/O. Values our own enrich cannot produce (a non-numeric int column, say) are kept as
 * their text rather than thrown on: these views are for humans and test suites, and losing a whole event over
 * one odd column would hide it from them.
 *
 * @example
 * const ev = toCanonicalEventJson(line);
 * ev.collector_tstamp; // '2013-11-26T00:02:05Z'
 * ev.contexts;         // {} or {schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0', data: [...]}
 */
import { F, FIELD_COUNT, FIELDS, type FieldType } from './enriched-fields.js';

export const CONTEXTS_WRAPPER_SCHEMA = 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0';
export const UNSTRUCT_EVENT_WRAPPER_SCHEMA =
  'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0';

/** Same text as the JS analytics SDK, so callers that surface it read familiarly. */
export const WRONG_FIELD_COUNT = 'Wrong event fields number.';

/**
 * JSON key of each TSV field. Every analytics SDK (Scala, JS, Python, Go), and so Micro, names TSV field 122
 * `refr_device_tstamp`, not `refr_dvce_tstamp` as the TSV/warehouse column is called; suites reading Micro
 * output see the SDK name.
 */
export const EVENT_JSON_KEYS: readonly string[] = FIELDS.map((f) =>
  f.name === 'refr_dvce_tstamp' ? 'refr_device_tstamp' : f.name,
);

export class EnrichedLineError extends Error {
  override name = 'EnrichedLineError';
}

export interface SelfDescribingJson {
  schema: string;
  data: unknown;
}

/** Splits an enriched line into its 131 raw field texts (empty string = absent). */
export function splitEnrichedLine(line: string): string[] {
  // A trailing newline is how lines arrive from files and stdout; it is never part of the last field.
  const end = line.endsWith('\r\n') ? line.length - 2 : line.endsWith('\n') ? line.length - 1 : line.length;
  const fields = (end === line.length ? line : line.slice(0, end)).split('\t');
  if (fields.length !== FIELD_COUNT) throw new EnrichedLineError(WRONG_FIELD_COUNT);
  return fields;
}

const TSV_TSTAMP_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z?$/;

/**
 * TSV timestamp (`2021-08-29 12:01:05.780`) → Java `Instant.toString` (`2021-08-29T12:01:05.780Z`): the
 * fraction is printed in groups of three digits, only as many groups as needed, and not at all when zero
 * (`…:05Z`). Text that is not a timestamp is returned unchanged.
 */
export function tsvTimestampToIso(text: string): string {
  const m = TSV_TSTAMP_RE.exec(text);
  if (m === null) return text;
  const base = `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}`;
  const frac = m[7] === undefined ? '' : m[7].padEnd(9, '0');
  if (frac === '' || frac === '000000000') return base + 'Z';
  if (frac.endsWith('000000')) return `${base}.${frac.slice(0, 3)}Z`;
  if (frac.endsWith('000')) return `${base}.${frac.slice(0, 6)}Z`;
  return `${base}.${frac}Z`;
}

/** TSV timestamp → ms since epoch (UTC), or null when the text is not one. */
export function tsvTimestampToMs(text: string): number | null {
  const m = TSV_TSTAMP_RE.exec(text);
  if (m === null) return null;
  const ms = m[7] === undefined ? 0 : Number(m[7].padEnd(3, '0').slice(0, 3));
  const d = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0..99 to 1900..1999.
  d.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  d.setUTCHours(Number(m[4]), Number(m[5]), Number(m[6]), ms);
  const t = d.getTime();
  return Number.isNaN(t) ? null : t;
}

const JAVA_INT_RE = /^[-+]?\d+$/;

function convertScalar(type: FieldType, text: string): unknown {
  switch (type) {
    case 'tstamp':
      return tsvTimestampToIso(text);
    case 'int': {
      if (!JAVA_INT_RE.test(text)) return text;
      const n = Number(text);
      return Number.isSafeInteger(n) ? n : text;
    }
    case 'decimal':
    case 'float': {
      const n = Number(text);
      return text.trim() === '' || !Number.isFinite(n) ? text : n;
    }
    case 'bool':
      return text === '1' ? true : text === '0' ? false : text;
    default:
      return text;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function asSelfDescribing(v: unknown): SelfDescribingJson | null {
  if (!isPlainObject(v) || typeof v.schema !== 'string') return null;
  return { schema: v.schema, data: v.data };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The entities of a `contexts`/`derived_contexts` column, as `{schema, data}` in column order. An empty or
 * unreadable column has none.
 */
export function parseContextsColumn(text: string): SelfDescribingJson[] {
  if (text === '') return [];
  const wrapper = parseJson(text);
  if (!isPlainObject(wrapper) || !Array.isArray(wrapper.data)) return [];
  const out: SelfDescribingJson[] = [];
  for (const el of wrapper.data) {
    const sd = asSelfDescribing(el);
    if (sd !== null) out.push(sd);
  }
  return out;
}

/** The self-describing event inside an `unstruct_event` column, or null. */
export function parseUnstructColumn(text: string): SelfDescribingJson | null {
  if (text === '') return null;
  const wrapper = parseJson(text);
  if (!isPlainObject(wrapper)) return null;
  return asSelfDescribing(wrapper.data);
}

function canonicalContexts(text: string): Record<string, unknown> {
  const entities = parseContextsColumn(text);
  if (entities.length === 0) return {};
  return { schema: CONTEXTS_WRAPPER_SCHEMA, data: entities };
}

function canonicalUnstruct(text: string): Record<string, unknown> | null {
  const sd = parseUnstructColumn(text);
  return sd === null ? null : { schema: UNSTRUCT_EVENT_WRAPPER_SCHEMA, data: sd };
}

/** Canonical event from already split fields (see `toCanonicalEventJson`). */
export function canonicalFromFields(fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < FIELD_COUNT; i++) {
    const text = fields[i];
    const key = EVENT_JSON_KEYS[i];
    if (i === F.contexts || i === F.derived_contexts) out[key] = canonicalContexts(text);
    else if (i === F.unstruct_event) out[key] = canonicalUnstruct(text);
    else out[key] = text === '' ? null : convertScalar(FIELDS[i].type, text);
  }
  return out;
}

/**
 * The canonical (non-lossy) analytics-SDK JSON of an enriched line: what Micro puts in `GoodEvent.event`.
 * Throws `EnrichedLineError` when the line does not have exactly 131 fields.
 */
export function toCanonicalEventJson(line: string): Record<string, unknown> {
  return canonicalFromFields(splitEnrichedLine(line));
}

const SCHEMA_URI_RE = /^iglu:([^/]+)\/([^/]+)\/([^/]+)\/(\d+)-\d+-\d+$/;

/**
 * `contexts_<vendor>_<name>_<model>` / `unstruct_event_<vendor>_<name>_<model>` for a schema URI, with the
 * Scala analytics SDK's mangling: `.`/`-` → `_` in vendor and name, `_` before an upper-case letter that
 * follows a character which is neither upper-case nor `_`, lower-cased. Null for a malformed URI.
 *
 * @example shredKey('contexts', 'iglu:org.w3/PerformanceTiming/jsonschema/1-0-0') // 'contexts_org_w3_performance_timing_1'
 */
export function shredKey(prefix: 'contexts' | 'unstruct_event', schemaUri: string): string | null {
  const m = SCHEMA_URI_RE.exec(schemaUri);
  if (m === null) return null;
  const vendor = m[1].replace(/[.-]/g, '_').toLowerCase();
  const name = m[2]
    .replace(/[.-]/g, '_')
    .replace(/([^A-Z_])([A-Z])/g, '$1_$2')
    .toLowerCase();
  return `${prefix}_${vendor}_${name}_${Number(m[4])}`;
}

function schemaVersion(schemaUri: string): string {
  const slash = schemaUri.lastIndexOf('/');
  return schemaUri.slice(slash + 1);
}

function shredContexts(entities: readonly SelfDescribingJson[], into: Map<string, unknown[]>): void {
  // Per column, grouped afresh: a schema seen in derived_contexts replaces, not extends, the same key from
  // contexts (the SDK merges the two maps).
  const local = new Map<string, unknown[]>();
  for (const e of entities) {
    const key = shredKey('contexts', e.schema);
    if (key === null) continue;
    const version = schemaVersion(e.schema);
    // circe's deepMerge: a non-object datum is replaced by the version object.
    const item = isPlainObject(e.data)
      ? { ...e.data, _schema_version: version }
      : { _schema_version: version };
    const list = local.get(key);
    if (list === undefined) local.set(key, [item]);
    else list.push(item);
  }
  for (const [k, v] of local) into.set(k, v);
}

/** Lossy event from already split fields (see `toLossyEventJson`). */
export function lossyFromFields(fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < FIELD_COUNT; i++) {
    if (i === F.contexts || i === F.derived_contexts || i === F.unstruct_event) continue;
    const text = fields[i];
    out[EVENT_JSON_KEYS[i]] = text === '' ? null : convertScalar(FIELDS[i].type, text);
  }
  const shredded = new Map<string, unknown[]>();
  shredContexts(parseContextsColumn(fields[F.contexts]), shredded);
  shredContexts(parseContextsColumn(fields[F.derived_contexts]), shredded);
  for (const [k, v] of shredded) out[k] = v;
  const ue = parseUnstructColumn(fields[F.unstruct_event]);
  if (ue !== null) {
    const key = shredKey('unstruct_event', ue.schema);
    if (key !== null) out[key] = ue.data;
  }
  const lat = fields[F.geo_latitude];
  const lon = fields[F.geo_longitude];
  // The TSV texts are Java Float.toString output, which is what the SDK's Double.toString prints back.
  if (lat !== '' && lon !== '') out.geo_location = `${lat},${lon}`;
  return out;
}

/**
 * The lossy analytics-SDK JSON of an enriched line (Micro `/micro/events`, `--output-json`).
 * Throws `EnrichedLineError` when the line does not have exactly 131 fields.
 */
export function toLossyEventJson(line: string): Record<string, unknown> {
  return lossyFromFields(splitEnrichedLine(line));
}
