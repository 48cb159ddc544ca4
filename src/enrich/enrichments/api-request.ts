/**
 * API request enrichment (spec §4.17): fills a URI template from event fields or entities, calls an
 * HTTP JSON API (GET, or POST/PUT with the inputs as a JSON object) and wraps the JSONPath results
 * of the response as derived entities. Responses (and, for a tenth of the ttl, failures) are cached
 * by URL and body.
 *
 * @example
 * {"schema":"iglu:com.snowplowanalytics.snowplow.enrichments/api_request_enrichment_config/jsonschema/1-0-2",
 *  "data":{"vendor":"com.snowplowanalytics.snowplow.enrichments","name":"api_request_enrichment_config","enabled":true,
 *   "parameters":{
 *    "inputs":[{"key":"user","json":{"field":"contexts","schemaCriterion":"iglu:com.snowplowanalytics.snowplow/client_session/jsonschema/1-*-*","jsonPath":"$.userId"}},
 *              {"key":"client","pojo":{"field":"app_id"}}],
 *    "api":{"http":{"method":"GET","uri":"http://api.acme.com/users/{{client}}/{{user}}?format=json","timeout":2000,
 *           "authentication":{"httpBasic":{"username":"xxx","password":"yyy"}}}},
 *    "outputs":[{"schema":"iglu:com.acme/user/jsonschema/1-0-0","json":{"jsonPath":"$.record"}}],
 *    "cache":{"size":3000,"ttl":60},"ignoreOnError":false}}}
 */
import type { EnrichedEvent, SelfDescribingJson } from '../event.js';
import {
  CachingEvaluator,
  checkJsonPath,
  entityData,
  type InputSource,
  type Outcome,
  parseCache,
  parseIgnoreOnError,
  parseInputSource,
  parseOutputSchema,
  pojoText,
  queryJsonPath,
  wrapMatches,
} from './lookup-inputs.js';
import {
  type Enrichment,
  type EnrichmentConfig,
  EnrichmentConfigError,
  type EnrichmentDefinition,
  type EnrichmentInfo,
  ORDER,
  prependDerived,
  type StepOutcome,
} from './types.js';

type Method = 'GET' | 'POST' | 'PUT';

interface ApiInput {
  key: string;
  source: InputSource;
}

interface ApiOutput {
  schema: string;
  jsonPath: string;
}

interface Settings {
  inputs: ApiInput[];
  method: Method;
  uri: string;
  timeoutMs: number;
  authorization: string | null;
  outputs: ApiOutput[];
  cache: { size: number; ttlMs: number };
  ignoreOnError: boolean;
}

const KEY_RE = /^[A-Za-z0-9_-]+$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseApiRequestConfig(p: Record<string, unknown>): Settings {
  if (!Array.isArray(p.inputs)) throw new EnrichmentConfigError('parameters.inputs: expected an array');
  const inputs = p.inputs.map((raw, i): ApiInput => {
    const where = `parameters.inputs[${i}]`;
    if (!isObject(raw)) throw new EnrichmentConfigError(`${where}: expected an object`);
    if (typeof raw.key !== 'string' || !KEY_RE.test(raw.key)) {
      throw new EnrichmentConfigError(`${where}.key: expected letters, digits, _ or -`);
    }
    return { key: raw.key, source: parseInputSource(raw, where) };
  });
  const http = isObject(p.api) ? p.api.http : undefined;
  if (!isObject(http)) throw new EnrichmentConfigError('parameters.api.http: expected an object');
  if (http.method !== 'GET' && http.method !== 'POST' && http.method !== 'PUT') {
    throw new EnrichmentConfigError('parameters.api.http.method: expected GET, POST or PUT');
  }
  if (typeof http.uri !== 'string' || !/^https?:\/\//i.test(http.uri)) {
    throw new EnrichmentConfigError('parameters.api.http.uri: expected an http(s) URI template');
  }
  const timeout = http.timeout;
  if (!Number.isInteger(timeout) || (timeout as number) < 1 || (timeout as number) > 60000) {
    throw new EnrichmentConfigError('parameters.api.http.timeout: expected milliseconds, 1–60000');
  }
  let authorization: string | null = null;
  const auth = http.authentication;
  if (auth !== undefined && !isObject(auth)) {
    throw new EnrichmentConfigError('parameters.api.http.authentication: expected an object');
  }
  const basic = auth?.httpBasic;
  if (basic !== undefined && basic !== null) {
    if (!isObject(basic)) {
      throw new EnrichmentConfigError(
        'parameters.api.http.authentication.httpBasic: expected {username, password}',
      );
    }
    for (const k of ['username', 'password']) {
      if (basic[k] !== undefined && basic[k] !== null && typeof basic[k] !== 'string') {
        throw new EnrichmentConfigError(
          `parameters.api.http.authentication.httpBasic.${k}: expected a string`,
        );
      }
    }
    const user = (basic.username as string | undefined) ?? '';
    const password = (basic.password as string | undefined) ?? '';
    authorization = `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
  }
  if (!Array.isArray(p.outputs) || p.outputs.length === 0) {
    throw new EnrichmentConfigError('parameters.outputs: expected a non-empty array');
  }
  const outputs = p.outputs.map((raw, i): ApiOutput => {
    const where = `parameters.outputs[${i}]`;
    if (!isObject(raw)) throw new EnrichmentConfigError(`${where}: expected an object`);
    const schema = parseOutputSchema(raw.schema, `${where}.schema`);
    const jsonPath = isObject(raw.json) ? raw.json.jsonPath : undefined;
    if (typeof jsonPath !== 'string' || !jsonPath.startsWith('$')) {
      throw new EnrichmentConfigError(`${where}.json.jsonPath: expected a JSONPath starting with $`);
    }
    checkJsonPath(jsonPath, `${where}.json.jsonPath`);
    return { schema, jsonPath };
  });
  return {
    inputs,
    method: http.method,
    uri: http.uri,
    timeoutMs: timeout as number,
    authorization,
    outputs,
    cache: parseCache(p.cache),
    ignoreOnError: parseIgnoreOnError(p.ignoreOnError),
  };
}

/** Java's `URLEncoder.encode(v, "UTF-8")`: like encodeURIComponent, but space is `+` and only `.-*_` stay bare. */
export function javaUrlEncode(v: string): string {
  return encodeURIComponent(v)
    .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** A JSONPath result as template text: strings as they are, arrays joined by commas, objects as JSON. */
export function stringifyInput(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(stringifyInput).join(',');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** The first error line of a failed request, as Snowplow words it. */
function requestError(e: unknown): string {
  const err = e as Error & { cause?: Error };
  if (err?.name === 'TimeoutError') return `Request timed out: ${err.message}`;
  if (err?.cause instanceof Error) return `${err.message}: ${err.cause.message}`;
  return err instanceof Error ? err.message : String(e);
}

export async function createApiRequestEnrichment(config: EnrichmentConfig): Promise<Enrichment> {
  const s = parseApiRequestConfig(config.parameters);
  const info: EnrichmentInfo = { schemaKey: config.schemaKey, identifier: 'api-request' };
  const cache = new CachingEvaluator<unknown>(s.cache.size, s.cache.ttlMs);
  // One pattern per key, compiled once; `{{ key }}` may carry spaces inside the braces.
  const patterns = new Map(s.inputs.map((i) => [i.key, new RegExp(`\\{\\{ *${i.key} *\\}\\}`, 'g')]));
  const headers: Record<string, string> = { accept: 'application/json' };
  if (s.authorization !== null) headers.authorization = s.authorization;
  const hasBody = s.method !== 'GET';
  if (hasBody) headers['content-type'] = 'application/json';

  const call = async (url: string, body: string | undefined): Promise<Outcome<unknown>> => {
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, { method: s.method, headers, body, signal: AbortSignal.timeout(s.timeoutMs) });
      text = await res.text();
    } catch (e) {
      return { ok: false, errors: [requestError(e)] };
    }
    if (!res.ok) return { ok: false, errors: [`Request failed with status ${res.status} and body ${text}`] };
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch (e) {
      return { ok: false, errors: [`Could not parse the API response as JSON: ${(e as Error).message}`] };
    }
  };

  return {
    order: ORDER.apiRequest,
    info,
    async enrich(ev: EnrichedEvent): Promise<StepOutcome> {
      // Every input must yield a value, or there is no request (Snowplow's template context is all-or-nothing).
      const context = new Map<string, string>();
      for (const input of s.inputs) {
        let v: string | null;
        if (input.source.kind === 'pojo') v = pojoText(ev, input.source.index);
        else {
          const data = entityData(ev, input.source);
          v =
            data === undefined
              ? null
              : stringifyInput(wrapMatches(queryJsonPath(input.source.jsonPath, data)));
        }
        if (v === null) return undefined;
        context.set(input.key, v);
      }
      let url = s.uri;
      for (const [key, value] of context) {
        const encoded = javaUrlEncode(value);
        url = url.replace(patterns.get(key) as RegExp, () => encoded);
      }
      if (url.includes('{') || url.includes('}')) return undefined;
      const body = hasBody ? JSON.stringify(Object.fromEntries(context)) : undefined;

      let outcome = cache.evaluate(body === undefined ? url : `${url}\n${body}`, () => call(url, body));
      if (outcome instanceof Promise) outcome = await outcome;
      const errors: string[] = outcome.ok ? [] : outcome.errors;
      const entities: SelfDescribingJson[] = [];
      if (outcome.ok) {
        for (const output of s.outputs) {
          const found = queryJsonPath(output.jsonPath, outcome.value);
          if (found.length === 0) {
            errors.push(
              `Error: no values were found by JSON Path [${output.jsonPath}] in [${JSON.stringify(outcome.value)}]`,
            );
          } else {
            // The response is cached and shared; later steps (PII) rewrite entity data in place.
            entities.push({ schema: output.schema, data: structuredClone(wrapMatches(found)) });
          }
        }
      }
      if (errors.length > 0) {
        return s.ignoreOnError
          ? undefined
          : errors.map((error) => ({ enrichment: info, message: { error } }));
      }
      prependDerived(ev, entities);
      return undefined;
    },
  };
}

export const apiRequestEnrichment: EnrichmentDefinition = {
  name: 'api_request_enrichment_config',
  criterion: 'iglu:com.snowplowanalytics.snowplow.enrichments/api_request_enrichment_config/jsonschema/1-0-*',
  create: (config) => createApiRequestEnrichment(config),
};
