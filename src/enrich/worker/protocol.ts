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

/**
 * A task's records packed into one buffer of their own (`ends[i]` is where record i ends), transferred
 * rather than cloned: records are often views on a larger buffer (a collector slab, a stream read chunk),
 * and a structured clone copies a view's whole underlying ArrayBuffer.
 */
export interface TaskRequest {
  id: number;
  data: Uint8Array;
  ends: number[];
  etlMs: number;
}

/** Packs records for a TaskRequest; the result owns its ArrayBuffer, so it can be transferred. */
export function packRecords(records: readonly Uint8Array[]): { data: Uint8Array; ends: number[] } {
  let total = 0;
  for (const r of records) total += r.byteLength;
  const data = new Uint8Array(total);
  const ends = new Array<number>(records.length);
  let off = 0;
  for (let i = 0; i < records.length; i++) {
    data.set(records[i], off);
    off += records[i].byteLength;
    ends[i] = off;
  }
  return { data, ends };
}

/** The records of a TaskRequest, as views on its buffer. */
export function unpackRecords(task: Pick<TaskRequest, 'data' | 'ends'>): Uint8Array[] {
  const out = new Array<Uint8Array>(task.ends.length);
  let start = 0;
  for (let i = 0; i < task.ends.length; i++) {
    out[i] = task.data.subarray(start, task.ends[i]);
    start = task.ends[i];
  }
  return out;
}

export interface TaskResult {
  id: number;
  good: string[];
  bad: string[];
  /**
   * with `trace`: per good line two numbers, the index of its record in the task and of its raw event in
   * that record's adapter output, so the main thread (which holds the records) can rebuild the raw event
   * only when the Micro API is queried. Serializing every raw event here cost the workers ~50-70 µs per
   * event and the main thread 10-20 more to receive, for answers nobody may ask for. An event index of
   * -1 means the raw event could not be rebuilt from the record (an adapter other than the tracker
   * protocol) and is the next string of `goodRawJson`, as `JSON.stringify(rawEventToJson(raw))`.
   */
  goodRefs?: number[];
  goodRawJson?: string[];
  /**
   * with `trace`: per bad row two numbers as in `goodRefs`; an event index of -1 means a failure of the
   * whole record (no raw event: format violation or adapter failure), -2 that the trace is the next entry
   * of `badRaw`
   */
  badRefs?: number[];
  badRaw?: BadTrace[];
  error?: string;
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'init-error'; message: string }
  | ({ type: 'result' } & TaskResult);
