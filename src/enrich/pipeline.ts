/**
 * The enrich core: raw-stream records in, enriched TSV lines and bad rows out, with no I/O of its own.
 *
 * Per raw event it runs Snowplow's three phases over one mutable event (spec §3): field mapping and
 * validation of the tracker's JSON, the enrichment steps in their fixed order, validation of what the
 * enrichments produced. Failures accumulate; the bad-row type is chosen by Snowplow's precedence. One
 * event's failure never affects the other events of its payload.
 */

import type { Resolver } from '../iglu/types.js';
import * as badRows from '../protocol/bad-rows.js';
import { type CollectorPayload, encodeCollectorPayload } from '../protocol/collector-payload.js';
import { F, FIELDS } from '../protocol/enriched-fields.js';
import { firstIpToken } from '../protocol/ip-address.js';
import { formatTimestamp, isRedshiftCompatible } from '../protocol/java-format.js';
import { FURROW_PROCESSOR, type Processor } from '../protocol/processor.js';
import type { RawEvent } from '../protocol/raw-event.js';
import { sanitize } from '../protocol/sanitize.js';
import { randomUuid } from '../protocol/uuid.js';
import { routeCollectorPayload } from './adapters/registry.js';
import { DROP, type Enrichment, type EnrichmentFailure } from './enrichments/types.js';
import { EnrichedEvent } from './event.js';
import { checkCollectorPayload, loadCollectorPayload } from './payload-loader.js';
import { collectorVersionCheck } from './steps/collector-version.js';
import { crossDomain } from './steps/cross-domain.js';
import { derivedTimestamp } from './steps/derived-tstamp.js';
import { pageQuery } from './steps/page-query.js';
import { pageUri } from './steps/page-uri.js';
import { refererUri } from './steps/referer-uri.js';
import { schemaFields } from './steps/schema-fields.js';
import {
  revalidateReplaced,
  type SchemaViolation,
  validateDerived,
  validateTrackerJson,
} from './tracker-json.js';
import { type AtomicFieldError, type TrackerJson, transformParameters } from './transform.js';

export const ATOMIC_SCHEMA = 'iglu:com.snowplowanalytics.snowplow/atomic/jsonschema/1-0-0';

export interface EnricherOptions {
  resolver: Resolver;
  /** configured enrichments (see `enrichments/load.ts`); the built-in steps are always added */
  enrichments?: readonly Enrichment[];
  processor?: Processor;
  /** `validation.maxJsonDepth` (default 50) */
  maxJsonDepth?: number;
  /** `validation.acceptInvalid`: let events with over-long atomic fields through */
  acceptInvalid?: boolean;
  /** the output sink's record limit in bytes; larger outputs become `size_violation` bad rows */
  maxRecordSize?: number;
}

/** Where the enricher writes: arrays that the caller drains (no callbacks on the hot path). */
export interface EnrichOutput {
  good: string[];
  bad: string[];
  /** when present, filled in parallel with `good`/`bad` with what each output came from (Micro needs it) */
  trace?: { good: RawEvent[]; bad: BadTrace[] };
}

export interface BadTrace {
  payload: CollectorPayload | null;
  raw: RawEvent | null;
}

const BUILT_IN_STEPS: readonly Enrichment[] = [
  collectorVersionCheck,
  pageUri,
  derivedTimestamp,
  refererUri,
  pageQuery,
  crossDomain,
  schemaFields,
];

/** The string fields Enrich length-checks, with their limits (spec §2.3, §3.4). */
const LENGTH_LIMITS: ReadonlyArray<readonly [number, number]> = FIELDS.flatMap((f, i) =>
  (f.type === 'string' || f.type === 'uuid') && f.maxLength > 0 ? [[i, f.maxLength] as const] : [],
);

export class Enricher {
  readonly processor: Processor;
  private readonly resolver: Resolver;
  private readonly steps: readonly Enrichment[];
  private readonly maxJsonDepth: number;
  private readonly acceptInvalid: boolean;
  private readonly maxRecordSize: number;
  private readonly vEtl: string;

  constructor(opts: EnricherOptions) {
    this.resolver = opts.resolver;
    this.processor = opts.processor ?? FURROW_PROCESSOR;
    this.maxJsonDepth = opts.maxJsonDepth ?? 50;
    this.acceptInvalid = opts.acceptInvalid ?? false;
    this.maxRecordSize = opts.maxRecordSize ?? 1_000_000;
    this.vEtl = `${this.processor.artifact}-${this.processor.version}`;
    // A stable sort keeps configured enrichments of the same kind (JavaScript) in configuration order.
    this.steps = [...BUILT_IN_STEPS, ...(opts.enrichments ?? [])].sort((a, b) => a.order - b.order);
  }

  /** One raw-stream record (Thrift `CollectorPayload` bytes). */
  async processRecord(bytes: Uint8Array, out: EnrichOutput, etlMs: number = Date.now()): Promise<void> {
    const loaded = loadCollectorPayload(bytes);
    if (!loaded.ok) {
      this.emitBad(
        out,
        badRows.collectorPayloadFormatViolation(this.processor, etlMs, loaded.message, bytes),
        etlMs,
      );
      out.trace?.bad.push({ payload: null, raw: null });
      return;
    }
    await this.processLoaded(loaded.payload, loaded.vendor, loaded.version, out, etlMs);
  }

  /** A payload that is already decoded (the collector in the same process, tests). */
  async processPayload(p: CollectorPayload, out: EnrichOutput, etlMs: number = Date.now()): Promise<void> {
    const loaded = checkCollectorPayload(p);
    if (!loaded.ok) {
      const bytes = encodeCollectorPayload(p);
      this.emitBad(
        out,
        badRows.collectorPayloadFormatViolation(this.processor, etlMs, loaded.message, bytes),
        etlMs,
      );
      out.trace?.bad.push({ payload: p, raw: null });
      return;
    }
    await this.processLoaded(loaded.payload, loaded.vendor, loaded.version, out, etlMs);
  }

  private async processLoaded(
    p: CollectorPayload,
    vendor: string,
    version: string,
    out: EnrichOutput,
    etlMs: number,
  ): Promise<void> {
    let routed = routeCollectorPayload(p, { resolver: this.resolver, maxJsonDepth: this.maxJsonDepth });
    if (routed instanceof Promise) routed = await routed;
    if (!routed.ok) {
      const build =
        routed.type === 'adapter_failures' ? badRows.adapterFailures : badRows.trackerProtocolViolations;
      this.emitBad(out, build(this.processor, etlMs, vendor, version, routed.messages, p), etlMs);
      out.trace?.bad.push({ payload: p, raw: null });
      return;
    }
    for (const raw of routed.events) await this.enrichRawEvent(raw, out, etlMs, p);
  }

  /** Phases 1–3 for one raw event; writes one good line, one bad row, or nothing (dropped). */
  async enrichRawEvent(
    raw: RawEvent,
    out: EnrichOutput,
    etlMs: number,
    payload: CollectorPayload | null = null,
  ): Promise<void> {
    const ev = new EnrichedEvent(raw);
    const f = ev.fields;

    // Phase 1: defaults, then tracker parameters on top.
    f[F.event_id] = randomUuid();
    f[F.v_collector] = raw.loaderName === '' ? null : sanitize(raw.loaderName);
    f[F.v_etl] = this.vEtl;
    f[F.etl_tstamp] = formatTimestamp(etlMs);
    f[F.network_userid] = raw.userId;
    f[F.user_ipaddress] = raw.ipAddress === null ? null : sanitize(firstIpToken(raw.ipAddress));
    f[F.useragent] = raw.useragent === null ? null : sanitize(raw.useragent);
    let atomicErrors: AtomicFieldError[] | null = null;
    if (raw.timestamp !== null) {
      const formatted = formatTimestamp(raw.timestamp);
      if (isRedshiftCompatible(raw.timestamp)) {
        f[F.collector_tstamp] = formatted;
        ev.collectorMs = raw.timestamp;
      } else {
        atomicErrors = [
          {
            message: `Formatted as ${formatted} is not Redshift-compatible`,
            path: 'collector_tstamp',
            keyword: 'atomic_field_parse_error',
            targets: [],
          },
        ];
      }
    }
    const json: TrackerJson = { unstruct: null, contexts: null };
    const paramErrors = transformParameters(ev, raw.parameters, json);
    if (paramErrors !== null)
      atomicErrors = atomicErrors === null ? paramErrors : atomicErrors.concat(paramErrors);

    const phase1: SchemaViolation[] = [];
    if (atomicErrors !== null) phase1.push(atomicViolation(atomicErrors));
    if (json.unstruct !== null || json.contexts !== null) {
      const done = validateTrackerJson(
        ev,
        this.resolver,
        json.unstruct,
        json.contexts,
        this.maxJsonDepth,
        phase1,
      );
      if (done !== undefined) await done;
    }

    // Phase 2: every step runs even after a failure, so later problems are still found.
    let failures: EnrichmentFailure[] | null = null;
    for (const step of this.steps) {
      let outcome = step.enrich(ev);
      if (outcome instanceof Promise) outcome = await outcome;
      if (outcome === undefined) continue;
      if (outcome === DROP) return;
      failures = failures === null ? outcome : failures.concat(outcome);
    }

    // Phase 3: what the enrichments produced, then atomic field lengths.
    const phase3: SchemaViolation[] = [];
    const derivedDone = validateDerived(ev, this.resolver, phase3);
    if (derivedDone !== undefined) await derivedDone;
    if (ev.revalidate.contexts || ev.revalidate.unstruct) await revalidateReplaced(ev, this.resolver, phase3);
    if (!this.acceptInvalid) {
      const tooLong = lengthViolations(f);
      if (tooLong !== null) phase3.push(atomicViolation(tooLong));
    }

    const trace = out.trace;
    if (phase1.length > 0) {
      this.emitBad(
        out,
        badRows.schemaViolations(this.processor, etlMs, phase1, ev.toBadRowObject(), raw),
        etlMs,
      );
    } else if (failures !== null) {
      this.emitBad(
        out,
        badRows.enrichmentFailures(this.processor, etlMs, failures, ev.toBadRowObject(), raw),
        etlMs,
      );
    } else if (phase3.length > 0) {
      this.emitBad(
        out,
        badRows.schemaViolations(this.processor, etlMs, phase3, ev.toBadRowObject(), raw),
        etlMs,
      );
    } else if (this.emitGood(out, ev.toTsv(), etlMs)) {
      trace?.good.push(raw);
      return;
    }
    trace?.bad.push({ payload, raw });
  }

  /** Writes the line, or a size_violation when it is over the sink limit; true when the line was written. */
  private emitGood(out: EnrichOutput, tsv: string, etlMs: number): boolean {
    if (this.oversized(tsv)) {
      out.bad.push(this.sizeViolation(tsv, 'Enriched event exceeds', etlMs));
      return false;
    }
    out.good.push(tsv);
    return true;
  }

  private emitBad(out: EnrichOutput, row: unknown, etlMs: number): void {
    const json = JSON.stringify(row);
    out.bad.push(
      this.oversized(json)
        ? this.sizeViolation(json, 'Event failed enrichment and resulting bad row exceeds', etlMs)
        : json,
    );
  }

  /** Byte length is only computed when the text could exceed the limit at all (UTF-8 ≤ 3 bytes/unit). */
  private oversized(text: string): boolean {
    return text.length * 3 > this.maxRecordSize && Buffer.byteLength(text) > this.maxRecordSize;
  }

  /** A size_violation carrying the first tenth of the oversized output, as Snowplow does. */
  private sizeViolation(text: string, what: string, etlMs: number): string {
    const max = this.maxRecordSize;
    return JSON.stringify(
      badRows.sizeViolation(
        this.processor,
        etlMs,
        max,
        text.length,
        `${what} the maximum allowed size of ${max} bytes`,
        text.slice(0, Math.floor(max / 10)),
      ),
    );
  }
}

function atomicViolation(dataReports: readonly unknown[]): SchemaViolation {
  return { schemaKey: ATOMIC_SCHEMA, error: { error: 'ValidationError', dataReports } };
}

function lengthViolations(f: ReadonlyArray<string | null>): AtomicFieldError[] | null {
  let out: AtomicFieldError[] | null = null;
  for (const [i, max] of LENGTH_LIMITS) {
    const v = f[i];
    if (v !== null && v.length > max) {
      (out ??= []).push({
        message: `Field is longer than maximum allowed size ${max}`,
        path: FIELDS[i].name,
        keyword: 'atomic_field_length_exceeded',
        targets: [],
      });
    }
  }
  return out;
}
