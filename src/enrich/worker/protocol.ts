/** Messages between the enrich stage (main thread) and its worker threads. */
import type { RawEvent } from '../../protocol/raw-event.js';
import type { BadTrace } from '../pipeline.js';

export interface WorkerInit {
  /** a standard Iglu resolver configuration */
  resolverConfig: unknown;
  /** folder of Snowplow enrichment configuration files, if any */
  enrichmentsDir?: string;
  /** with no folder: the standard default set, or none */
  defaultEnrichments?: 'standard' | 'none';
  refererDatabase?: string;
  maxJsonDepth?: number;
  acceptInvalid?: boolean;
  maxRecordSize?: number;
  /** also return the raw event behind each output (for the Micro API) */
  trace?: boolean;
}

export interface TaskRequest {
  id: number;
  records: Uint8Array[];
  etlMs: number;
}

export interface TaskResult {
  id: number;
  good: string[];
  bad: string[];
  goodRaw?: RawEvent[];
  badRaw?: BadTrace[];
  error?: string;
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'init-error'; message: string }
  | ({ type: 'result' } & TaskResult);
