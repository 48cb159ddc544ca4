/**
 * Enriched TSV line → one row of PostgreSQL `COPY … (FORMAT text, NULL '')` for the staging table, or a
 * `loader_parsing_error` bad row (spec §5.1).
 *
 * Validation is the analytics-SDK reading of the DuckDB encoder (`checkLine`: 131 fields, required fields,
 * ints, doubles, booleans, timestamps, UUIDs, the three JSON columns), reused as is. On top of it, what
 * PostgreSQL itself would refuse — and which would otherwise fail the whole batch's COPY — is handled here:
 * - a NUL character in a field (PostgreSQL text cannot hold U+0000) → bad row;
 * - `\u0000` in a JSON column (`jsonb` refuses it) → bad row;
 * - year `0000` (valid ISO-8601, refused by PostgreSQL's parser) → written as `0001 … BC`, the same instant;
 * - doubles that overflow or underflow PostgreSQL's `float8` parser (`1e400`, `1e-400`) → written as
 *   `Infinity` / `0`, what the SDK's `toDouble` gives;
 * - strings longer than their column (`VARCHAR(n)`/`CHAR(n)`: Snowplow's Postgres DDL is narrower than
 *   Enrich's limits for a few fields, e.g. `os_timezone` 50 vs 255) → cut to n characters, as Snowplow's
 *   loaders truncate.
 * Whatever still slips through is caught by the loader's per-line COPY error isolation (loader.ts).
 *
 * Entities and the self-describing event go to their wide-row `jsonb` columns (wide-row.ts): contexts and
 * derived_contexts of one `vendor/name/major` share a column holding an array of their `data` objects (with
 * the SDK's `_schema_version`), the event's column holds its `data` object. The JSON text is sliced out of the
 * line, never re-serialised.
 *
 * @example
 * const batchColumns = new Map<string, string>();
 * const r = encodeLine(line, { columns: batchColumns });
 * if (r.ok) stream.write(copyRow(r.event)); // batchColumns: the entity columns met so far
 */
import type { BadRow, LoaderParsingFailure } from '../../protocol/bad-rows.js';
import { F, FIELDS } from '../../protocol/enriched-fields.js';
import { FURROW_PROCESSOR, type Processor } from '../../protocol/processor.js';
import { checkLine, parsingErrorRow } from '../tsv.js';
import { ATOMIC_COLUMNS, PG_IDENTIFIER_MAX } from './schema.js';
import { entityColumn, forEachContext, unstructEvent, withSchemaVersion } from './wide-row.js';

export const LOADER_PROCESSOR: Processor = {
  artifact: 'furrow-loader-postgres',
  version: FURROW_PROCESSOR.version,
};

export interface EncodedEvent {
  /** lowercase canonical UUID, the dedupe key */
  readonly eventId: string;
  /** the 128 atomic fields as COPY text values, tab-joined (backslashes not yet escaped) */
  readonly atomic: string;
  /**
   * entity column → JSON text: for `contexts_*` the comma-joined elements (copyRow adds the brackets),
   * for `unstruct_event_*` the event's data; `null` when the line has no entity
   */
  readonly entities: Map<string, string> | null;
}

export type EncodedLine =
  | { readonly ok: true; readonly event: EncodedEvent }
  | { readonly ok: false; readonly badRow: BadRow<LoaderParsingFailure, string> };

export interface EncodeOptions {
  processor?: Processor;
  /** batch accumulator: each entity column met → the first schema URI seen for it */
  columns?: Map<string, string>;
}

type InvalidValue = { type: 'InvalidValue'; key: string; value: string; message: string };

const N = ATOMIC_COLUMNS.length;
const FIELD_OF = Int32Array.from(ATOMIC_COLUMNS, (c) => c.field);
const MAX_LEN = Int32Array.from(ATOMIC_COLUMNS, (c) => c.maxLength);
const KIND = Uint8Array.from(ATOMIC_COLUMNS, (c) =>
  c.tsvType === 'string'
    ? 1
    : c.tsvType === 'tstamp'
      ? 2
      : c.tsvType === 'decimal' || c.tsvType === 'float'
        ? 3
        : 0,
);
const NAMES = FIELDS.map((f) => f.name);
const JSON_FIELDS = [F.contexts, F.unstruct_event, F.derived_contexts];
/** `\u0000` as a JSON escape, i.e. preceded by an even number of backslashes. */
const NUL_ESCAPE_RE = /(?<!\\)(?:\\\\)*\\u0000/;

/** The JSON fields in TSV order; none is the first or last field. */
const CUTS = [...JSON_FIELDS].sort((a, b) => a - b);

/**
 * The atomic values tab-joined, when none needed rewriting: the line without its JSON fields, cut out as
 * a few slices rather than re-joined from 128 values (per line, the join cost more than the checks).
 */
function atomicSlice(line: string, fields: readonly string[]): string {
  let atomic = '';
  let from = 0;
  let pos = 0;
  let f = 0;
  for (const cut of CUTS) {
    for (; f < cut; f++) pos += fields[f].length + 1;
    atomic += line.slice(from, pos);
    pos += fields[f].length + 1;
    f++;
    from = pos;
  }
  return atomic + line.slice(from);
}

/** The first `max` code points of `v` (PostgreSQL counts characters, not UTF-16 units). */
export function truncateChars(v: string, max: number): string {
  let i = 0;
  for (let n = 0; n < max && i < v.length; n++) {
    const c = v.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < v.length && (v.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
  }
  return i >= v.length ? v : v.slice(0, i);
}

/** A double as PostgreSQL's float8 input reads it without a range error. */
export function pgDouble(v: string): string {
  if (v.length <= 15 && !v.includes('e') && !v.includes('E')) return v;
  const n = Number(v);
  if (Number.isFinite(n)) return String(n);
  return n > 0 ? 'Infinity' : '-Infinity';
}

/** A timestamp PostgreSQL parses: ISO year 0000 is 1 BC. */
export function pgTimestamp(v: string): string {
  return v.startsWith('0000') ? `0001${v.slice(4)} BC` : v;
}

function invalid(field: number, value: string, message: string): InvalidValue {
  return { type: 'InvalidValue', key: NAMES[field], value, message };
}

/** What PostgreSQL would refuse in a line the SDK rules accepted. */
function pgErrors(line: string, fields: readonly string[]): InvalidValue[] | undefined {
  let errors: InvalidValue[] | undefined;
  if (line.includes('\u0000')) {
    for (let i = 0; i < fields.length; i++) {
      if (fields[i].includes('\u0000'))
        (errors ??= []).push(
          invalid(i, fields[i], `Field ${NAMES[i]} contains a NUL character, which PostgreSQL cannot store`),
        );
    }
  }
  for (const i of JSON_FIELDS) {
    const v = fields[i];
    if (v.includes('\\u0000') && NUL_ESCAPE_RE.test(v))
      (errors ??= []).push(
        invalid(i, v, `Field ${NAMES[i]} holds the JSON escape \\u0000, which PostgreSQL jsonb cannot store`),
      );
  }
  return errors;
}

function addEntity(
  entities: Map<string, string>,
  columns: Map<string, string> | undefined,
  kind: 'contexts' | 'unstruct_event',
  schema: string,
  data: string,
): void {
  const col = entityColumn(kind, schema, PG_IDENTIFIER_MAX);
  // checkLine accepted only Iglu URIs, so `col` is never null here.
  if (col === null) return;
  if (columns !== undefined && !columns.has(col.column)) columns.set(col.column, schema);
  if (kind === 'unstruct_event') {
    entities.set(col.column, data);
    return;
  }
  const element = withSchemaVersion(data, col.version);
  const prev = entities.get(col.column);
  entities.set(col.column, prev === undefined ? element : `${prev},${element}`);
}

function encodeEntities(
  fields: readonly string[],
  columns: Map<string, string> | undefined,
): Map<string, string> | null {
  const ctx = fields[F.contexts];
  const ue = fields[F.unstruct_event];
  const derived = fields[F.derived_contexts];
  if (ctx === '' && ue === '' && derived === '') return null;
  const entities = new Map<string, string>();
  if (ue !== '') {
    const e = unstructEvent(ue);
    addEntity(entities, columns, 'unstruct_event', e.schema, e.data);
  }
  // contexts before derived_contexts, as the SDKs merge them
  const onContext = (schema: string, data: string) => addEntity(entities, columns, 'contexts', schema, data);
  if (ctx !== '') forEachContext(ctx, onContext);
  if (derived !== '') forEachContext(derived, onContext);
  return entities.size === 0 ? null : entities;
}

/** Validates and encodes one enriched TSV line. */
export function encodeLine(line: string, options: EncodeOptions = {}): EncodedLine {
  const processor = options.processor ?? LOADER_PROCESSOR;
  const r = checkLine(line);
  if (!r.ok) return { ok: false, badRow: parsingErrorRow(line, r.failure, processor) };
  const fields = r.fields;
  const errors = pgErrors(line, fields);
  if (errors !== undefined)
    return { ok: false, badRow: parsingErrorRow(line, { type: 'RowDecodingError', errors }, processor) };
  let out: string[] | undefined;
  for (let c = 0; c < N; c++) {
    const raw = fields[FIELD_OF[c]];
    if (raw === '') continue;
    let v = raw;
    switch (KIND[c]) {
      case 1:
        if (v.length > MAX_LEN[c]) v = truncateChars(v, MAX_LEN[c]);
        break;
      case 2:
        if (v.charCodeAt(0) === 48) v = pgTimestamp(v);
        break;
      case 3:
        v = pgDouble(v);
        break;
    }
    if (v !== raw) {
      if (out === undefined) out = Array.from(FIELD_OF, (f) => fields[f]);
      out[c] = v;
    }
  }
  let entities: Map<string, string> | null;
  try {
    entities = encodeEntities(fields, options.columns);
  } catch (e) {
    // Unreachable for JSON checkLine accepted; kept so a scanner bug costs one line, not the batch.
    const failure: LoaderParsingFailure = {
      type: 'RowDecodingError',
      errors: [
        { type: 'UnhandledRowDecodingError', message: `entity extraction failed: ${(e as Error).message}` },
      ],
    };
    return { ok: false, badRow: parsingErrorRow(line, failure, processor) };
  }
  const atomic = out === undefined ? atomicSlice(line, fields) : out.join('\t');
  return { ok: true, event: { eventId: fields[F.event_id].toLowerCase(), atomic, entities } };
}

/**
 * The COPY text row (with its newline) for the staging table: the atomic values, then the entity columns
 * as one JSON object (`{"contexts_…_1":[…],"unstruct_event_…_1":{…}}`; column names need no escaping). An
 * empty value is NULL (`NULL ''`); backslashes are the only character COPY's text format needs escaped
 * here (tabs cannot occur inside a field, line breaks were refused).
 */
export function copyRow(event: EncodedEvent): string {
  let row = event.atomic;
  const entities = event.entities;
  if (entities === null) row += '\t\n';
  else {
    let sep = '\t{';
    for (const [col, v] of entities) {
      row += col.charCodeAt(0) === 99 /* c */ ? `${sep}"${col}":[${v}]` : `${sep}"${col}":${v}`;
      sep = ',';
    }
    row += '}\n';
  }
  return row.includes('\\') ? row.replaceAll('\\', '\\\\') : row;
}

/**
 * The COPY text row (with its newline) straight into `events`: the atomic values, one value per column of
 * `entityColumns` (in that order; NULL when the line has none), then `load_tstamp`. The caller checked that
 * every entity column of the event is in `entityColumns`.
 */
export function directCopyRow(event: EncodedEvent, entityColumns: readonly string[], loadTs: string): string {
  let row = event.atomic;
  const entities = event.entities;
  for (const col of entityColumns) {
    const v = entities?.get(col);
    row += v === undefined ? '\t' : col.charCodeAt(0) === 99 /* c */ ? `\t[${v}]` : `\t${v}`;
  }
  row += `\t${loadTs}\n`;
  return row.includes('\\') ? row.replaceAll('\\', '\\\\') : row;
}
