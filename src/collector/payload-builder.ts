/**
 * What the collector stores for one tracking request: Snowplow's `CollectorPayload`, built from the
 * request exactly as Snowplow's collector builds it (spec collector §2.2, §2.6). The query string and body
 * are kept raw; parsing belongs to enrich.
 */
import { COLLECTOR_PAYLOAD_SCHEMA, type CollectorPayload } from '../protocol/collector-payload.js';

export interface RequestParts {
  path: string;
  /** raw query string without `?`, `''` when none */
  querystring: string;
  /** Node's `rawHeaders`: name, value, name, value… with the original casing */
  rawHeaders: readonly string[];
  /** `rawHeaders`' names in lower case, in order, if the caller has them (else they are computed) */
  lowerNames?: readonly string[];
  body?: string;
  /**
   * The body as received, when it is valid UTF-8 (instead of `body`): the payload's `body` is then
   * decoded from it only if something reads it (Micro, splitting), not on every request.
   */
  bodyUtf8?: Uint8Array;
  /** client IP as the collector determined it (first X-Forwarded-For entry, else the peer address) */
  ipAddress?: string;
  /** the network user id chosen by the cookie logic (nuid param, `sp` cookie or a new UUID) */
  networkUserId?: string;
}

export interface BuildOptions {
  /** collector name/version, becomes `v_collector` */
  collector: string;
  timestamp: number;
}

export const ANONYMOUS_NUID = '00000000-0000-0000-0000-000000000000';

/** RFC 6265 cookie-octet set (plus `=` between name and value). */
const COOKIE_PART = /^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*$/;

/** A header that is nothing but clean parts separated by `;` or `; `: the usual case, one regex test. */
const CLEAN_COOKIE_HEADER =
  /^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]+(?:; ?[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]+)*$/;

/** `Cookie: a=b; c=d` → `Cookie: a=b;c=d`, dropping parts with characters outside the cookie-octet set. */
export function normaliseCookie(value: string): string | null {
  if (CLEAN_COOKIE_HEADER.test(value)) return value.includes(' ') ? value.replaceAll('; ', ';') : value;
  const parts = value
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p !== '' && COOKIE_PART.test(p));
  return parts.length === 0 ? null : parts.join(';');
}

/**
 * A payload whose body stays the bytes received until something reads it as text (Micro, splitting an
 * oversized POST); the collector itself copies the bytes into the record. `body` is an accessor on the
 * prototype so that every such payload shares one fast shape: an object literal with its own getter is
 * created in dictionary mode (every field read a hash lookup, ~1.3 KB more per request), and
 * `Object.defineProperty` cost ~1.1 µs a request. Spreads copy own fields only, so code that spreads a
 * payload sets `body` itself (size.ts does); `toJSON` puts it back for JSON.
 */
class Utf8BodyPayload implements CollectorPayload {
  // the fields in the order of the plain payload below (JSON, key order of spreads)
  schema: string;
  ipAddress: string;
  timestamp: number;
  encoding: string;
  collector: string;
  path: string;
  querystring: string;
  headers: string[];
  // set only when present, as on the plain payload (`declare`: no own property until assigned)
  declare userAgent?: string;
  declare refererUri?: string;
  declare contentType?: string;
  declare hostname?: string;
  declare networkUserId?: string;
  // the bytes may be a view on a whole socket read: let them go once decoded
  #bytes: Uint8Array | undefined;
  #text = '';

  constructor(
    ipAddress: string,
    timestamp: number,
    collector: string,
    path: string,
    querystring: string,
    headers: string[],
    bytes: Uint8Array,
  ) {
    this.schema = COLLECTOR_PAYLOAD_SCHEMA;
    this.ipAddress = ipAddress;
    this.timestamp = timestamp;
    this.encoding = 'UTF-8';
    this.collector = collector;
    this.path = path;
    this.querystring = querystring;
    this.headers = headers;
    this.#bytes = bytes;
  }

  get body(): string {
    const b = this.#bytes;
    if (b !== undefined) {
      this.#text = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
      this.#bytes = undefined;
    }
    return this.#text;
  }

  set body(v: string) {
    this.#bytes = undefined;
    this.#text = v;
  }

  /** The JSON of the plain payload with the same fields, key for key (size-violation dumps). */
  toJSON(): CollectorPayload {
    const { userAgent, refererUri, contentType, hostname, networkUserId } = this;
    const { schema, ipAddress, timestamp, encoding, collector, path, querystring, headers } = this;
    const plain = { schema, ipAddress, timestamp, encoding, collector, path, querystring, headers };
    return { ...plain, userAgent, refererUri, body: this.body, contentType, hostname, networkUserId };
  }
}

export function buildCollectorPayload(req: RequestParts, opts: BuildOptions): CollectorPayload {
  const raw = req.rawHeaders;
  let anonymous = false;
  let contentType: string | undefined;
  let userAgent: string | undefined;
  let referer: string | undefined;
  let host: string | undefined;
  // the fast HTTP reader lower-cases names while parsing: not again here
  const lower: readonly string[] = req.lowerNames ?? lowerNamesOf(raw);
  for (let i = 0; i < raw.length; i += 2) {
    const name = lower[i >> 1];
    switch (name) {
      case 'sp-anonymous':
        anonymous = true;
        break;
      case 'content-type':
        contentType = raw[i + 1];
        break;
      case 'user-agent':
        userAgent = raw[i + 1];
        break;
      case 'referer':
        referer = raw[i + 1];
        break;
      case 'host':
        host = raw[i + 1];
        break;
    }
  }
  const headers: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = lower[i >> 1];
    if (name === 'cookie') {
      if (anonymous) continue;
      const c = normaliseCookie(raw[i + 1]);
      if (c !== null) headers.push(`${raw[i]}: ${c}`);
    } else if (anonymous && (name === 'x-forwarded-for' || name === 'x-real-ip')) continue;
    else headers.push(`${raw[i]}: ${raw[i + 1]}`);
  }
  if (contentType !== undefined) headers.push(contentType);

  const ipAddress = anonymous || !req.ipAddress ? 'unknown' : stripIpv4Mapped(req.ipAddress);
  const p: CollectorPayload =
    req.bodyUtf8 !== undefined
      ? new Utf8BodyPayload(
          ipAddress,
          opts.timestamp,
          opts.collector,
          req.path,
          req.querystring,
          headers,
          req.bodyUtf8,
        )
      : {
          schema: COLLECTOR_PAYLOAD_SCHEMA,
          ipAddress,
          timestamp: opts.timestamp,
          encoding: 'UTF-8',
          collector: opts.collector,
          path: req.path,
          querystring: req.querystring,
          headers,
        };
  if (userAgent !== undefined) p.userAgent = userAgent;
  if (referer !== undefined) p.refererUri = referer;
  if (req.bodyUtf8 === undefined && req.body !== undefined) p.body = req.body;
  const hasBody = req.body !== undefined || req.bodyUtf8 !== undefined;
  if (contentType !== undefined && hasBody) p.contentType = normaliseContentType(contentType);
  if (host !== undefined) p.hostname = hostnameOf(host);
  const nuid = anonymous ? ANONYMOUS_NUID : req.networkUserId;
  if (nuid !== undefined) p.networkUserId = nuid;
  return p;
}

function lowerNamesOf(raw: readonly string[]): string[] {
  const out: string[] = new Array(raw.length >> 1);
  for (let i = 0; i < raw.length; i += 2) out[i >> 1] = raw[i].toLowerCase();
  return out;
}

/**
 * `fn` remembering its last argument and result: a collector sees the same Host and Content-Type values
 * request after request (one or a few of each), so the string work is done once per change.
 */
function rememberLast(fn: (s: string) => string): (s: string) => string {
  let lastIn: string | undefined;
  let lastOut = '';
  return (s) => {
    if (s !== lastIn) {
      lastOut = fn(s);
      lastIn = s;
    }
    return lastOut;
  };
}

/** The Host header without its port. */
const hostnameOf = rememberLast((host) => host.replace(/:\d+$/, ''));

/** Lower case, and exactly one space before `charset`, as enrich compares content types exactly. */
export const normaliseContentType = rememberLast((ct) =>
  ct
    .toLowerCase()
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .join('; '),
);

function stripIpv4Mapped(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}
