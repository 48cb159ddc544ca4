/**
 * Tracker protocol v2 (`/com.snowplowanalytics.snowplow/tp2`): GET with the event in the querystring, or
 * POST with a `payload_data` self-describing JSON whose `data` is an array of events (flat string maps).
 * Querystring parameters are merged on top of every body event. Failures are `tracker_protocol_violations`.
 *
 * The body is checked in Snowplow's order: JSON (with the depth limit) → self-describing → valid against its
 * own schema through Iglu → schema matches `payload_data/1-0-*` → events are objects of strings.
 */

import type { CheckResult } from '../../iglu/types.js';
import { parseBoundedJson } from '../../protocol/bounded-json.js';
import type { CollectorPayload } from '../../protocol/collector-payload.js';
import {
  failure,
  inputData,
  type Params,
  parseSelfDescribing,
  queryParams,
  success,
  toRawEvent,
} from './common.js';
import type { Adapter, AdapterContext, AdapterMessage, AdapterResult } from './types.js';

const VENDOR = 'com.snowplowanalytics.snowplow';
const VERSION = 'tp2';
const TYPE = 'tracker_protocol_violations';

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=UTF-8',
];
const CONTENT_TYPE_SET = new Set(CONTENT_TYPES);
const CONTENT_TYPE_EXPECTATION = `expected one of ${CONTENT_TYPES.join(', ')}`;

export const PAYLOAD_DATA_CRITERION = 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-*';

export const tp2Adapter: Adapter = {
  vendor: VENDOR,
  version: VERSION,
  toRawEvents(p, ctx) {
    const qs = queryParams(p, TYPE);
    if (!(qs instanceof Map)) return qs;
    const body = p.body ?? undefined;
    const contentType = p.contentType ?? undefined;

    if (body === undefined && qs.size === 0) {
      return failure(
        TYPE,
        inputData('body', null, 'empty body: not a valid tracker protocol event'),
        inputData('querystring', null, 'empty querystring: not a valid tracker protocol event'),
      );
    }
    if (contentType !== undefined && !CONTENT_TYPE_SET.has(contentType)) {
      return failure(TYPE, inputData('contentType', contentType, CONTENT_TYPE_EXPECTATION));
    }
    if (body !== undefined && contentType === undefined) {
      return failure(TYPE, inputData('contentType', null, CONTENT_TYPE_EXPECTATION));
    }
    if (body === undefined) {
      // Upstream says "track protocol" here, unlike the first case.
      if (contentType !== undefined)
        return failure(TYPE, inputData('body', null, 'empty body: not a valid track protocol event'));
      return success([toRawEvent(p, VENDOR, VERSION, qs)]);
    }
    return fromBody(p, body, qs, ctx);
  },
};

function fromBody(
  p: CollectorPayload,
  body: string,
  qs: Params,
  ctx: AdapterContext,
): AdapterResult | Promise<AdapterResult> {
  const parsed = parseBoundedJson(body, ctx.maxJsonDepth);
  if (!parsed.ok) return failure(TYPE, { field: 'body', value: body, error: parsed.error });
  const sd = parseSelfDescribing(parsed.value);
  if (!sd.ok) return failure(TYPE, { json: parsed.value, error: sd.error });
  const checked = ctx.resolver.check(sd.schema, sd.data);
  const afterCheck = (res: CheckResult): AdapterResult => {
    if (!res.ok) return failure(TYPE, { schemaKey: sd.schema, error: res.error });
    const k = sd.key;
    if (
      k.vendor !== 'com.snowplowanalytics.snowplow' ||
      k.name !== 'payload_data' ||
      k.format !== 'jsonschema' ||
      k.model !== 1 ||
      k.revision !== 0
    ) {
      return failure(TYPE, { schemaKey: sd.schema, schemaCriterion: PAYLOAD_DATA_CRITERION });
    }
    return toEvents(p, sd.data, qs);
  };
  return checked instanceof Promise ? checked.then(afterCheck) : afterCheck(checked);
}

/** Only reachable past Iglu when a schema in the criterion is looser than Iglu Central's payload_data. */
function toEvents(p: CollectorPayload, data: unknown, qs: Params): AdapterResult {
  if (!Array.isArray(data) || data.some((e) => e === null || typeof e !== 'object' || Array.isArray(e))) {
    return failure(TYPE, inputData('body', JSON.stringify(data) ?? null, 'json is not an array'));
  }
  if (data.length === 0) return failure(TYPE, inputData('body', '[]', 'empty list of events'));
  const messages: AdapterMessage[] = [];
  const events = [];
  for (const item of data as Array<Record<string, unknown>>) {
    const params: Params = new Map();
    for (const key of Object.keys(item)) {
      const v = item[key];
      if (typeof v === 'string') params.set(key, v);
      else if (v === null) messages.push(inputData(key, null, 'value cannot be null'));
      else messages.push(inputData(key, JSON.stringify(v), 'value is not a string'));
    }
    for (const [k, v] of qs) params.set(k, v);
    events.push(toRawEvent(p, VENDOR, VERSION, params));
  }
  return messages.length > 0 ? { ok: false, type: TYPE, messages } : success(events);
}
