/**
 * Record size limits (spec collector §2.7): a record must be smaller than the sink's `maxBytes`; a POST
 * between that and `maxPayloadSize` is split into several records, each holding part of the `data` array
 * under the same schema; anything larger, or that cannot be split, becomes a `size_violation` bad row.
 */
import { sizeViolation } from '../protocol/bad-rows.js';
import { type CollectorPayload, encodeCollectorPayload } from '../protocol/collector-payload.js';
import type { CollectorConfig } from './config.js';

export interface SizedPayload {
  records: Uint8Array[];
  payloads: CollectorPayload[];
  /** bad rows (JSON) for what could not be stored as records */
  bad: string[];
}

function violation(
  p: CollectorPayload,
  max: number,
  actual: number,
  reason: string,
  processor: { artifact: string; version: string },
  timestamp: number,
): string {
  const dump = JSON.stringify(p).slice(0, Math.floor(max / 10));
  return JSON.stringify(
    sizeViolation(processor, timestamp, max, actual, `oversized collector payload: ${reason}`, dump),
  );
}

export function sizeCheck(
  p: CollectorPayload,
  bytes: Uint8Array,
  limits: CollectorConfig['networking'],
  processor: { artifact: string; version: string },
  timestamp: number,
): SizedPayload {
  const n = bytes.length;
  if (n < limits.maxBytes) return { records: [bytes], payloads: [p], bad: [] };
  if (n > limits.maxPayloadSize) {
    return {
      records: [],
      payloads: [],
      bad: [violation(p, limits.maxPayloadSize, n, 'too large', processor, timestamp)],
    };
  }
  if (p.body === undefined) {
    return {
      records: [],
      payloads: [],
      bad: [violation(p, limits.maxBytes, n, 'GET requests cannot be split', processor, timestamp)],
    };
  }
  let parsed: { schema?: unknown; data?: unknown };
  try {
    parsed = JSON.parse(p.body);
  } catch {
    parsed = {};
  }
  if (typeof parsed?.schema !== 'string' || !Array.isArray(parsed.data)) {
    return {
      records: [],
      payloads: [],
      bad: [
        violation(
          p,
          limits.maxBytes,
          n,
          'cannot split POST requests which are not self-describing arrays',
          processor,
          timestamp,
        ),
      ],
    };
  }
  const prefix = `{"schema":${JSON.stringify(parsed.schema)},"data":[`;
  const overhead = encodeCollectorPayload({ ...p, body: `${prefix}]}` }).length;
  if (overhead >= limits.maxBytes) {
    return {
      records: [],
      payloads: [],
      bad: [violation(p, limits.maxBytes, n, 'metadata alone is too large', processor, timestamp)],
    };
  }
  const out: SizedPayload = { records: [], payloads: [], bad: [] };
  let batch: string[] = [];
  let batchBytes = overhead;
  const flush = () => {
    if (batch.length === 0) return;
    const part = { ...p, body: `${prefix}${batch.join(',')}]}` };
    out.payloads.push(part);
    out.records.push(encodeCollectorPayload(part));
    batch = [];
    batchBytes = overhead;
  };
  for (const e of parsed.data) {
    const json = JSON.stringify(e);
    const size = Buffer.byteLength(json) + 1;
    if (overhead + size >= limits.maxBytes) {
      out.bad.push(
        violation(
          { ...p, body: json },
          limits.maxBytes,
          overhead + size,
          'this POST request split is still too large',
          processor,
          timestamp,
        ),
      );
      continue;
    }
    if (batchBytes + size >= limits.maxBytes) flush();
    batch.push(json);
    batchBytes += size;
  }
  flush();
  return out;
}
