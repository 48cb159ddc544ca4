/**
 * Snowplow bad rows: self-describing JSON under `iglu:com.snowplowanalytics.snowplow.badrows/…`, shaped
 * `{schema, data: {processor, failure, payload}}` with the versions Enrich 6 emits, so Snowplow's tooling
 * (failed-events loaders, Micro, recovery) reads ours unchanged. Key order follows Snowplow's encoders.
 *
 * @example
 * JSON.stringify(adapterFailures(FURROW_PROCESSOR, Date.now(), 'com.acme', 'v1', messages, payload));
 */
import { encodeBase64 } from './base64.js';
import type { CollectorPayload } from './collector-payload.js';
import { formatIsoInstant } from './java-format.js';
import type { Processor } from './processor.js';
import { parseQueryString } from './querystring.js';
import type { RawEvent } from './raw-event.js';

// Re-exported: bad-row timestamps are Java `Instant.toString` renderings.
export { formatIsoInstant };

const PREFIX = 'iglu:com.snowplowanalytics.snowplow.badrows/';

export const BAD_ROW_SCHEMAS = {
  sizeViolation: `${PREFIX}size_violation/jsonschema/1-0-0`,
  collectorPayloadFormatViolation: `${PREFIX}collector_payload_format_violation/jsonschema/1-0-0`,
  adapterFailures: `${PREFIX}adapter_failures/jsonschema/1-0-0`,
  trackerProtocolViolations: `${PREFIX}tracker_protocol_violations/jsonschema/1-0-1`,
  schemaViolations: `${PREFIX}schema_violations/jsonschema/2-0-1`,
  enrichmentFailures: `${PREFIX}enrichment_failures/jsonschema/2-0-1`,
  loaderParsingError: `${PREFIX}loader_parsing_error/jsonschema/2-0-0`,
} as const;

export interface BadRow<F, P> {
  schema: string;
  data: { processor: Processor; failure: F; payload: P };
}

export interface NameValue {
  name: string;
  value: string | null;
}

/** Snowplow's `Payload.CollectorPayload`. */
export interface CollectorBadRowPayload {
  vendor: string;
  version: string;
  querystring: NameValue[];
  contentType: string | null;
  body: string | null;
  collector: string;
  encoding: string;
  hostname: string | null;
  timestamp: string | null;
  ipAddress: string | null;
  useragent: string | null;
  refererUri: string | null;
  headers: string[];
  networkUserId: string | null;
}

/** Snowplow's `Payload.RawEvent`. */
export interface RawEventBadRowPayload {
  vendor: string;
  version: string;
  parameters: NameValue[];
  contentType: string | null;
  loaderName: string;
  encoding: string;
  hostname: string | null;
  timestamp: string | null;
  ipAddress: string | null;
  useragent: string | null;
  refererUri: string | null;
  headers: string[];
  userId: string | null;
}

export interface PartiallyEnrichedPayload {
  enriched: Record<string, unknown>;
  raw: RawEventBadRowPayload;
}

export interface SizeViolationFailure {
  timestamp: string;
  maximumAllowedSizeBytes: number;
  actualSizeBytes: number;
  expectation: string;
}

export interface AdapterFailure {
  timestamp: string;
  vendor: string;
  version: string;
  messages: unknown[];
}

export interface MessagesFailure {
  timestamp: string;
  messages: unknown[];
}

export type LoaderParsingFailure =
  | { type: 'NotTSV' }
  | { type: 'FieldNumberMismatch'; fieldCount: number }
  | {
      type: 'RowDecodingError';
      errors: Array<
        | { type: 'InvalidValue'; key: string; value: string; message: string }
        | { type: 'UnhandledRowDecodingError'; message: string }
      >;
    };

function badRow<F, P>(schema: string, processor: Processor, failure: F, payload: P): BadRow<F, P> {
  return {
    schema,
    data: { processor: { artifact: processor.artifact, version: processor.version }, failure, payload },
  };
}

export function collectorPayloadToBadRowPayload(
  p: CollectorPayload,
  vendor: string,
  version: string,
): CollectorBadRowPayload {
  let querystring: NameValue[] = [];
  if (p.querystring !== undefined && p.querystring !== '') {
    try {
      querystring = parseQueryString(p.querystring, p.encoding).map(([name, value]) => ({ name, value }));
    } catch {
      // An unparseable querystring was already a format violation upstream; the bad row must still build.
      querystring = [];
    }
  }
  return {
    vendor,
    version,
    querystring,
    contentType: p.contentType ?? null,
    body: p.body ?? null,
    collector: p.collector,
    encoding: p.encoding,
    hostname: p.hostname ?? null,
    timestamp: formatIsoInstant(p.timestamp),
    ipAddress: p.ipAddress ?? null,
    useragent: p.userAgent ?? null,
    refererUri: p.refererUri ?? null,
    headers: p.headers ?? [],
    networkUserId: p.networkUserId ?? null,
  };
}

export function rawEventToBadRowPayload(r: RawEvent): RawEventBadRowPayload {
  const parameters: NameValue[] = [];
  for (const [name, value] of r.parameters) parameters.push({ name, value });
  return {
    vendor: r.vendor,
    version: r.version,
    parameters,
    contentType: r.contentType,
    loaderName: r.loaderName,
    encoding: r.encoding,
    hostname: r.hostname,
    timestamp: r.timestamp === null ? null : formatIsoInstant(r.timestamp),
    ipAddress: r.ipAddress,
    useragent: r.useragent,
    refererUri: r.refererUri,
    headers: r.headers,
    userId: r.userId,
  };
}

export interface SizeViolationInput {
  /** ms since epoch */
  timestamp: number;
  maximumAllowedSizeBytes: number;
  actualSizeBytes: number;
  expectation: string;
}

/**
 * `payload` is the first `maximumAllowedSizeBytes / 10` characters of the oversized output (caller truncates).
 * Accepts the failure as one object or, for call sites that have the numbers at hand, positionally.
 */
export function sizeViolation(
  processor: Processor,
  failure: SizeViolationInput,
  payload: string,
): BadRow<SizeViolationFailure, string>;
export function sizeViolation(
  processor: Processor,
  timestamp: number,
  maximumAllowedSizeBytes: number,
  actualSizeBytes: number,
  expectation: string,
  payload: string,
): BadRow<SizeViolationFailure, string>;
export function sizeViolation(
  processor: Processor,
  a: SizeViolationInput | number,
  b: string | number,
  actual?: number,
  expectation?: string,
  payload?: string,
): BadRow<SizeViolationFailure, string> {
  const f: SizeViolationInput =
    typeof a === 'number'
      ? {
          timestamp: a,
          maximumAllowedSizeBytes: b as number,
          actualSizeBytes: actual!,
          expectation: expectation!,
        }
      : a;
  const body = typeof a === 'number' ? payload! : (b as string);
  return badRow(
    BAD_ROW_SCHEMAS.sizeViolation,
    processor,
    {
      timestamp: formatIsoInstant(f.timestamp),
      maximumAllowedSizeBytes: f.maximumAllowedSizeBytes,
      actualSizeBytes: f.actualSizeBytes,
      expectation: f.expectation,
    },
    body,
  );
}

/** `message` is `{error}` or `{payloadField, value, expectation}`; the payload is the raw record in base64. */
export function collectorPayloadFormatViolation(
  processor: Processor,
  timestamp: number,
  message: object,
  rawBytes: Uint8Array,
): BadRow<{ timestamp: string; loader: string; message: object }, string> {
  return badRow(
    BAD_ROW_SCHEMAS.collectorPayloadFormatViolation,
    processor,
    { timestamp: formatIsoInstant(timestamp), loader: 'thrift', message },
    encodeBase64(rawBytes),
  );
}

function collectorFailure(
  schema: string,
  processor: Processor,
  timestamp: number,
  vendor: string,
  version: string,
  messages: readonly unknown[],
  payload: CollectorPayload,
): BadRow<AdapterFailure, CollectorBadRowPayload> {
  return badRow(
    schema,
    processor,
    { timestamp: formatIsoInstant(timestamp), vendor, version, messages: [...messages] },
    collectorPayloadToBadRowPayload(payload, vendor, version),
  );
}

/** Unsupported vendor/version, tp1 and webhook adapter failures. */
export const adapterFailures = (
  processor: Processor,
  timestamp: number,
  vendor: string,
  version: string,
  messages: readonly unknown[],
  payload: CollectorPayload,
) =>
  collectorFailure(BAD_ROW_SCHEMAS.adapterFailures, processor, timestamp, vendor, version, messages, payload);

/** tp2 and redirect payloads that break the tracker protocol. */
export const trackerProtocolViolations = (
  processor: Processor,
  timestamp: number,
  vendor: string,
  version: string,
  messages: readonly unknown[],
  payload: CollectorPayload,
) =>
  collectorFailure(
    BAD_ROW_SCHEMAS.trackerProtocolViolations,
    processor,
    timestamp,
    vendor,
    version,
    messages,
    payload,
  );

function eventFailure(
  schema: string,
  processor: Processor,
  timestamp: number,
  messages: readonly unknown[],
  enriched: Record<string, unknown>,
  raw: RawEvent,
): BadRow<MessagesFailure, PartiallyEnrichedPayload> {
  return badRow(
    schema,
    processor,
    { timestamp: formatIsoInstant(timestamp), messages: [...messages] },
    { enriched, raw: rawEventToBadRowPayload(raw) },
  );
}

/** `enriched`: the 131 atomic fields by name with their current values (null when unset). */
export const schemaViolations = (
  processor: Processor,
  timestamp: number,
  messages: readonly unknown[],
  enriched: Record<string, unknown>,
  raw: RawEvent,
) => eventFailure(BAD_ROW_SCHEMAS.schemaViolations, processor, timestamp, messages, enriched, raw);

/** `messages`: `{enrichment: {schemaKey, identifier} | null, message: {…}}` each. */
export const enrichmentFailures = (
  processor: Processor,
  timestamp: number,
  messages: readonly unknown[],
  enriched: Record<string, unknown>,
  raw: RawEvent,
) => eventFailure(BAD_ROW_SCHEMAS.enrichmentFailures, processor, timestamp, messages, enriched, raw);

/** Loaders: an enriched TSV line the analytics SDK could not parse (the schema has no timestamp here). */
export function loaderParsingError(
  processor: Processor,
  failure: LoaderParsingFailure,
  payload: string,
): BadRow<LoaderParsingFailure, string> {
  return badRow(BAD_ROW_SCHEMAS.loaderParsingError, processor, failure, payload);
}
