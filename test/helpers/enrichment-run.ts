/**
 * Runs configured enrichments through the whole pipeline (real Iglu Central schemas) and hands back the
 * enriched TSV split by field name, the derived entities and the bad rows.
 */
import assert from 'node:assert/strict';
import type { Enrichment, EnrichmentConfig } from '../../src/enrich/enrichments/types.js';
import { COLLECTOR_PAYLOAD_SCHEMA, type CollectorPayload } from '../../src/protocol/collector-payload.js';
import { FIELD_NAMES } from '../../src/protocol/enriched-fields.js';
import { enrichAll, sharedEnricher } from './enricher.js';

export const COLLECTOR_MS = Date.UTC(2025, 0, 15, 12, 0, 0);

/** A GET `/i` page view from `ip` with user agent `ua`; `params` are extra tracker parameters. */
export function pageView(
  ua: string | undefined,
  ip = '10.0.0.1',
  params: Record<string, string> = {},
  extra: Partial<CollectorPayload> = {},
): CollectorPayload {
  return {
    schema: COLLECTOR_PAYLOAD_SCHEMA,
    ipAddress: ip,
    timestamp: COLLECTOR_MS,
    encoding: 'UTF-8',
    collector: 'ssc-3.4.0-kafka',
    path: '/i',
    querystring: new URLSearchParams({ e: 'pv', p: 'web', tv: 'js-4.6.8', ...params }).toString(),
    headers: [],
    ...(ua === undefined ? {} : { userAgent: ua }),
    ...extra,
  };
}

export interface RunResult {
  events: Array<Record<string, string>>;
  /** each good event's derived entities (`derived_contexts` data), in order */
  derived: Array<Array<{ schema: string; data: Record<string, unknown> }>>;
  bad: Array<{ schema: string; data: Record<string, any> }>;
}

export async function runEnrichments(
  shared: string,
  enrichments: Enrichment[],
  payloads: CollectorPayload[],
): Promise<RunResult> {
  const { good, bad } = await enrichAll(sharedEnricher(shared, { enrichments }), payloads);
  const events = good.map((line) => {
    const values = line.split('\t');
    assert.equal(values.length, 131);
    return Object.fromEntries(FIELD_NAMES.map((n, i) => [n, values[i]])) as Record<string, string>;
  });
  const derived = events.map((e) => (e.derived_contexts === '' ? [] : JSON.parse(e.derived_contexts).data));
  return { events, derived, bad };
}

/** An enrichment configuration as `parseEnrichmentConfig` produces it. */
export function enrichmentConfig(
  vendor: string,
  name: string,
  version: string,
  parameters: Record<string, unknown>,
): EnrichmentConfig {
  return {
    schemaKey: `iglu:${vendor}/${name}/jsonschema/${version}`,
    vendor,
    name,
    enabled: true,
    parameters,
  };
}

/** The same configuration as Snowplow's JSON file format. */
export function enrichmentFile(c: EnrichmentConfig): unknown {
  return {
    schema: c.schemaKey,
    data: { vendor: c.vendor, name: c.name, enabled: c.enabled, parameters: c.parameters },
  };
}
