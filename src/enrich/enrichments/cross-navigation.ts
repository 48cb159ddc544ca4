/**
 * cross_navigation enrichment (spec §4.14): adds `cross_navigation/1-0-0` for a page URL carrying the `_sp`
 * parameter the JavaScript tracker's cross-domain linker appends. Parsing `_sp` and setting
 * `refr_domain_userid` / `refr_dvce_tstamp` is the built-in cross-domain step's job (it runs even when this
 * enrichment is off); this only turns what that step parsed into the entity.
 *
 * @example
 * {"schema":"iglu:com.snowplowanalytics.snowplow.enrichments/cross_navigation_config/jsonschema/1-0-0",
 *  "data":{"vendor":"com.snowplowanalytics.snowplow.enrichments","name":"cross_navigation_config","enabled":true}}
 */
import { formatIsoMillis } from '../../protocol/java-format.js';
import { sanitize } from '../../protocol/sanitize.js';
import type { EnrichedEvent } from '../event.js';
import { crossNavigationOfEvent } from '../steps/cross-domain.js';
import {
  type Enrichment,
  type EnrichmentConfig,
  type EnrichmentDefinition,
  ORDER,
  prependDerived,
  type StepOutcome,
} from './types.js';

export const CROSS_NAVIGATION_SCHEMA =
  'iglu:com.snowplowanalytics.snowplow/cross_navigation/jsonschema/1-0-0';

/**
 * Snowplow re-formats the timestamp with `DateTimeFormatter.ISO_DATE_TIME`, whose fraction has no trailing
 * zeros (`…03.762Z`, `…03.7Z`, `…03Z`); `formatIsoMillis` gives the three-digit form we trim.
 */
export function crossNavigationTimestamp(ms: number): string {
  const iso = formatIsoMillis(ms);
  if (!iso.endsWith('0Z')) return iso;
  return iso.replace(/\.?0+Z$/, 'Z');
}

/** Empty or blank parts are null, as Snowplow filters them. */
function nonBlank(v: string | null): string | null {
  return v === null || v.trim() === '' ? null : v;
}

export const crossNavigationEnrichment: EnrichmentDefinition = {
  name: 'cross_navigation_config',
  criterion: 'iglu:com.snowplowanalytics.snowplow.enrichments/cross_navigation_config/jsonschema/1-*-*',
  create(config: EnrichmentConfig): Enrichment {
    return {
      order: ORDER.crossNavigation,
      info: { schemaKey: config.schemaKey, identifier: 'cross-navigation' },
      enrich(ev: EnrichedEvent): StepOutcome {
        const cn = crossNavigationOfEvent(ev);
        if (cn === undefined || cn.timestampMs === null || cn.domainUserId === null) return undefined;
        const domainUserId = sanitize(cn.domainUserId);
        if (domainUserId === null) return undefined;
        prependDerived(ev, [
          {
            schema: CROSS_NAVIGATION_SCHEMA,
            data: {
              domain_user_id: domainUserId,
              timestamp: crossNavigationTimestamp(cn.timestampMs),
              session_id: nonBlank(cn.sessionId),
              user_id: nonBlank(cn.userId),
              source_id: nonBlank(cn.sourceId),
              source_platform: nonBlank(cn.sourcePlatform),
              reason: nonBlank(cn.reason),
            },
          },
        ]);
        return undefined;
      },
    };
  },
};
