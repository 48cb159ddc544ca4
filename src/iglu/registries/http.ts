/**
 * A registry reached over HTTP: a static Iglu repository (`<uri>/schemas/<vendor>/<name>/<format>/<version>`)
 * or an Iglu Server, whose resolver URI ends in `/api` so the same path works.
 *
 * @example
 * const central = createHttpRegistry({ name: 'Iglu Central', priority: 0, vendorPrefixes: [],
 *   uri: 'http://iglucentral.com' });
 * await central.lookup(key); // { found: {...} } | { notFound: true } | { error, transient, attempts }
 */
import type { SchemaKey } from '../schema-key.js';
import { schemaKeyPath } from '../schema-key.js';
import type { Registry, RegistryLookupResult } from './registry.js';
import { isSchemaObject, isUnsafeVendor } from './registry.js';

export interface HttpRegistryOptions {
  name: string;
  priority: number;
  vendorPrefixes: readonly string[];
  uri: string;
  apikey?: string | null;
  /** per-request timeout (default 5000 ms) */
  timeoutMs?: number;
  /** requests per lookup when the registry is unreachable or answers 5xx/408/429 (default 3) */
  maxAttempts?: number;
  /** delay before the first retry, doubled for each further retry (default 100 ms) */
  retryDelayMs?: number;
}

type Attempt =
  | { kind: 'found'; schema: Record<string, unknown> }
  | { kind: 'notFound' }
  | { kind: 'retry'; message: string }
  | { kind: 'fail'; message: string };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function createHttpRegistry(opts: HttpRegistryOptions): Registry {
  // Resolved once: only the key-dependent suffix is built per lookup.
  const base = opts.uri.replace(/\/+$/, '');
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.apikey) headers.apikey = opts.apikey;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const maxAttempts = Math.max(1, opts.maxAttempts ?? 3);
  const retryDelayMs = opts.retryDelayMs ?? 100;

  async function attempt(url: string): Promise<Attempt> {
    let res: Response;
    try {
      res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      const detail =
        err.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : describeFetchError(err);
      return { kind: 'retry', message: `${url}: ${detail}` };
    }
    if (res.status === 404) {
      await res.body?.cancel();
      return { kind: 'notFound' };
    }
    let text: string;
    try {
      text = await res.text();
    } catch (e) {
      return { kind: 'retry', message: `${url}: reading the body failed: ${(e as Error).message}` };
    }
    if (res.status !== 200) {
      const message = `Unexpected server response: ${res.status}${text ? ` ${truncate(text)}` : ''}`;
      // Only "the registry is unwell" statuses are worth retrying; 400/401/403 will not change.
      const retry = res.status >= 500 || res.status === 408 || res.status === 429;
      return retry ? { kind: 'retry', message } : { kind: 'fail', message };
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return { kind: 'fail', message: `${url}: response is not valid JSON: ${truncate(text)}` };
    }
    if (!isSchemaObject(json)) return { kind: 'fail', message: `${url}: response is not a JSON object` };
    return { kind: 'found', schema: json };
  }

  return {
    name: opts.name,
    classPriority: 100,
    priority: opts.priority,
    vendorPrefixes: opts.vendorPrefixes,
    async lookup(key: SchemaKey): Promise<RegistryLookupResult> {
      if (isUnsafeVendor(key.vendor)) return { notFound: true };
      const url = `${base}/schemas/${schemaKeyPath(key)}`;
      let last = '';
      for (let n = 1; n <= maxAttempts; n++) {
        const r = await attempt(url);
        if (r.kind === 'found') return { found: r.schema };
        if (r.kind === 'notFound') return { notFound: true };
        if (r.kind === 'fail') {
          return { error: { error: 'RepoFailure', message: r.message }, transient: false, attempts: n };
        }
        last = r.message;
        if (n < maxAttempts) await sleep(retryDelayMs * 2 ** (n - 1));
      }
      return { error: { error: 'RepoFailure', message: last }, transient: true, attempts: maxAttempts };
    },
  };
}

function describeFetchError(err: Error & { cause?: { code?: string; message?: string } }): string {
  // undici hides the useful part (ECONNREFUSED, ENOTFOUND…) in `cause`.
  const cause = err.cause;
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  return cause?.message ?? err.message;
}

function truncate(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}
