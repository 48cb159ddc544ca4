/**
 * Helpers shared by adapters: building `RawEvent`s from a payload, reading its querystring, recognising
 * self-describing JSON. Pure and cheap; nothing here is compiled per call.
 */
import type { CollectorPayload } from '../../protocol/collector-payload.js';
import { parseQueryString, QueryStringError, toParameterMap } from '../../protocol/querystring.js';
import type { RawEvent } from '../../protocol/raw-event.js';
import type {
  AdapterFailureType,
  AdapterMessage,
  AdapterResult,
  InputDataMessage,
  NotIgluError,
} from './types.js';

export const UNSTRUCT_EVENT_SCHEMA = 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0';
export const CONTEXTS_SCHEMA = 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1';

export type Params = Map<string, string | null>;

export function inputData(field: string, value: string | null, expectation: string): InputDataMessage {
  return { field, value, expectation };
}

export function failure(type: AdapterFailureType, ...messages: AdapterMessage[]): AdapterResult {
  return { ok: false, type, messages };
}

export function success(events: RawEvent[]): AdapterResult {
  return { ok: true, events };
}

/**
 * The payload's querystring as a last-wins map. The Thrift loader rejects unparseable querystrings before
 * routing; should one reach an adapter anyway it becomes that adapter's failure instead of a crash.
 */
export function queryParams(p: CollectorPayload, type: AdapterFailureType): Params | AdapterResult {
  if (p.querystring === undefined || p.querystring === '') return new Map();
  try {
    return toParameterMap(parseQueryString(p.querystring, p.encoding));
  } catch (e) {
    if (!(e instanceof QueryStringError)) throw e;
    return failure(type, inputData('querystring', p.querystring, e.message));
  }
}

export function toRawEvent(
  p: CollectorPayload,
  vendor: string,
  version: string,
  parameters: Params,
): RawEvent {
  return {
    vendor,
    version,
    parameters,
    contentType: p.contentType ?? null,
    loaderName: p.collector,
    encoding: p.encoding,
    hostname: p.hostname ?? null,
    timestamp: p.timestamp,
    ipAddress: p.ipAddress ?? null,
    useragent: p.userAgent ?? null,
    refererUri: p.refererUri ?? null,
    headers: p.headers ?? [],
    userId: p.networkUserId ?? null,
  };
}

/** Same as iglu-core's `SchemaKey.fromUri`: a loose shape check first, then a strict SchemaVer. */
const SCHEMA_URI = /^iglu:([a-zA-Z0-9-_.]+)\/([a-zA-Z0-9-_]+)\/([a-zA-Z0-9-_]+)\/([0-9]*(?:-(?:[0-9]*)){2})$/;
const SCHEMA_VER = /^([1-9][0-9]*)-(0|[1-9][0-9]*)-(0|[1-9][0-9]*)$/;

export interface SchemaKeyParts {
  vendor: string;
  name: string;
  format: string;
  model: number;
  revision: number;
  addition: number;
}

export function parseSchemaUri(
  uri: string,
): { ok: true; key: SchemaKeyParts } | { ok: false; error: NotIgluError } {
  const m = SCHEMA_URI.exec(uri);
  if (m === null) return { ok: false, error: 'INVALID_IGLUURI' };
  const v = SCHEMA_VER.exec(m[4]);
  if (v === null) return { ok: false, error: 'INVALID_SCHEMAVER' };
  return {
    ok: true,
    key: { vendor: m[1], name: m[2], format: m[3], model: +v[1], revision: +v[2], addition: +v[3] },
  };
}

export type SelfDescribing =
  | { ok: true; schema: string; key: SchemaKeyParts; data: unknown }
  | { ok: false; error: NotIgluError };

/** iglu-core's `SelfDescribingData.parse`: a string `schema` that is a valid key, and a `data` member. */
export function parseSelfDescribing(json: unknown): SelfDescribing {
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    return { ok: false, error: 'INVALID_DATA_PAYLOAD' };
  const o = json as Record<string, unknown>;
  const schema = o.schema;
  if (typeof schema !== 'string') return { ok: false, error: 'INVALID_DATA_PAYLOAD' };
  const parsed = parseSchemaUri(schema);
  if (!parsed.ok) return parsed;
  if (!('data' in o)) return { ok: false, error: 'INVALID_DATA_PAYLOAD' };
  return { ok: true, schema, key: parsed.key, data: o.data };
}
