/**
 * Where the Micro store of `furrow up` rebuilds raw events from: the raw-stream record through the same
 * loader and adapters that enrich ran on it, so the answer is what the worker saw.
 */
import { routeCollectorPayload } from '../enrich/adapters/registry.js';
import type { AdapterContext } from '../enrich/adapters/types.js';
import { loadCollectorPayload } from '../enrich/payload-loader.js';
import type { RawSource } from './store.js';

/** `ctx` as enrich's (same resolver configuration and `maxJsonDepth`). */
export function createRawSource(ctx: AdapterContext): RawSource {
  return {
    payload(bytes) {
      const loaded = loadCollectorPayload(bytes);
      return loaded.ok ? loaded.payload : null;
    },
    events(payload) {
      const routed = routeCollectorPayload(payload, ctx);
      if (routed instanceof Promise) return routed.then((r) => (r.ok ? r.events : null));
      return routed.ok ? routed.events : null;
    },
  };
}
