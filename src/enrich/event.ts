import { F, FIELD_COUNT, FIELDS } from '../protocol/enriched-fields.js';
import type { RawEvent } from '../protocol/raw-event.js';

/** A self-describing JSON (`{"schema": "iglu:…", "data": …}`) as held on the event. */
export interface SelfDescribingJson {
  schema: string;
  data: unknown;
}

export const CONTEXTS_SCHEMA = 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1';
export const UNSTRUCT_SCHEMA = 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0';

/**
 * One event being enriched. Atomic fields live in a positional array of TSV-ready strings
 * (`fields[F.app_id]`), because 131-key objects fall into dictionary mode and cost ~3× the memory and
 * time (spec/performance.md §2.6-2.7). The three JSON columns are kept as parsed entities until the
 * event is written out, and a few timestamps are also kept as numbers for the steps that do arithmetic.
 */
export class EnrichedEvent {
  readonly fields: Array<string | null> = new Array(FIELD_COUNT).fill(null);
  /** validated entities from `co`/`cx`, re-wrapped in contexts 1-0-1 on output */
  contexts: SelfDescribingJson[] = [];
  /** the inner self-describing event from `ue_pr`/`ue_px` */
  unstruct: SelfDescribingJson | null = null;
  /** entities produced by enrichments (prepended, as Snowplow does) */
  derived: SelfDescribingJson[] = [];
  /** `validation_info` entities for superseded schemas, appended after the derived ones */
  validationInfo: SelfDescribingJson[] = [];
  collectorMs = Number.NaN;
  dvceCreatedMs = Number.NaN;
  dvceSentMs = Number.NaN;
  trueMs = Number.NaN;
  /** set by an enrichment that replaced the tracker's entities or event (JavaScript setters) */
  readonly revalidate: { contexts: boolean; unstruct: boolean } = { contexts: false, unstruct: false };
  /** decoded name/value pairs of the page URL's query, filled by the page-query step */
  pageQuery: Array<[string, string | null]> | null = null;

  constructor(readonly raw: RawEvent) {}

  get(i: number): string | null {
    return this.fields[i];
  }

  set(i: number, v: string | null): void {
    this.fields[i] = v;
  }

  /** The event as one enriched TSV line (131 fields, no trailing tab). */
  toTsv(): string {
    const f = this.fields;
    f[F.contexts] = wrapContexts(this.contexts);
    f[F.unstruct_event] = this.unstruct === null ? null : wrapUnstruct(this.unstruct);
    f[F.derived_contexts] = wrapContexts(
      this.validationInfo.length === 0 ? this.derived : this.derived.concat(this.validationInfo),
    );
    // String concatenation beats Array#join for 131 short strings on V8 (measured in bench/enrich).
    let line = f[0] ?? '';
    for (let i = 1; i < FIELD_COUNT; i++) {
      const v = f[i];
      line += v === null ? '\t' : '\t' + v;
    }
    return line;
  }

  /**
   * The partially enriched event as bad rows carry it: every field by name, `null` when unset,
   * ints/booleans/floats as numbers, decimals and timestamps as strings, JSON columns as wrapper strings.
   */
  toBadRowObject(): Record<string, unknown> {
    const f = this.fields;
    f[F.contexts] = wrapContexts(this.contexts);
    f[F.unstruct_event] = this.unstruct === null ? null : wrapUnstruct(this.unstruct);
    f[F.derived_contexts] = wrapContexts(this.derived.concat(this.validationInfo));
    const out: Record<string, unknown> = {};
    for (let i = 0; i < FIELD_COUNT; i++) {
      const spec = FIELDS[i];
      const v = f[i];
      if (v === null) out[spec.name] = null;
      else if ((spec.type === 'int' && i !== F.txn_id) || spec.type === 'bool' || spec.type === 'float') {
        const n = Number(v);
        out[spec.name] = Number.isFinite(n) ? n : v;
      } else out[spec.name] = v;
    }
    return out;
  }
}

export function wrapContexts(entities: readonly SelfDescribingJson[]): string | null {
  if (entities.length === 0) return null;
  return `{"schema":"${CONTEXTS_SCHEMA}","data":${JSON.stringify(entities.map(sdj))}}`;
}

export function wrapUnstruct(e: SelfDescribingJson): string {
  return `{"schema":"${UNSTRUCT_SCHEMA}","data":${JSON.stringify(sdj(e))}}`;
}

/** Key order on output is always `schema` then `data`, whatever order the tracker used. */
function sdj(e: SelfDescribingJson): SelfDescribingJson {
  return { schema: e.schema, data: e.data };
}
