/**
 * What an adapter turns one collector payload into: one tracker-protocol event as name/value parameters
 * plus the collector context it arrived with (Snowplow's `RawEvent`).
 */
export interface RawEvent {
  /** API the payload was sent to, e.g. `com.snowplowanalytics.snowplow` / `tp2` */
  vendor: string;
  version: string;
  /** tracker parameters in arrival order; a `null` value is a parameter sent without `=` */
  parameters: Map<string, string | null>;
  contentType: string | null;
  /** collector name (`CollectorPayload.collector`) */
  loaderName: string;
  encoding: string;
  hostname: string | null;
  /** collector timestamp, ms since epoch */
  timestamp: number | null;
  ipAddress: string | null;
  useragent: string | null;
  refererUri: string | null;
  headers: string[];
  /** network user id from the collector (cookie / nuid) */
  userId: string | null;
}
