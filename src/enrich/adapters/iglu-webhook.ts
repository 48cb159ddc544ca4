/**
 * Generic Iglu webhook (`/com.snowplowanalytics.iglu/v1`): any self-describing event, sent as
 * - `GET ?schema=<iglu uri>&k=v…` — the other parameters become the event's data, as strings ('' → null);
 * - `POST ?schema=<iglu uri>` with a JSON object (one event) or array (one event per element) body;
 * - `POST ?schema=<iglu uri>` with a form body (an object of strings, platform `srv`);
 * - `POST` with a self-describing JSON body and no `schema` parameter.
 * Each becomes `e=ue` with an `unstruct_event` wrapper; validation happens later, in enrich. Only
 * `nuid, aid, cv, eid, ttm, url` and `p` of the querystring are carried over. Failures are `adapter_failures`.
 */
import { parseBoundedJson } from '../../protocol/bounded-json.js';
import type { CollectorPayload } from '../../protocol/collector-payload.js';
import { parseQueryString } from '../../protocol/querystring.js';
import {
  failure,
  inputData,
  type Params,
  parseSchemaUri,
  parseSelfDescribing,
  queryParams,
  success,
  toRawEvent,
  UNSTRUCT_EVENT_SCHEMA,
} from './common.js';
import type { Adapter, AdapterResult } from './types.js';

const VENDOR = 'com.snowplowanalytics.iglu';
const VERSION = 'v1';
const TYPE = 'adapter_failures';
const TRACKER_VERSION = 'com.snowplowanalytics.iglu-v1';

const JSON_TYPES = new Set(['application/json', 'application/json; charset=utf-8']);
const FORM_TYPE = 'application/x-www-form-urlencoded';
const ALL_TYPES_EXPECTATION = `expected one of application/json, application/json; charset=utf-8, ${FORM_TYPE}`;
const JSON_TYPES_EXPECTATION = 'expected one of application/json, application/json; charset=utf-8';

/** Querystring parameters that describe the request rather than the event. */
const NOT_EVENT_DATA = new Set(['schema', 'nuid', 'aid', 'cv', 'p']);
const CARRIED_OVER = new Set(['nuid', 'aid', 'cv', 'eid', 'ttm', 'url']);

export const igluWebhookAdapter: Adapter = {
  vendor: VENDOR,
  version: VERSION,
  toRawEvents(p, ctx) {
    const qs = queryParams(p, TYPE);
    if (!(qs instanceof Map)) return qs;
    const schema = qs.get('schema') ?? undefined;
    const body = p.body ?? undefined;
    const contentType = p.contentType ?? undefined;

    if (body !== undefined && contentType === undefined) {
      return failure(TYPE, inputData('contentType', null, ALL_TYPES_EXPECTATION));
    }
    if (schema === undefined) {
      if (body === undefined) {
        return failure(
          TYPE,
          inputData('schema', null, 'empty `schema` field'),
          inputData('body', null, 'empty body'),
        );
      }
      if (!JSON_TYPES.has(contentType!))
        return failure(TYPE, inputData('contentType', contentType!, JSON_TYPES_EXPECTATION));
      const parsed = parseBoundedJson(body, ctx.maxJsonDepth);
      if (!parsed.ok) return failure(TYPE, { field: 'body', value: body, error: parsed.error });
      const sd = parseSelfDescribing(parsed.value);
      if (!sd.ok) return failure(TYPE, { json: parsed.value, error: sd.error });
      return success([event(p, qs, sd.schema, sd.data, 'app')]);
    }

    const key = parseSchemaUri(schema);
    if (!key.ok) return failure(TYPE, inputData('schema', schema, key.error));
    if (body === undefined) return success([event(p, qs, schema, queryData(qs), 'app')]);
    if (JSON_TYPES.has(contentType!)) return jsonBody(p, qs, schema, body, ctx.maxJsonDepth);
    if (contentType === FORM_TYPE) return formBody(p, qs, schema, body);
    return failure(TYPE, inputData('contentType', contentType!, ALL_TYPES_EXPECTATION));
  },
};

function queryData(qs: Params): Record<string, string | null> {
  const data: Record<string, string | null> = {};
  for (const [k, v] of qs) if (!NOT_EVENT_DATA.has(k)) data[k] = v === '' ? null : v;
  return data;
}

function jsonBody(
  p: CollectorPayload,
  qs: Params,
  schema: string,
  body: string,
  maxDepth: number,
): AdapterResult {
  const parsed = parseBoundedJson(body, maxDepth);
  if (!parsed.ok) return failure(TYPE, { field: 'body', value: body, error: parsed.error });
  const json = parsed.value;
  if (Array.isArray(json)) {
    if (json.length === 0) return failure(TYPE, inputData('body', body, 'empty array of events'));
    return success(json.map((item) => event(p, qs, schema, item, 'app')));
  }
  if (json !== null && typeof json === 'object') return success([event(p, qs, schema, json, 'app')]);
  return failure(TYPE, inputData('body', body, 'body is not a json object or array'));
}

function formBody(p: CollectorPayload, qs: Params, schema: string, body: string): AdapterResult {
  let pairs: Array<[string, string | null]>;
  try {
    pairs = parseQueryString(body, 'UTF-8');
  } catch (e) {
    return failure(TYPE, inputData('body', body, `could not parse body: ${(e as Error).message}`));
  }
  const data: Record<string, string> = {};
  // A field sent without `=` has no value to put in a string-typed object, so it is left out.
  for (const [k, v] of pairs) if (v !== null) data[k] = v;
  return success([event(p, qs, schema, data, 'srv')]);
}

function event(p: CollectorPayload, qs: Params, schema: string, data: unknown, platform: string) {
  const params: Params = new Map();
  params.set('tv', TRACKER_VERSION);
  params.set('e', 'ue');
  params.set('p', qs.has('p') ? qs.get('p')! : platform);
  params.set('ue_pr', JSON.stringify({ schema: UNSTRUCT_EVENT_SCHEMA, data: { schema, data } }));
  for (const [k, v] of qs) if (CARRIED_OVER.has(k)) params.set(k, v);
  return toRawEvent(p, VENDOR, VERSION, params);
}
