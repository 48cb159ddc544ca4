import { F } from '../../protocol/enriched-fields.js';
import { type Enrichment, ORDER, type StepOutcome } from '../enrichments/types.js';
import type { EnrichedEvent } from '../event.js';

/** `v_collector` is required downstream; an event without it fails enrichment. */
export const collectorVersionCheck: Enrichment = {
  order: ORDER.vCollectorCheck,
  info: null,
  enrich(ev: EnrichedEvent): StepOutcome {
    if (ev.fields[F.v_collector] !== null) return undefined;
    return [
      { enrichment: null, message: { field: 'v_collector', value: null, expectation: 'should be set' } },
    ];
  },
};
