import { F } from '../../protocol/enriched-fields.js';
import { parseUri } from '../../protocol/uri.js';
import { type Enrichment, ORDER, type StepOutcome } from '../enrichments/types.js';
import type { EnrichedEvent } from '../event.js';

/** `refr_url*` components from `page_referrer` (the tracker's `refr`); always runs. */
export const refererUri: Enrichment = {
  order: ORDER.refererUri,
  info: null,
  enrich(ev: EnrichedEvent): StepOutcome {
    const source = ev.fields[F.page_referrer];
    if (source === null) return undefined;
    const r = parseUri(source);
    if (!r.ok) {
      return [{ enrichment: null, message: { field: 'page_referrer', value: source, expectation: r.error } }];
    }
    const u = r.value;
    const f = ev.fields;
    f[F.refr_urlscheme] = u.scheme;
    f[F.refr_urlhost] = u.host;
    f[F.refr_urlport] = u.port === null ? null : String(u.port);
    f[F.refr_urlpath] = u.path;
    f[F.refr_urlquery] = u.query;
    f[F.refr_urlfragment] = u.fragment;
    return undefined;
  },
};
