import { F } from '../../protocol/enriched-fields.js';
import { parseQueryString } from '../../protocol/querystring.js';
import { type Enrichment, ORDER, type StepOutcome } from '../enrichments/types.js';
import type { EnrichedEvent } from '../event.js';

/** Decodes the page URL's query once for the steps that read it (campaigns, `_sp`). */
export const pageQuery: Enrichment = {
  order: ORDER.pageQuery,
  info: null,
  enrich(ev: EnrichedEvent): StepOutcome {
    const q = ev.fields[F.page_urlquery];
    if (q === null) return undefined;
    try {
      ev.pageQuery = parseQueryString(q, ev.raw.encoding);
    } catch (e) {
      return [
        {
          enrichment: null,
          message: {
            field: 'page_urlquery',
            value: q,
            expectation: e instanceof Error ? e.message : String(e),
          },
        },
      ];
    }
    return undefined;
  },
};
