import { F } from '../../protocol/enriched-fields.js';
import { formatTimestamp } from '../../protocol/java-format.js';
import { type Enrichment, ORDER } from '../enrichments/types.js';
import type { EnrichedEvent } from '../event.js';

/**
 * `derived_tstamp`: the true timestamp when given; otherwise the collector time corrected for the
 * device clock's skew (created → sent is assumed to be the time spent on the device, network delay
 * negligible); otherwise the collector time.
 */
export function deriveTimestamp(collector: number, created: number, sent: number, trueMs: number): number {
  if (!Number.isNaN(trueMs)) return trueMs;
  if (!Number.isNaN(collector) && !Number.isNaN(created) && !Number.isNaN(sent) && created < sent) {
    return collector - (sent - created);
  }
  return collector;
}

export const derivedTimestamp: Enrichment = {
  order: ORDER.derivedTstamp,
  info: null,
  enrich(ev: EnrichedEvent) {
    const ms = deriveTimestamp(ev.collectorMs, ev.dvceCreatedMs, ev.dvceSentMs, ev.trueMs);
    if (!Number.isNaN(ms)) ev.fields[F.derived_tstamp] = formatTimestamp(ms);
    return undefined;
  },
};
