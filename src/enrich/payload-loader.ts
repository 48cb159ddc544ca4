/**
 * Snowplow's Thrift loader: raw-stream bytes → a checked `CollectorPayload`, or the message of a
 * `collector_payload_format_violation`. Also re-derives the client IP from the forwarding headers,
 * as Snowplow does before any adapter sees the payload.
 */
import {
  COLLECTOR_PAYLOAD_SCHEMA,
  type CollectorPayload,
  decodeCollectorPayload,
} from '../protocol/collector-payload.js';
import { extractClientIp } from '../protocol/ip-address.js';
import { parseQueryString } from '../protocol/querystring.js';
import { parseUuid } from '../protocol/uuid.js';
import { parseApiPath } from './adapters/registry.js';

export type LoadResult =
  | { ok: true; payload: CollectorPayload; vendor: string; version: string }
  | { ok: false; message: Record<string, unknown> };

const SCHEMA_PREFIX = COLLECTOR_PAYLOAD_SCHEMA.slice(0, COLLECTOR_PAYLOAD_SCHEMA.lastIndexOf('/') + 1);
const SCHEMA_VERSION = /^1-0-\d+$/;

export function loadCollectorPayload(bytes: Uint8Array): LoadResult {
  let p: CollectorPayload;
  try {
    p = decodeCollectorPayload(bytes);
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    return { ok: false, message: { error: `error deserializing raw event: ${detail}` } };
  }
  return checkCollectorPayload(p);
}

export function checkCollectorPayload(p: CollectorPayload): LoadResult {
  if (!p.schema.startsWith(SCHEMA_PREFIX) || !SCHEMA_VERSION.test(p.schema.slice(SCHEMA_PREFIX.length))) {
    return {
      ok: false,
      message: {
        error: `verifying record as iglu:com.snowplowanalytics.snowplow/CollectorPayload/thrift/1-0-* failed: found ${p.schema}`,
      },
    };
  }
  if (p.path === undefined) {
    return {
      ok: false,
      message: { payloadField: 'path', value: null, expectation: 'request does not contain a path' },
    };
  }
  const api = parseApiPath(p.path);
  if (api === null) {
    return {
      ok: false,
      message: {
        payloadField: 'path',
        value: p.path,
        expectation: 'path does not match (/)vendor/version(/) nor is a legacy /i(ce.png) request',
      },
    };
  }
  if (p.querystring !== undefined && p.querystring !== '') {
    try {
      parseQueryString(p.querystring, p.encoding);
    } catch (e) {
      return {
        ok: false,
        message: {
          payloadField: 'querystring',
          value: p.querystring,
          expectation: e instanceof Error ? e.message : String(e),
        },
      };
    }
  }
  if (p.networkUserId !== undefined && parseUuid(p.networkUserId) === null) {
    return {
      ok: false,
      message: { payloadField: 'networkUserId', value: p.networkUserId, expectation: 'not valid UUID' },
    };
  }
  const ipAddress = extractClientIp(p.headers ?? [], p.ipAddress);
  const payload = ipAddress === p.ipAddress ? p : { ...p, ipAddress };
  return { ok: true, payload, vendor: api.vendor, version: api.version };
}
