/**
 * Snowplow's raw-stream record: the Thrift `CollectorPayload` struct
 * (`iglu:com.snowplowanalytics.snowplow/CollectorPayload/thrift/1-0-0`), TBinaryProtocol, no message header.
 * Field ids are the ones every Snowplow collector and enrich use (the IDL in Iglu Central is stale).
 */
import { ThriftDecodeError, ThriftReader, ThriftWriter, TType } from './thrift-binary.js';

export { ThriftDecodeError } from './thrift-binary.js';

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

// Field ids and wire types of the struct (see the interface above).
const F_SCHEMA = 31337;
const F_IP_ADDRESS = 100;
const F_TIMESTAMP = 200;
const F_ENCODING = 210;
const F_COLLECTOR = 220;
const F_USER_AGENT = 300;
const F_REFERER_URI = 310;
const F_PATH = 320;
const F_QUERYSTRING = 330;
const F_BODY = 340;
const F_HEADERS = 350;
const F_CONTENT_TYPE = 360;
const F_HOSTNAME = 400;
const F_NETWORK_USER_ID = 410;

// 1 type byte + 2 id bytes
const FIELD_HEADER = 3;

function stringFieldSize(s: string | undefined): number {
  return s === undefined ? 0 : FIELD_HEADER + 4 + Buffer.byteLength(s, 'utf8');
}

function asciiFieldSize(s: string | undefined): number {
  return s === undefined ? 0 : FIELD_HEADER + 4 + s.length;
}

function writeOptionalString(w: ThriftWriter, id: number, s: string | undefined, ascii: boolean): void {
  if (s === undefined) return;
  w.writeFieldBegin(TType.STRING, id);
  if (ascii) w.writeAsciiString(s);
  else w.writeString(s);
}

/**
 * The raw-stream record for one collector request: TBinaryProtocol, fields in ascending id order (as Snowplow's
 * generated code writes them, `schema` last), absent optionals omitted. One allocation, sized up front, from
 * `alloc` (the collector passes a slab allocator).
 */
export function encodeCollectorPayload(p: CollectorPayload): Buffer {
  return encodeCollectorPayloadWith(p, Buffer.allocUnsafe);
}

/**
 * `encodeCollectorPayload` into a buffer from `alloc(size)`, which must return exactly `size` bytes.
 * `bodyUtf8`, when given, must be exactly the UTF-8 encoding of `p.body` (the request body as received):
 * it is copied instead of encoding the string again, and `p.body` is not read.
 *
 * `ascii`: the caller vouches that every string of `p` except `body` holds only ASCII characters (the
 * collector knows it when the request head arrived as ASCII bytes). Their sizes are then their lengths
 * and they are copied byte for byte: measuring and UTF-8-encoding ~15 strings was ~2 of the ~4 µs this
 * took per pixel request, nearly all of it in the calls rather than the bytes. A non-ASCII string passed
 * with `ascii` would be written wrongly, so the flag is only for callers that checked.
 */
export function encodeCollectorPayloadWith(
  p: CollectorPayload,
  alloc: (size: number) => Buffer,
  bodyUtf8?: Uint8Array,
  ascii = false,
): Buffer {
  // the bytes first: reading `p.body` may decode it (see payload-builder's bodyUtf8)
  const body = bodyUtf8 ?? p.body;
  const fieldSize = ascii ? asciiFieldSize : stringFieldSize;
  let size =
    fieldSize(p.schema) +
    fieldSize(p.ipAddress) +
    FIELD_HEADER +
    8 +
    fieldSize(p.encoding) +
    fieldSize(p.collector) +
    fieldSize(p.userAgent) +
    fieldSize(p.refererUri) +
    fieldSize(p.path) +
    fieldSize(p.querystring) +
    (body === undefined
      ? 0
      : typeof body === 'string'
        ? stringFieldSize(body)
        : FIELD_HEADER + 4 + body.length) +
    fieldSize(p.contentType) +
    fieldSize(p.hostname) +
    fieldSize(p.networkUserId) +
    1;
  const headers = p.headers;
  if (headers !== undefined) {
    size += FIELD_HEADER + 5;
    for (let i = 0; i < headers.length; i++)
      size += 4 + (ascii ? headers[i].length : Buffer.byteLength(headers[i], 'utf8'));
  }
  const w = new ThriftWriter(alloc(size));
  writeOptionalString(w, F_IP_ADDRESS, p.ipAddress, ascii);
  w.writeFieldBegin(TType.I64, F_TIMESTAMP);
  w.writeI64(p.timestamp);
  writeOptionalString(w, F_ENCODING, p.encoding, ascii);
  writeOptionalString(w, F_COLLECTOR, p.collector, ascii);
  writeOptionalString(w, F_USER_AGENT, p.userAgent, ascii);
  writeOptionalString(w, F_REFERER_URI, p.refererUri, ascii);
  writeOptionalString(w, F_PATH, p.path, ascii);
  writeOptionalString(w, F_QUERYSTRING, p.querystring, ascii);
  if (typeof body === 'string') writeOptionalString(w, F_BODY, body, false);
  else if (body !== undefined) {
    w.writeFieldBegin(TType.STRING, F_BODY);
    w.writeStringBytes(body);
  }
  if (headers !== undefined) {
    w.writeFieldBegin(TType.LIST, F_HEADERS);
    w.writeListBegin(TType.STRING, headers.length);
    for (let i = 0; i < headers.length; i++) {
      if (ascii) w.writeAsciiString(headers[i]);
      else w.writeString(headers[i]);
    }
  }
  writeOptionalString(w, F_CONTENT_TYPE, p.contentType, ascii);
  writeOptionalString(w, F_HOSTNAME, p.hostname, ascii);
  writeOptionalString(w, F_NETWORK_USER_ID, p.networkUserId, ascii);
  writeOptionalString(w, F_SCHEMA, p.schema, ascii);
  w.writeFieldStop();
  return w.buf;
}

function missing(name: string): ThriftDecodeError {
  return new ThriftDecodeError(
    'missing-field',
    `Required field '${name}' was not present! Struct: CollectorPayload`,
  );
}

/**
 * Parses a raw-stream record. Fields may come in any order (a repeated field: last wins); unknown fields of any
 * type are skipped; a known field carrying an unexpected wire type is skipped too, as libthrift's generated
 * reader does, so it then counts as absent. Throws only `ThriftDecodeError`.
 */
export function decodeCollectorPayload(bytes: Uint8Array): CollectorPayload {
  const r = new ThriftReader(bytes);
  let schema: string | undefined;
  let ipAddress: string | undefined;
  let timestamp: number | undefined;
  let encoding: string | undefined;
  let collector: string | undefined;
  let userAgent: string | undefined;
  let refererUri: string | undefined;
  let path: string | undefined;
  let querystring: string | undefined;
  let body: string | undefined;
  let headers: string[] | undefined;
  let contentType: string | undefined;
  let hostname: string | undefined;
  let networkUserId: string | undefined;
  for (;;) {
    const type = r.readFieldBegin();
    if (type === TType.STOP) break;
    const id = r.fieldId;
    if (type === TType.STRING) {
      switch (id) {
        case F_SCHEMA:
          schema = r.readString();
          continue;
        case F_IP_ADDRESS:
          ipAddress = r.readString();
          continue;
        case F_ENCODING:
          encoding = r.readString();
          continue;
        case F_COLLECTOR:
          collector = r.readString();
          continue;
        case F_USER_AGENT:
          userAgent = r.readString();
          continue;
        case F_REFERER_URI:
          refererUri = r.readString();
          continue;
        case F_PATH:
          path = r.readString();
          continue;
        case F_QUERYSTRING:
          querystring = r.readString();
          continue;
        case F_BODY:
          body = r.readString();
          continue;
        case F_CONTENT_TYPE:
          contentType = r.readString();
          continue;
        case F_HOSTNAME:
          hostname = r.readString();
          continue;
        case F_NETWORK_USER_ID:
          networkUserId = r.readString();
          continue;
      }
    } else if (type === TType.I64 && id === F_TIMESTAMP) {
      timestamp = r.readI64();
      continue;
    } else if (type === TType.LIST && id === F_HEADERS) {
      const n = r.readListBegin();
      if (r.elemType === TType.STRING) {
        const list = new Array<string>(n);
        for (let i = 0; i < n; i++) list[i] = r.readString();
        headers = list;
      } else {
        // A list of something else is not a header list; drop it like any other mistyped field.
        for (let i = 0; i < n; i++) r.skip(r.elemType);
      }
      continue;
    }
    r.skip(type);
  }
  if (schema === undefined) throw missing('schema');
  if (ipAddress === undefined) throw missing('ipAddress');
  if (timestamp === undefined) throw missing('timestamp');
  if (encoding === undefined) throw missing('encoding');
  if (collector === undefined) throw missing('collector');
  const p: CollectorPayload = { schema, ipAddress, timestamp, encoding, collector };
  if (userAgent !== undefined) p.userAgent = userAgent;
  if (refererUri !== undefined) p.refererUri = refererUri;
  if (path !== undefined) p.path = path;
  if (querystring !== undefined) p.querystring = querystring;
  if (body !== undefined) p.body = body;
  if (headers !== undefined) p.headers = headers;
  if (contentType !== undefined) p.contentType = contentType;
  if (hostname !== undefined) p.hostname = hostname;
  if (networkUserId !== undefined) p.networkUserId = networkUserId;
  return p;
}
