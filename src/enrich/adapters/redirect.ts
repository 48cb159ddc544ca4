/**
 * Click-redirect tracking (`GET /r/tp2?u=<target>&…`). The target becomes a `uri_redirect` entity: the event
 * itself when the request has no `e`, otherwise prepended to its `cx`/`co` contexts (or a new `co`).
 * Always `tv=r-tp2`, `p` defaults to `web`, `u` is removed. Failures are `tracker_protocol_violations`.
 */
import { decodeBase64Lenient, encodeBase64Url } from '../../protocol/base64.js';
import { parseBoundedJson } from '../../protocol/bounded-json.js';
import {
  CONTEXTS_SCHEMA,
  failure,
  inputData,
  type Params,
  queryParams,
  success,
  toRawEvent,
  UNSTRUCT_EVENT_SCHEMA,
} from './common.js';
import type { Adapter, AdapterResult } from './types.js';

const VENDOR = 'r';
const VERSION = 'tp2';
const TYPE = 'tracker_protocol_violations';
const URI_REDIRECT_SCHEMA = 'iglu:com.snowplowanalytics.snowplow/uri_redirect/jsonschema/1-0-0';

export const redirectAdapter: Adapter = {
  vendor: VENDOR,
  version: VERSION,
  toRawEvents(p, ctx) {
    const original = queryParams(p, TYPE);
    if (!(original instanceof Map)) return original;
    if (original.size === 0) {
      return failure(TYPE, inputData('querystring', null, 'empty querystring: not a valid URI redirect'));
    }
    const u = original.get('u');
    if (u === undefined || u === null) {
      // Upstream renders the parameters back, a valueless one as `null`.
      const rendered = Array.from(original, ([k, v]) => `${k}=${v ?? 'null'}`).join('&');
      return failure(
        TYPE,
        inputData('querystring', rendered, 'missing `u` parameter: not a valid URI redirect'),
      );
    }
    const redirect = { schema: URI_REDIRECT_SCHEMA, data: { uri: u } };
    const params: Params = new Map(original);
    params.delete('u');

    if (!original.has('e')) {
      params.set('e', 'ue');
      params.set('ue_pr', JSON.stringify({ schema: UNSTRUCT_EVENT_SCHEMA, data: redirect }));
    } else {
      const cx = original.get('cx');
      const co = original.get('co');
      if (cx !== undefined && cx !== null && cx !== '') {
        const decoded = decodeBase64Lenient(cx);
        const merged = prepend(decoded, redirect, 'cx', ctx.maxJsonDepth);
        if (typeof merged !== 'string') return merged;
        params.set('cx', encodeBase64Url(merged));
      } else if (co !== undefined && co !== null && co !== '') {
        const merged = prepend(co, redirect, 'co', ctx.maxJsonDepth);
        if (typeof merged !== 'string') return merged;
        params.set('co', merged);
      } else {
        params.set('co', JSON.stringify({ schema: CONTEXTS_SCHEMA, data: [redirect] }));
      }
    }
    params.set('tv', 'r-tp2');
    params.set('p', original.has('p') ? original.get('p')! : 'web');
    return success([toRawEvent(p, VENDOR, VERSION, params)]);
  },
};

/** Puts the redirect entity first in an existing contexts wrapper; anything without a `data` array is kept. */
function prepend(text: string, entity: object, field: string, maxDepth: number): string | AdapterResult {
  const parsed = parseBoundedJson(text, maxDepth);
  if (!parsed.ok) return failure(TYPE, { field, value: text, error: parsed.error });
  const json = parsed.value;
  if (json !== null && typeof json === 'object' && !Array.isArray(json)) {
    const data = (json as Record<string, unknown>).data;
    if (Array.isArray(data)) return JSON.stringify({ ...json, data: [entity, ...data] });
  }
  return JSON.stringify(json);
}
