/**
 * Snowplow's raw-stream record: the Thrift `CollectorPayload` struct
 * (`iglu:com.snowplowanalytics.snowplow/CollectorPayload/thrift/1-0-0`), TBinaryProtocol, no message header.
 * Field ids are the ones every Snowplow collector and enrich use (the IDL in Iglu Central is stale).
 */
export const COLLECTOR_PAYLOAD_SCHEMA = 'iglu:com.snowplowanalytics.snowplow/CollectorPayload/thrift/1-0-0';

export interface CollectorPayload {
  /** field 31337 */
  schema: string;
  /** field 100: socket IP, `unknown` when absent */
  ipAddress: string;
  /** field 200: collector receive time, ms since epoch */
  timestamp: number;
  /** field 210: normally `UTF-8` */
  encoding: string;
  /** field 220: collector name/version, becomes `v_collector` */
  collector: string;
  /** field 300 */
  userAgent?: string;
  /** field 310 */
  refererUri?: string;
  /** field 320 */
  path?: string;
  /** field 330: raw, still percent-encoded */
  querystring?: string;
  /** field 340 */
  body?: string;
  /** field 350: `Name: value` entries, then the raw content type as a bare last element */
  headers?: string[];
  /** field 360: lower-cased Content-Type */
  contentType?: string;
  /** field 400 */
  hostname?: string;
  /** field 410 */
  networkUserId?: string;
}
