/** Messages between the enrich stage (main thread) and its worker threads. */
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
  /**
   * with `trace`: per good line, its raw event as Micro's JSON text (`JSON.stringify(rawEventToJson(raw))`);
   * serialized in the worker because a structured clone of every event's parameter Map cost the worker
   * about as much as enriching it, and the main thread as much again to rebuild
   */
  goodRawJson?: string[];
  badRaw?: BadTrace[];
  error?: string;
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'init-error'; message: string }
  | ({ type: 'result' } & TaskResult);
