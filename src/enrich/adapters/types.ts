/**
 * The shape every adapter shares: one collector payload in, raw events or failure messages out.
 * Adding an adapter = one file exporting an `Adapter` + one line in `registry.ts`.
 */
import type { IgluClientError, Resolver } from '../../iglu/types.js';
import type { CollectorPayload } from '../../protocol/collector-payload.js';
import type { RawEvent } from '../../protocol/raw-event.js';

export interface AdapterContext {
  resolver: Resolver;
  /** `validation.maxJsonDepth` (Enrich 6 default 50) */
  maxJsonDepth: number;
}

/** Snowplow's `InputData`: a field that did not meet the adapter's expectation. */
export interface InputDataMessage {
  field: string;
  value: string | null;
  expectation: string;
}

/** Snowplow's `NotJson`. */
export interface NotJsonMessage {
  field: string;
  value: string | null;
  error: string;
}

export type NotIgluError =
  | 'INVALID_SCHEMAVER'
  | 'INVALID_IGLUURI'
  | 'INVALID_DATA_PAYLOAD'
  | 'INVALID_SCHEMA';

/** Snowplow's `NotIglu`: JSON that is not self-describing. */
export interface NotIgluMessage {
  json: unknown;
  error: NotIgluError;
}

/** Snowplow's `CriterionMismatch`. */
export interface CriterionMismatchMessage {
  schemaKey: string;
  schemaCriterion: string;
}

/** Snowplow's `IgluError`: resolution or validation failure of `schemaKey`. */
export interface IgluErrorMessage {
  schemaKey: string;
  error: IgluClientError;
}

/** Snowplow's `SchemaMapping` (webhooks whose event type has no schema). */
export interface SchemaMappingMessage {
  actual: string | null;
  expectedMapping: Record<string, string>;
  expectation: string;
}

export type AdapterMessage =
  | InputDataMessage
  | NotJsonMessage
  | NotIgluMessage
  | CriterionMismatchMessage
  | IgluErrorMessage
  | SchemaMappingMessage;

export type AdapterFailureType = 'adapter_failures' | 'tracker_protocol_violations';

export type AdapterResult =
  | { ok: true; events: RawEvent[] }
  | { ok: false; type: AdapterFailureType; messages: AdapterMessage[] };

export interface Adapter {
  vendor: string;
  version: string;
  /** synchronous unless it has to wait for Iglu (a schema not yet cached) */
  toRawEvents(p: CollectorPayload, ctx: AdapterContext): AdapterResult | Promise<AdapterResult>;
}
