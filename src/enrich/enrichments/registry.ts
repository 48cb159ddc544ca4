import type { EnrichmentDefinition } from './types.js';

/**
 * Every enrichment Furrow knows, by configuration schema name. Adding one is a file beside this one
 * (same shape: parse config → prepare once → enrich one event) plus one line here.
 */
export const ENRICHMENTS: ReadonlyMap<string, EnrichmentDefinition> = new Map<string, EnrichmentDefinition>(
  [],
);
