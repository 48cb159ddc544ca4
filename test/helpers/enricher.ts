/** Builds an `Enricher` over the Iglu Central mirror in `../shared`, read in place as a directory registry. */
import { join } from 'node:path';
import { Enricher, type EnricherOptions, type EnrichOutput } from '../../src/enrich/pipeline.js';
import { createResolver } from '../../src/iglu/resolver.js';
import type { Resolver } from '../../src/iglu/types.js';
import type { CollectorPayload } from '../../src/protocol/collector-payload.js';

/** A resolver config reading the Iglu Central mirror in place (for worker threads, which build their own). */
export function sharedResolverConfig(shared: string) {
  return {
    schema: 'iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-3',
    data: {
      cacheSize: 1000,
      cacheTtl: 600,
      repositories: [
        {
          name: 'Iglu Central mirror',
          priority: 0,
          vendorPrefixes: [],
          connection: { embedded: { path: join(shared, 'iglu-central') } },
        },
      ],
    },
  };
}

export function sharedResolver(shared: string): Resolver {
  return createResolver(sharedResolverConfig(shared));
}

export function sharedEnricher(shared: string, opts: Partial<EnricherOptions> = {}): Enricher {
  return new Enricher({ resolver: sharedResolver(shared), ...opts });
}

/** Enriches payloads and returns everything written, bad rows parsed. */
export async function enrichAll(
  enricher: Enricher,
  payloads: readonly CollectorPayload[],
  etlMs = Date.UTC(2025, 0, 1),
): Promise<{ good: string[]; bad: Array<{ schema: string; data: Record<string, any> }> }> {
  const out: EnrichOutput = { good: [], bad: [] };
  for (const p of payloads) await enricher.processPayload(p, out, etlMs);
  return { good: out.good, bad: out.bad.map((b) => JSON.parse(b)) };
}
