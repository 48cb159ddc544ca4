/**
 * Reading an enriched TSV line the way Snowplow's analytics SDKs do (spec §2.5, Scala SDK `Event.parse`),
 * shared by every loader: exactly 131 tab-separated fields, `collector_tstamp`/`event_id`/`v_collector`/
 * `v_etl` present, booleans exactly `0`/`1`, ints, decimals, timestamps, UUIDs and the three JSON columns
 * parseable. A line that fails becomes a `loader_parsing_error` bad row (spec §5.1), never an error, so
 * one bad line never blocks its batch. The rules are no wider than the warehouses' casts.
 */
import { type BadRow, type LoaderParsingFailure, loaderParsingError } from '../protocol/bad-rows.js';
import { F, FIELD_COUNT, FIELDS, type FieldType } from '../protocol/enriched-fields.js';
import type { Processor } from '../protocol/processor.js';

export type LineCheck =
  | { readonly ok: true; readonly fields: string[] }
  | { readonly ok: false; readonly failure: LoaderParsingFailure };

type InvalidValue = { type: 'InvalidValue'; key: string; value: string; message: string };

const TYPES: readonly FieldType[] = FIELDS.map((f) => f.type);
const NAMES: readonly string[] = FIELDS.map((f) => f.name);
const REQUIRED = new Uint8Array(FIELD_COUNT);
for (const i of [F.collector_tstamp, F.event_id, F.v_collector, F.v_etl]) REQUIRED[i] = 1;

const INT_RE = /^[+-]?\d{1,10}$/;
// Java's Double.parseDouble also takes `NaN`, `Infinity`, `1d`, hex floats; Enrich never writes those
// (BigDecimal/Float.toString output only), so the narrower grammar loses nothing real.
const DECIMAL_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,4})?$/;
// Java's UUID.fromString accepts short groups (`1-1-1-1-1`); DuckDB's UUID cast does not, and Enrich
// always writes the canonical form.
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const IGLU_URI_RE = /^iglu:[a-zA-Z0-9\-_.]+\/[a-zA-Z0-9\-_]+\/[a-zA-Z0-9\-_]+\/(?:0|[1-9]\d*)-\d+-\d+$/;
const CONTEXTS_RE = /^iglu:com\.snowplowanalytics\.snowplow\/contexts\/jsonschema\/1-\d+-\d+$/;
const UNSTRUCT_RE = /^iglu:com\.snowplowanalytics\.snowplow\/unstruct_event\/jsonschema\/1-\d+-\d+$/;
// JSON.parse accepts an escaped lone surrogate (`"\ud800"`); DuckDB's JSON parser rejects it.
const LONE_SURROGATE_RE =
  /\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F]/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/** Days from 1970-01-01 to the civil date (proleptic Gregorian, H. Hinnant's algorithm): no Date, no 0–99 year quirk. */
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** µs since the epoch, or `undefined` when the text is not a real UTC date-time (see `isTstamp`). */
export function parseTstamp(value: string): bigint | undefined {
  if (!isTstamp(value)) return undefined;
  const secs =
    daysFromCivil(digitsAt(value, 0, 4), digitsAt(value, 5, 2), digitsAt(value, 8, 2)) * 86400 +
    digitsAt(value, 11, 2) * 3600 +
    digitsAt(value, 14, 2) * 60 +
    digitsAt(value, 17, 2);
  // up to 9 fraction digits; past microseconds they are cut, as DuckDB does
  const frac = value.length > 20 ? +value.slice(20, 26).padEnd(6, '0') : 0;
  return BigInt(secs) * 1_000_000n + BigInt(frac);
}

function digitsAt(v: string, from: number, count: number): number {
  let n = 0;
  for (let i = from; i < from + count; i++) {
    const d = v.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/**
 * `yyyy-MM-dd HH:mm:ss` with an optional `.` and 1–9 fraction digits, a real UTC date-time. Enrich writes
 * `yyyy-MM-dd HH:mm:ss.SSS`; the SDK turns spaces into `T` and parses an ISO instant, so `T` and 0–9
 * fraction digits are accepted as well. A character scan: every line has several timestamps, and the
 * check runs on every line the loaders read.
 */
export function isTstamp(value: string): boolean {
  const len = value.length;
  if (len < 19 || len === 20 || len > 29) return false;
  const y = digitsAt(value, 0, 4);
  const mo = digitsAt(value, 5, 2);
  const d = digitsAt(value, 8, 2);
  const h = digitsAt(value, 11, 2);
  const mi = digitsAt(value, 14, 2);
  const s = digitsAt(value, 17, 2);
  const sep = value.charCodeAt(10);
  if (
    y < 0 ||
    mo < 1 ||
    d < 1 ||
    h < 0 ||
    mi < 0 ||
    s < 0 ||
    value.charCodeAt(4) !== 45 ||
    value.charCodeAt(7) !== 45 ||
    (sep !== 32 && sep !== 84) ||
    value.charCodeAt(13) !== 58 ||
    value.charCodeAt(16) !== 58
  )
    return false;
  if (len > 19 && (value.charCodeAt(19) !== 46 || digitsAt(value, 20, len - 20) < 0)) return false;
  if (mo > 12 || h > 23 || mi > 59 || s > 59) return false;
  return d <= (mo === 2 && isLeap(y) ? 29 : DAYS_IN_MONTH[mo - 1]);
}

function isInt(value: string): boolean {
  if (!INT_RE.test(value)) return false;
  const n = +value;
  return n >= -2147483648 && n <= 2147483647;
}

function isDecimal(value: string): boolean {
  return DECIMAL_RE.test(value);
}

function isSelfDescribing(v: unknown): v is { schema: string; data: unknown } {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    typeof (v as { schema?: unknown }).schema === 'string' &&
    'data' in v
  );
}

/** The SDK's contexts / unstruct_event decoders: wrapper schema, then self-describing inner data. */
function jsonError(index: number, value: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (e) {
    return `ParsingFailure: ${(e as Error).message}`;
  }
  if (value.includes('\\u') && LONE_SURROGATE_RE.test(value))
    return 'ParsingFailure: lone UTF-16 surrogate escape';
  if (!isSelfDescribing(parsed)) return 'DecodingFailure: not a self-describing JSON ({"schema","data"})';
  if (!IGLU_URI_RE.test(parsed.schema))
    return `DecodingFailure at .schema: invalid Iglu URI ${parsed.schema}`;
  if (index === F.unstruct_event) {
    if (!UNSTRUCT_RE.test(parsed.schema)) return `Unknown payload: ${parsed.schema}`;
    const inner = parsed.data;
    if (!isSelfDescribing(inner) || !IGLU_URI_RE.test(inner.schema))
      return 'DecodingFailure at .data: not a self-describing JSON';
    return undefined;
  }
  if (!CONTEXTS_RE.test(parsed.schema)) return `Unknown payload: ${parsed.schema}`;
  if (!Array.isArray(parsed.data)) return 'DecodingFailure at .data: expected an array';
  for (let k = 0; k < parsed.data.length; k++) {
    const e = parsed.data[k];
    if (!isSelfDescribing(e) || !IGLU_URI_RE.test(e.schema))
      return `DecodingFailure at .data[${k}]: not a self-describing JSON`;
  }
  return undefined;
}

function invalid(index: number, value: string, message: string): InvalidValue {
  return { type: 'InvalidValue', key: NAMES[index], value, message };
}

/** The SDK's per-field decoders; `undefined` when the value is acceptable. Messages are the Scala SDK's. */
function fieldError(index: number, value: string): InvalidValue | undefined {
  const key = NAMES[index];
  if (value === '') {
    return REQUIRED[index] === 1 ? invalid(index, value, `Field ${key} cannot be empty`) : undefined;
  }
  switch (TYPES[index]) {
    case 'string':
      return undefined;
    case 'int':
      return isInt(value) ? undefined : invalid(index, value, `Cannot parse key ${key} into integer`);
    case 'decimal':
    case 'float':
      return isDecimal(value) ? undefined : invalid(index, value, `Cannot parse key ${key} into double`);
    case 'bool':
      return value === '0' || value === '1'
        ? undefined
        : invalid(index, value, `Cannot parse key ${key} into boolean`);
    case 'tstamp':
      return isTstamp(value) ? undefined : invalid(index, value, `Cannot parse key ${key} into datetime`);
    case 'uuid':
      return UUID_RE.test(value) ? undefined : invalid(index, value, `Cannot parse key ${key} into UUID`);
    case 'json': {
      const message = jsonError(index, value);
      return message === undefined ? undefined : invalid(index, value, message);
    }
  }
}

/**
 * Validates one enriched TSV line and returns its 131 raw fields, or the SDK's `ParsingError`.
 * A line break inside a line is refused too: the SDK would keep it in a string field, but the staged
 * TSV that `COPY` reads is line-delimited, and Enrich never writes one (it strips control characters).
 */
export function checkLine(line: string): LineCheck {
  const fields = line.split('\t');
  if (fields.length === 1) return { ok: false, failure: { type: 'NotTSV' } };
  if (fields.length !== FIELD_COUNT)
    return { ok: false, failure: { type: 'FieldNumberMismatch', fieldCount: fields.length } };
  let errors: InvalidValue[] | undefined;
  for (let i = 0; i < FIELD_COUNT; i++) {
    const e = fieldError(i, fields[i]);
    if (e !== undefined) (errors ??= []).push(e);
  }
  if (line.includes('\n') || line.includes('\r')) {
    for (let i = 0; i < FIELD_COUNT; i++) {
      if (/[\r\n]/.test(fields[i]))
        (errors ??= []).push(
          invalid(i, fields[i], `Field ${NAMES[i]} contains a line break, which enriched TSV never holds`),
        );
    }
  }
  if (errors !== undefined) return { ok: false, failure: { type: 'RowDecodingError', errors } };
  return { ok: true, fields };
}

/** The `loader_parsing_error` bad row for a line, payload = the line unchanged. */
export function parsingErrorRow(
  line: string,
  failure: LoaderParsingFailure,
  processor: Processor,
): BadRow<LoaderParsingFailure, string> {
  return loaderParsingError(processor, failure, line);
}
