/**
 * Wide-row layout helpers: the column a self-describing entity or event lands in, and the raw JSON text of
 * each entity's `data`, cut out of the enriched line's JSON columns without re-serialising them.
 *
 * Naming follows Snowplow's wide-row loaders (spec §6.1, schema-ddl `snakeCase`):
 * `iglu:org.w3/PerformanceTiming/jsonschema/1-0-0` in `contexts` or `derived_contexts` →
 * `contexts_org_w3_performance_timing_1`; the same schema as the event → `unstruct_event_org_w3_performance_timing_1`.
 *
 * Why slice instead of `JSON.parse` + `JSON.stringify`: the text was parsed once already to validate it
 * (`checkLine`), a second parse per line costs ~40% of the encoder's time, and a re-serialisation would
 * silently round integers above 2^53 (64-bit ids are common in entities) — `jsonb` keeps them exact.
 * The scanner relies on its input being valid JSON (the caller validated it) and only tracks nesting and
 * string boundaries.
 *
 * Nothing here is PostgreSQL-specific except the optional identifier length cap; a wide-row loader for
 * another warehouse can use it as is.
 *
 * @example
 * entityColumn('contexts', 'iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0')
 * // { column: 'contexts_com_snowplowanalytics_snowplow_web_page_1', version: '1-0-0' }
 * forEachContext(contextsJson, (schema, data) => …); // data: '{"id":"…"}' exactly as in the line
 */
import { createHash } from 'node:crypto';
import { jsonStringEnd } from '../../protocol/bounded-json.js';

export type EntityKind = 'contexts' | 'unstruct_event';

export interface EntityColumn {
  /** e.g. `contexts_com_snowplowanalytics_snowplow_web_page_1` */
  readonly column: string;
  /** the full `M-R-A` version of the schema, e.g. `1-0-0` */
  readonly version: string;
}

/** schema-ddl `snakeCase`: `PerformanceTiming` → `performance_timing`, `HTTPHeader` → `http_header`. */
export function snakeCase(name: string): string {
  return name
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .replace(/([a-z\d])([A-Z])/g, '$1_$2')
    .replace(/-/g, '_')
    .toLowerCase();
}

/** A vendor in a column name: `.` and `-` → `_`, lowercase (`com.acme-corp` → `com_acme_corp`). */
export function vendorPart(vendor: string): string {
  return vendor.replace(/[.-]/g, '_').toLowerCase();
}

const SCHEMA_URI_RE = /^iglu:([a-zA-Z0-9\-_.]+)\/([a-zA-Z0-9\-_]+)\/[a-zA-Z0-9\-_]+\/((0|[1-9]\d*)-\d+-\d+)$/;

/**
 * Caps a column name at `maxLength` characters (PostgreSQL silently truncates identifiers past 63 bytes,
 * which could merge two schemas into one column): a longer name keeps its first characters and gets a
 * hash of the whole name, so every loader derives the same, distinct name.
 */
export function capIdentifier(name: string, maxLength: number): string {
  if (name.length <= maxLength) return name;
  const hash = createHash('sha1').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, maxLength - 9)}_${hash}`;
}

const CACHE_LIMIT = 10_000;
/** kind → identifier cap → schema URI → column */
const caches = new Map<EntityKind, Map<number, Map<string, EntityColumn | null>>>();

/**
 * The wide-row column of an entity (`contexts`) or event (`unstruct_event`) schema URI, or `null` when the
 * URI is not an Iglu URI. Results are cached (schemas repeat on every line).
 */
export function entityColumn(kind: EntityKind, schemaUri: string, maxLength = 63): EntityColumn | null {
  let byLength = caches.get(kind);
  if (byLength === undefined) caches.set(kind, (byLength = new Map()));
  let cache = byLength.get(maxLength);
  if (cache === undefined) byLength.set(maxLength, (cache = new Map()));
  const hit = cache.get(schemaUri);
  if (hit !== undefined) return hit;
  const m = SCHEMA_URI_RE.exec(schemaUri);
  const result =
    m === null
      ? null
      : {
          column: capIdentifier(`${kind}_${vendorPart(m[1])}_${snakeCase(m[2])}_${m[4]}`, maxLength),
          version: m[3],
        };
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(schemaUri, result);
  return result;
}

// ---- raw JSON scanning (input already validated) ----

const QUOTE = 34;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const COMMA = 44;
const COLON = 58;

function isWs(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

function skipWs(s: string, i: number): number {
  while (i < s.length && isWs(s.charCodeAt(i))) i++;
  return i;
}

/** `s[i]` is an opening quote; returns the index after the closing one. */
function skipString(s: string, i: number): number {
  const end = jsonStringEnd(s, i);
  if (end === -1) throw new SyntaxError('unterminated string');
  return end;
}

/** `s[i]` starts a value; returns the index after it. */
function skipValue(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === QUOTE) return skipString(s, i);
  if (c === OPEN_BRACE || c === OPEN_BRACKET) return skipContainer(s, i);
  while (i < s.length) {
    const ch = s.charCodeAt(i);
    if (ch === COMMA || ch === CLOSE_BRACE || ch === CLOSE_BRACKET || isWs(ch)) break;
    i++;
  }
  return i;
}

function stringValue(s: string, start: number, end: number): string {
  const raw = s.slice(start + 1, end - 1);
  return raw.includes('\\') ? (JSON.parse(s.slice(start, end)) as string) : raw;
}

const OTHER_KEY = 0;
const SCHEMA_KEY = 1;
const DATA_KEY = 2;

/** Which member the key spanning [start, end) (quotes included) is, without slicing it in the usual case. */
function memberKey(s: string, start: number, end: number): number {
  const len = end - start - 2;
  if (len === 6 && s.startsWith('schema', start + 1)) return SCHEMA_KEY;
  if (len === 4 && s.startsWith('data', start + 1)) return DATA_KEY;
  const bs = s.indexOf('\\', start);
  if (bs === -1 || bs >= end) return OTHER_KEY;
  const key = JSON.parse(s.slice(start, end)) as string;
  return key === 'schema' ? SCHEMA_KEY : key === 'data' ? DATA_KEY : OTHER_KEY;
}

interface Members {
  /** raw text of the `schema` member's value, decoded, when it is a string */
  schema: string | undefined;
  /** [start, end) of the `data` member's value */
  dataStart: number;
  dataEnd: number;
}

/**
 * The `schema` (decoded string) and `data` (raw span) members of the object starting at `i`. Like
 * `JSON.parse`, the last of duplicate keys wins. Returns the index after the object too.
 */
function selfDescribing(s: string, i: number): { members: Members; end: number } {
  const members: Members = { schema: undefined, dataStart: -1, dataEnd: -1 };
  i = skipWs(s, i);
  if (s.charCodeAt(i) !== OPEN_BRACE) throw new SyntaxError('expected an object');
  i = skipWs(s, i + 1);
  if (s.charCodeAt(i) === CLOSE_BRACE) return { members, end: i + 1 };
  for (;;) {
    const keyStart = i;
    const keyEnd = skipString(s, i);
    const key = memberKey(s, keyStart, keyEnd);
    i = skipWs(s, keyEnd);
    if (s.charCodeAt(i) !== COLON) throw new SyntaxError('expected a colon');
    const valueStart = skipWs(s, i + 1);
    const valueEnd = skipValue(s, valueStart);
    if (key === SCHEMA_KEY) {
      members.schema = s.charCodeAt(valueStart) === QUOTE ? stringValue(s, valueStart, valueEnd) : undefined;
    } else if (key === DATA_KEY) {
      members.dataStart = valueStart;
      members.dataEnd = valueEnd;
    }
    i = skipWs(s, valueEnd);
    const c = s.charCodeAt(i);
    if (c === CLOSE_BRACE) return { members, end: i + 1 };
    if (c !== COMMA) throw new SyntaxError('expected a comma');
    i = skipWs(s, i + 1);
  }
}

/** `s[i]` opens an object or array; returns the index after its matching close. */
function skipContainer(s: string, i: number): number {
  let depth = 0;
  const n = s.length;
  while (i < n) {
    const ch = s.charCodeAt(i);
    if (ch === QUOTE) {
      i = skipString(s, i);
      continue;
    }
    if (ch === OPEN_BRACE || ch === OPEN_BRACKET) depth++;
    else if ((ch === CLOSE_BRACE || ch === CLOSE_BRACKET) && --depth === 0) return i + 1;
    i++;
  }
  throw new SyntaxError('unterminated container');
}

const SCHEMA_OPEN = '{"schema":"';
const DATA_MEMBER = ',"data":';

/**
 * `{"schema":"<uri without escapes>","data":` at `i`: the index where the data value starts, or -1.
 * `schema` receives the URI.
 */
function compactHead(s: string, i: number, schema: { uri: string }): number {
  if (!s.startsWith(SCHEMA_OPEN, i)) return -1;
  const from = i + SCHEMA_OPEN.length;
  const q = s.indexOf('"', from);
  if (q < 0 || !s.startsWith(DATA_MEMBER, q + 1)) return -1;
  const uri = s.slice(from, q);
  if (uri.includes('\\')) return -1;
  schema.uri = uri;
  return q + 1 + DATA_MEMBER.length;
}

/**
 * forEachContext for the layout every tracker and Enrich write — no whitespace, `schema` then `data` and
 * nothing else, object or array data — without the general scanner's per-member bookkeeping (it made up
 * most of the loader's entity extraction). False, having called nothing, for any other layout.
 */
function compactContexts(json: string, fn: (schema: string, data: string) => void): boolean {
  const schema = { uri: '' };
  let i = compactHead(json, 0, schema);
  if (i < 0 || json.charCodeAt(i) !== OPEN_BRACKET) return false;
  const found: string[] = [];
  i++;
  if (json.charCodeAt(i) !== CLOSE_BRACKET) {
    for (;;) {
      const dataStart = compactHead(json, i, schema);
      if (dataStart < 0) return false;
      const open = json.charCodeAt(dataStart);
      if (open !== OPEN_BRACE && open !== OPEN_BRACKET) return false;
      const dataEnd = skipContainer(json, dataStart);
      if (json.charCodeAt(dataEnd) !== CLOSE_BRACE) return false;
      found.push(schema.uri, json.slice(dataStart, dataEnd));
      i = dataEnd + 1;
      const c = json.charCodeAt(i);
      if (c === CLOSE_BRACKET) break;
      if (c !== COMMA) return false;
      i++;
    }
  }
  // the array must close the top object, or a later duplicate `data` key would win (JSON.parse semantics)
  if (i + 2 !== json.length || json.charCodeAt(i + 1) !== CLOSE_BRACE) return false;
  for (let k = 0; k < found.length; k += 2) fn(found[k], found[k + 1]);
  return true;
}

/**
 * Calls `fn(schema, rawData)` for each entity of a `contexts`/`derived_contexts` column value
 * (`{"schema":"iglu:…/contexts/…","data":[{"schema":…,"data":…},…]}`), in order. The input must be valid
 * JSON of that shape (as `checkLine` guarantees); otherwise a `SyntaxError` is thrown.
 */
export function forEachContext(json: string, fn: (schema: string, data: string) => void): void {
  if (compactContexts(json, fn)) return;
  const top = selfDescribing(json, 0).members;
  if (top.dataStart < 0 || json.charCodeAt(top.dataStart) !== OPEN_BRACKET)
    throw new SyntaxError('contexts: data is not an array');
  let i = skipWs(json, top.dataStart + 1);
  if (json.charCodeAt(i) === CLOSE_BRACKET) return;
  for (;;) {
    const { members, end } = selfDescribing(json, i);
    if (members.schema === undefined || members.dataStart < 0)
      throw new SyntaxError('contexts: an entity is not self-describing');
    fn(members.schema, json.slice(members.dataStart, members.dataEnd));
    i = skipWs(json, end);
    const c = json.charCodeAt(i);
    if (c === CLOSE_BRACKET) return;
    if (c !== COMMA) throw new SyntaxError('expected a comma');
    i = skipWs(json, i + 1);
  }
}

/**
 * The self-describing event inside an `unstruct_event` column value
 * (`{"schema":"iglu:…/unstruct_event/…","data":{"schema":…,"data":…}}`): its schema and raw data text.
 */
export function unstructEvent(json: string): { schema: string; data: string } {
  const top = selfDescribing(json, 0).members;
  if (top.dataStart < 0) throw new SyntaxError('unstruct_event: no data');
  const inner = selfDescribing(json, top.dataStart).members;
  if (inner.schema === undefined || inner.dataStart < 0)
    throw new SyntaxError('unstruct_event: the event is not self-describing');
  return { schema: inner.schema, data: json.slice(inner.dataStart, inner.dataEnd) };
}

/**
 * An entity's data with the analytics SDK's `_schema_version` member added (as the Scala SDK's wide rows
 * carry it, so minor versions sharing one column stay distinguishable). Non-object data is returned as is.
 */
export function withSchemaVersion(data: string, version: string): string {
  if (data.charCodeAt(0) !== OPEN_BRACE) return data;
  const rest = skipWs(data, 1);
  const member = `"_schema_version":"${version}"`;
  return data.charCodeAt(rest) === CLOSE_BRACE ? `{${member}}` : `{${member},${data.slice(1)}`;
}
