/**
 * bot_detection enrichment (spec §4.13): combines the bot signals other steps left on the event into one
 * `bot_detection/jsonschema/1-0-1` entity, always emitted when enabled. Indicators, in this order:
 * - `yauaa`: the YAUAA entity's deviceClass is Robot / Robot Mobile / Robot Imitator or its agentClass is Robot /
 *   Robot Mobile (when the YAUAA enrichment is not configured, the same fields are computed here);
 * - `iab`: the IAB entity says `spiderOrRobot`;
 * - `asnLookups`: the ASN entity carries `likelyBot: true` (set by asn_lookups);
 * - `clientSideDetection`: the tracker sent `client_side_bot_detection/1-0-0` with `bot: true`.
 *
 * @example
 * {"schema":"iglu:com.snowplowanalytics.snowplow.enrichments/bot_detection_enrichment_config/jsonschema/1-0-1",
 *  "data":{"vendor":"com.snowplowanalytics.snowplow.enrichments","name":"bot_detection_enrichment_config",
 *   "enabled":true,"parameters":{"useYauaa":true,"useIab":true,"useAsnLookups":true,"useClientSideDetection":true}}}
 */
import { F } from '../../protocol/enriched-fields.js';
import type { EnrichedEvent, SelfDescribingJson } from '../event.js';
import { IAB_CONTEXT_SCHEMA } from './iab-spiders-and-robots.js';
import { ASN_SCHEMA } from './ip-lookups.js';
import {
  type Enrichment,
  type EnrichmentConfig,
  EnrichmentConfigError,
  type EnrichmentDefinition,
  ORDER,
  prependDerived,
  type StepOutcome,
} from './types.js';
import { YAUAA_CONTEXT_SCHEMA, YauaaAnalyzer } from './yauaa.js';

export const BOT_DETECTION_SCHEMA = 'iglu:com.snowplowanalytics.snowplow/bot_detection/jsonschema/1-0-1';
const CLIENT_SIDE_PREFIX = 'iglu:com.snowplowanalytics.snowplow/client_side_bot_detection/jsonschema/1-';

const BOT_DEVICE_CLASSES = new Set(['Robot', 'Robot Mobile', 'Robot Imitator']);
const BOT_AGENT_CLASSES = new Set(['Robot', 'Robot Mobile']);

type Data = Record<string, unknown> | null | undefined;

/** The data of the first entity with this schema, or undefined. */
function find(entities: readonly SelfDescribingJson[], schema: string): Data {
  for (const e of entities) if (e.schema === schema) return e.data as Data;
  return undefined;
}

function yauaaSaysBot(d: Data): boolean {
  if (d === undefined || d === null) return false;
  return BOT_DEVICE_CLASSES.has(d.deviceClass as string) || BOT_AGENT_CLASSES.has(d.agentClass as string);
}

const PARAMS = ['useYauaa', 'useIab', 'useAsnLookups', 'useClientSideDetection'] as const;

export const botDetectionEnrichment: EnrichmentDefinition = {
  name: 'bot_detection_enrichment_config',
  criterion:
    'iglu:com.snowplowanalytics.snowplow.enrichments/bot_detection_enrichment_config/jsonschema/1-0-*',
  create(config: EnrichmentConfig): Enrichment {
    const p = config.parameters;
    for (const k of Object.keys(p)) {
      if (!(PARAMS as readonly string[]).includes(k))
        throw new EnrichmentConfigError(`parameters.${k}: unknown parameter`);
    }
    const flags = PARAMS.map((k) => {
      const v = p[k] ?? false;
      if (typeof v !== 'boolean') throw new EnrichmentConfigError(`parameters.${k}: expected a boolean`);
      return v;
    });
    const [useYauaa, useIab, useAsn, useClientSide] = flags;
    // The fallback for configurations without the YAUAA enrichment; built at start so the rules (shared with
    // ua_parser) are compiled before the first event.
    const analyzer = useYauaa ? new YauaaAnalyzer() : undefined;
    return {
      order: ORDER.botDetection,
      info: { schemaKey: config.schemaKey, identifier: 'bot-detection' },
      enrich(ev: EnrichedEvent): StepOutcome {
        const indicators: string[] = [];
        if (useYauaa) {
          let y = find(ev.derived, YAUAA_CONTEXT_SCHEMA);
          if (y === undefined) y = analyzer!.analyze(ev.fields[F.useragent]);
          if (yauaaSaysBot(y)) indicators.push('yauaa');
        }
        if (useIab && find(ev.derived, IAB_CONTEXT_SCHEMA)?.spiderOrRobot === true) indicators.push('iab');
        if (useAsn && find(ev.derived, ASN_SCHEMA)?.likelyBot === true) indicators.push('asnLookups');
        if (useClientSide) {
          for (const c of ev.contexts) {
            if (c.schema.startsWith(CLIENT_SIDE_PREFIX) && (c.data as Data)?.bot === true) {
              indicators.push('clientSideDetection');
              break;
            }
          }
        }
        const ctx: SelfDescribingJson = {
          schema: BOT_DETECTION_SCHEMA,
          data: { bot: indicators.length > 0, indicators },
        };
        prependDerived(ev, [ctx]);
        return undefined;
      },
    };
  },
};
