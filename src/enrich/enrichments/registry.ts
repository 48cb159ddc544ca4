import { anonIpEnrichment } from './anon-ip.js';
import { apiRequestEnrichment } from './api-request.js';
import { botDetectionEnrichment } from './bot-detection.js';
import { campaignAttributionEnrichment } from './campaign-attribution.js';
import { cookieExtractorEnrichment } from './cookie-extractor.js';
import { crossNavigationEnrichment } from './cross-navigation.js';
import { currencyConversionEnrichment } from './currency-conversion.js';
import { eventFingerprintEnrichment } from './event-fingerprint.js';
import { httpHeaderExtractorEnrichment } from './http-header-extractor.js';
import { iabSpidersAndRobotsEnrichment } from './iab-spiders-and-robots.js';
import { ipLookupsEnrichment } from './ip-lookups.js';
import { javascriptEnrichment } from './javascript.js';
import { piiPseudonymizationEnrichment } from './pii-pseudonymization.js';
import { refererParserEnrichment } from './referer-parser.js';
import { sqlQueryEnrichment } from './sql-query.js';
import type { EnrichmentDefinition } from './types.js';
import { uaParserEnrichment } from './ua-parser.js';
import { yauaaEnrichment } from './yauaa.js';

/**
 * Every enrichment Furrow knows, by configuration schema name. Adding one is a file beside this one
 * (same shape: parse config → prepare once → enrich one event) plus one line here.
 */
const definitions: EnrichmentDefinition[] = [
  // -- device, network and bots --
  anonIpEnrichment,
  ipLookupsEnrichment,
  uaParserEnrichment,
  yauaaEnrichment,
  iabSpidersAndRobotsEnrichment,
  botDetectionEnrichment,
  // -- page, marketing and identity --
  refererParserEnrichment,
  campaignAttributionEnrichment,
  eventFingerprintEnrichment,
  cookieExtractorEnrichment,
  httpHeaderExtractorEnrichment,
  crossNavigationEnrichment,
  piiPseudonymizationEnrichment,
  currencyConversionEnrichment,
  // -- lookups and scripts --
  javascriptEnrichment,
  sqlQueryEnrichment,
  apiRequestEnrichment,
];

export const ENRICHMENTS: ReadonlyMap<string, EnrichmentDefinition> = new Map(
  definitions.map((d) => [d.name, d]),
);
