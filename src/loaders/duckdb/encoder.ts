/**
 * Enriched TSV line → column values, validated the way Snowplow's analytics SDKs read a line (spec §2.5,
 * Scala SDK `Event.parse`): exactly 131 tab-separated fields, `collector_tstamp`/`event_id`/`v_collector`/
 * `v_etl` present, booleans exactly `0`/`1`, ints, decimals, timestamps, UUIDs and the three JSON columns
 * parseable. A line that fails becomes a `loader_parsing_error` bad row (spec §5.1) instead of an error,
 * so one bad line never blocks its batch.
 *
 * The acceptance rules are deliberately no wider than DuckDB's casts: whatever passes here must convert
 * in `read_csv` with the table's types, or the whole batch's INSERT would fail.
 *
 * @example
 * const r = checkLine(line);
 * if (r.ok) toColumnValues(r.fields)[F.collector_tstamp]; // 1391378480941000n (µs since epoch)
 * else JSON.stringify(parsingErrorRow(line, r.failure));
 */
import type { BadRow, LoaderParsingFailure } from '../../protocol/bad-rows.js';
import { FIELD_COUNT, FIELDS, type FieldType } from '../../protocol/enriched-fields.js';
import { FURROW_PROCESSOR, type Processor } from '../../protocol/processor.js';
import { checkLine, parseTstamp, parsingErrorRow as sharedParsingErrorRow } from '../tsv.js';

export { checkLine, type LineCheck, parseTstamp } from '../tsv.js';

const TYPES: readonly FieldType[] = FIELDS.map((f) => f.type);

export const LOADER_PROCESSOR: Processor = {
  artifact: 'furrow-loader-duckdb',
  version: FURROW_PROCESSOR.version,
};

/** A typed column value: tstamp → bigint µs since the epoch (DuckDB's TIMESTAMP unit), int/decimal/float → number. */
export type ColumnValue = string | number | boolean | bigint | null;

/** Typed values of a line `checkLine` accepted, in column order; empty fields → null. */
export function toColumnValues(fields: readonly string[]): ColumnValue[] {
  const out = new Array<ColumnValue>(FIELD_COUNT);
  for (let i = 0; i < FIELD_COUNT; i++) {
    const v = fields[i];
    if (v === '') {
      out[i] = null;
      continue;
    }
    switch (TYPES[i]) {
      case 'int':
      case 'decimal':
      case 'float':
        out[i] = +v;
        break;
      case 'bool':
        out[i] = v === '1';
        break;
      case 'tstamp':
        out[i] = parseTstamp(v) ?? null;
        break;
      case 'uuid':
        out[i] = v.toLowerCase();
        break;
      default:
        out[i] = v;
    }
  }
  return out;
}

export type EncodedLine =
  | { readonly ok: true; readonly values: ColumnValue[] }
  | { readonly ok: false; readonly badRow: BadRow<LoaderParsingFailure, string> };

/** The `loader_parsing_error` bad row for a line, payload = the line unchanged. */
export function parsingErrorRow(
  line: string,
  failure: LoaderParsingFailure,
  processor: Processor = LOADER_PROCESSOR,
): BadRow<LoaderParsingFailure, string> {
  return sharedParsingErrorRow(line, failure, processor);
}

/** `checkLine` + `toColumnValues`, or the bad row. */
export function encodeLine(line: string, processor: Processor = LOADER_PROCESSOR): EncodedLine {
  const r = checkLine(line);
  return r.ok
    ? { ok: true, values: toColumnValues(r.fields) }
    : { ok: false, badRow: parsingErrorRow(line, r.failure, processor) };
}
