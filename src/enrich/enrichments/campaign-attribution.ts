/**
 * campaign_attribution enrichment (spec §4.7): `mkt_medium/source/term/content/campaign` from the page URL's
 * query, each the value of the first configured parameter that is present (configuration order, not URL
 * order), and `mkt_clickid` / `mkt_network` from the first click-id parameter present.
 *
 * @example
 * {"schema":"iglu:com.snowplowanalytics.snowplow/campaign_attribution/jsonschema/1-0-1",
 *  "data":{"vendor":"com.snowplowanalytics.snowplow","name":"campaign_attribution","enabled":true,
 *          "parameters":{"mapping":"static","fields":{"mktMedium":["utm_medium"],"mktSource":["utm_source"],
 *            "mktTerm":["utm_term"],"mktContent":["utm_content"],"mktCampaign":["utm_campaign"],
 *            "mktClickId":{"fbclid":"Facebook"}}}}}
 */
import { F } from '../../protocol/enriched-fields.js';
import { sanitize } from '../../protocol/sanitize.js';
import type { EnrichedEvent } from '../event.js';
import {
  type Enrichment,
  type EnrichmentConfig,
  EnrichmentConfigError,
  type EnrichmentDefinition,
  ORDER,
  type StepOutcome,
} from './types.js';

/** Snowplow's built-in click-id parameters; configured `mktClickId` entries override and extend them. */
export const DEFAULT_CLICK_IDS: ReadonlyArray<readonly [string, string]> = [
  ['gclid', 'Google'],
  ['msclkid', 'Microsoft'],
  ['dclid', 'DoubleClick'],
];

const LIST_FIELDS = [
  ['mktMedium', F.mkt_medium],
  ['mktSource', F.mkt_source],
  ['mktTerm', F.mkt_term],
  ['mktContent', F.mkt_content],
  ['mktCampaign', F.mkt_campaign],
] as const;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function firstPresent(names: readonly string[], query: ReadonlyMap<string, string>): string | undefined {
  for (const n of names) {
    const v = query.get(n);
    if (v !== undefined) return v;
  }
  return undefined;
}

export const campaignAttributionEnrichment: EnrichmentDefinition = {
  name: 'campaign_attribution',
  criterion: 'iglu:com.snowplowanalytics.snowplow/campaign_attribution/jsonschema/1-*-*',
  create(config: EnrichmentConfig): Enrichment {
    const fields = config.parameters.fields;
    if (!isObject(fields)) throw new EnrichmentConfigError('parameters.fields: expected an object');
    const lists = LIST_FIELDS.map(([key, index]) => {
      const v = fields[key];
      if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
        throw new EnrichmentConfigError(`parameters.fields.${key}: expected an array of parameter names`);
      }
      return [index, v as string[]] as const;
    });
    // A Map keeps the defaults' positions when a configured entry overrides one, as Scala's small maps do.
    const clickIds = new Map<string, string>(DEFAULT_CLICK_IDS);
    const custom = fields.mktClickId;
    if (custom !== undefined) {
      if (!isObject(custom)) {
        throw new EnrichmentConfigError(
          'parameters.fields.mktClickId: expected an object {parameter: network}',
        );
      }
      for (const [param, network] of Object.entries(custom)) {
        if (typeof network !== 'string') {
          throw new EnrichmentConfigError(`parameters.fields.mktClickId.${param}: expected a network name`);
        }
        clickIds.set(param, network);
      }
    }
    const clickIdList = [...clickIds];
    return {
      order: ORDER.campaignAttribution,
      info: { schemaKey: config.schemaKey, identifier: 'campaign-attribution' },
      enrich(ev: EnrichedEvent): StepOutcome {
        const pairs = ev.pageQuery;
        if (pairs === null) return undefined;
        // Last occurrence wins; a parameter without `=` counts as present with an empty value.
        const query = new Map<string, string>();
        for (const [k, v] of pairs) query.set(k, v ?? '');
        const f = ev.fields;
        for (const [index, names] of lists) {
          const v = firstPresent(names, query);
          f[index] = v === undefined ? null : sanitize(v);
        }
        f[F.mkt_clickid] = null;
        f[F.mkt_network] = null;
        for (const [param, network] of clickIdList) {
          const v = query.get(param);
          if (v !== undefined) {
            f[F.mkt_clickid] = sanitize(v);
            f[F.mkt_network] = sanitize(network);
            break;
          }
        }
        return undefined;
      },
    };
  },
};
