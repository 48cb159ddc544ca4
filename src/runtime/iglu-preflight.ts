/**
 * A start-up check that the Iglu registries answer. Without them no tracker POST (its `payload_data`
 * envelope) and no self-describing data can be validated: events are kept (the raw stream holds them) but
 * not enriched until a registry answers, which a new user on an offline machine would otherwise only see
 * as an empty /micro/good. So say it loudly, once, at start.
 */
import { createResolver } from '../iglu/resolver.js';
import type { Logger } from './logger.js';

const PROBE = 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4';

export async function igluPreflight(resolverConfig: unknown, log: Logger): Promise<boolean> {
  const resolver = createResolver(resolverConfig);
  try {
    const r = await resolver.lookupSchema(PROBE);
    if (r.ok) return true;
    log.warn(
      { schema: PROBE, error: r.error },
      'iglu: the registries answered but do not have the tracker protocol schema',
    );
  } catch (e) {
    log.warn({ err: e }, 'iglu: no registry reachable');
  }
  process.stderr.write(
    'furrow: warning: no Iglu registry could resolve the tracker protocol schema (Iglu Central unreachable and\n' +
      '  no local copy). Events are accepted and kept, but wait unenriched until a registry answers. Point\n' +
      '  --schemas at a local Iglu schema folder (<vendor>/<name>/jsonschema/<version>) or --resolver at a\n' +
      '  Snowplow resolver configuration to work offline.\n',
  );
  return false;
}
