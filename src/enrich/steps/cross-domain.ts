import { decodeBase64Lenient } from '../../protocol/base64.js';
import { F } from '../../protocol/enriched-fields.js';
import { formatTimestamp, parseMsTimestamp } from '../../protocol/java-format.js';
import { sanitize } from '../../protocol/sanitize.js';
import { type Enrichment, ORDER, type StepOutcome } from '../enrichments/types.js';
import type { EnrichedEvent } from '../event.js';

/** The parts of a cross-domain `_sp` parameter (spec §4.14); empty parts are null. */
export interface CrossNavigation {
  domainUserId: string | null;
  timestampMs: number | null;
  sessionId: string | null;
  userId: string | null;
  sourceId: string | null;
  sourcePlatform: string | null;
  reason: string | null;
}

const crossNavigationOf = new WeakMap<EnrichedEvent, CrossNavigation>();

/** What the `_sp` step parsed, for the optional cross_navigation enrichment that adds the entity. */
export function crossNavigationOfEvent(ev: EnrichedEvent): CrossNavigation | undefined {
  return crossNavigationOf.get(ev);
}

function part(parts: string[], i: number): string | null {
  const v = parts[i];
  return v === undefined || v === '' ? null : v;
}

function b64(parts: string[], i: number): string | null {
  const v = part(parts, i);
  return v === null ? null : decodeBase64Lenient(v);
}

/**
 * Always sets `refr_domain_userid` / `refr_dvce_tstamp` from the page URL's `_sp` parameter, whether
 * or not the cross_navigation enrichment is enabled (Snowplow does the same).
 */
export const crossDomain: Enrichment = {
  order: ORDER.crossNavigation - 0.1,
  info: null,
  enrich(ev: EnrichedEvent): StepOutcome {
    const q = ev.pageQuery;
    if (q === null) return undefined;
    let sp: string | null | undefined;
    for (let i = q.length - 1; i >= 0; i--) {
      if (q[i][0] === '_sp') {
        sp = q[i][1];
        break;
      }
    }
    if (sp === undefined || sp === null || sp === '') return undefined;
    const parts = sp.split('.');
    if (parts.length > 7) return undefined;
    const duid = part(parts, 0);
    const tsText = part(parts, 1);
    let timestampMs: number | null = null;
    if (tsText !== null) {
      const r = parseMsTimestamp(tsText);
      if (!r.ok) {
        return [
          {
            enrichment: null,
            message: { field: 'sp_dtm', value: tsText, expectation: r.message },
          },
        ];
      }
      timestampMs = r.ms;
    }
    ev.fields[F.refr_domain_userid] = duid === null ? null : sanitize(duid);
    ev.fields[F.refr_dvce_tstamp] = timestampMs === null ? null : formatTimestamp(timestampMs);
    crossNavigationOf.set(ev, {
      domainUserId: duid,
      timestampMs,
      sessionId: part(parts, 2),
      userId: b64(parts, 3),
      sourceId: b64(parts, 4),
      sourcePlatform: part(parts, 5),
      reason: b64(parts, 6),
    });
    return undefined;
  },
};
