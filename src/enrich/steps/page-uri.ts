import { F } from '../../protocol/enriched-fields.js';
import { parseUri } from '../../protocol/uri.js';
import { type Enrichment, ORDER, type StepOutcome } from '../enrichments/types.js';
import type { EnrichedEvent } from '../event.js';

/**
 * Page URL from the tracker's `url`, else the collector's `Referer` header; re-serialised (spaces
 * become `%20`) and split into its raw components. No URL at all is not an error.
 */
export const pageUri: Enrichment = {
  order: ORDER.pageUri,
  info: null,
  enrich(ev: EnrichedEvent): StepOutcome {
    const source = ev.fields[F.page_url] ?? ev.raw.refererUri;
    if (source === null || source === '') return undefined;
    const r = parseUri(source);
    if (!r.ok) {
      ev.fields[F.page_url] = null;
      return [{ enrichment: null, message: { field: 'page_url', value: source, expectation: r.error } }];
    }
    const u = r.value;
    const f = ev.fields;
    f[F.page_url] = u.uri;
    f[F.page_urlscheme] = u.scheme;
    f[F.page_urlhost] = u.host;
    f[F.page_urlport] = u.port === null ? null : String(u.port);
    f[F.page_urlpath] = u.path;
    f[F.page_urlquery] = u.query;
    f[F.page_urlfragment] = u.fragment;
    return undefined;
  },
};
