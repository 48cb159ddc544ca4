/**
 * Adapters by `(vendor, version)`, and routing of a collector payload to one by its request path.
 * To add a webhook: write `<name>.ts` exporting an `Adapter`, then add it to `ADAPTERS`.
 */
import type { CollectorPayload } from '../../protocol/collector-payload.js';
import { failure, inputData } from './common.js';
import { igluWebhookAdapter } from './iglu-webhook.js';
import { redirectAdapter } from './redirect.js';
import { tp1Adapter } from './tp1.js';
import { tp2Adapter } from './tp2.js';
import type { Adapter, AdapterContext, AdapterResult } from './types.js';

const ADAPTERS: readonly Adapter[] = [tp1Adapter, tp2Adapter, redirectAdapter, igluWebhookAdapter];

const BY_API = new Map<string, Adapter>(ADAPTERS.map((a) => [`${a.vendor}/${a.version}`, a]));

export function adapterFor(vendor: string, version: string): Adapter | undefined {
  return BY_API.get(`${vendor}/${version}`);
}

const API_PATH = /^[/]?([^/]+)\/([^/]+)[/]?$/;

/**
 * `(vendor, version)` of a request path: `(/)vendor/version(/)`, or tp1 for the legacy `/i`, `/i?…` and
 * `/ice.png…`; `null` for any other shape (a `collector_payload_format_violation` for the caller).
 */
export function parseApiPath(path: string): { vendor: string; version: string } | null {
  const m = API_PATH.exec(path);
  if (m !== null) return { vendor: m[1], version: m[2] };
  if (path === '/i' || path.startsWith('/i?') || path.startsWith('/ice.png')) {
    return { vendor: tp1Adapter.vendor, version: tp1Adapter.version };
  }
  return null;
}

/**
 * Runs the adapter for the payload's path. The caller has already turned a missing or malformed path into a
 * `collector_payload_format_violation`; should one arrive here it is reported as an adapter failure.
 */
export function routeCollectorPayload(
  p: CollectorPayload,
  ctx: AdapterContext,
): AdapterResult | Promise<AdapterResult> {
  const api = p.path === undefined ? null : parseApiPath(p.path);
  if (api === null) {
    return failure(
      'adapter_failures',
      inputData(
        'path',
        p.path ?? null,
        'path does not match (/)vendor/version(/) nor is a legacy /i(ce.png) request',
      ),
    );
  }
  const adapter = adapterFor(api.vendor, api.version);
  if (adapter === undefined) {
    return failure(
      'adapter_failures',
      inputData(
        'vendor/version',
        `${api.vendor}/${api.version}`,
        'vendor/version combination is not supported',
      ),
    );
  }
  return adapter.toRawEvents(p, ctx);
}
