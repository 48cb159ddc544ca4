/**
 * A readable form of collector requests for `furrow enrich`, so events can be written by hand:
 *
 *     GET /i?e=pv&url=https%3A%2F%2Fexample.com%2F&p=web&tv=js-4.10.1
 *     User-Agent: Mozilla/5.0
 *     X-Forwarded-For: 203.0.113.9
 *     ---
 *     POST /com.snowplowanalytics.snowplow/tp2
 *     Content-Type: application/json
 *
 *     {"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[…]}
 *
 * Requests are separated by a line `---`; a request is a request line (`METHOD /path?query`, an optional
 * `HTTP/1.1` is ignored), header lines, then after a blank line the body. Lines starting with `#` before
 * the request line are comments. The result is the `CollectorPayload` a Furrow collector would store.
 */
import { COLLECTOR_PAYLOAD_SCHEMA, type CollectorPayload } from '../protocol/collector-payload.js';

export class RequestTextError extends Error {
  override name = 'RequestTextError';
}

export interface RequestDefaults {
  timestamp: number;
  ipAddress: string;
  collector: string;
}

const REQUEST_LINE = /^(GET|POST|HEAD|PUT|OPTIONS)\s+(\S+)(?:\s+HTTP\/\d(?:\.\d)?)?\s*$/;

export function parseRequestText(text: string, defaults: RequestDefaults): CollectorPayload[] {
  const out: CollectorPayload[] = [];
  const blocks = text.split(/\r?\n---[ \t]*(?:\r?\n|$)/);
  let lineNo = 1;
  for (const block of blocks) {
    const startLine = lineNo;
    lineNo += block.split('\n').length;
    const lines = block.split(/\r?\n/);
    let i = 0;
    while (i < lines.length && (lines[i].trim() === '' || lines[i].startsWith('#'))) i++;
    if (i === lines.length) continue;
    const m = REQUEST_LINE.exec(lines[i]);
    if (m === null) {
      throw new RequestTextError(
        `line ${startLine + i}: expected a request line such as "GET /i?e=pv&p=web" but found "${lines[i].slice(0, 80)}"`,
      );
    }
    const method = m[1];
    const target = m[2];
    i++;
    const headers: string[] = [];
    for (; i < lines.length && lines[i] !== ''; i++) {
      const colon = lines[i].indexOf(':');
      if (colon <= 0) {
        throw new RequestTextError(
          `line ${startLine + i}: expected a header "Name: value" but found "${lines[i]}"`,
        );
      }
      headers.push(`${lines[i].slice(0, colon).trim()}: ${lines[i].slice(colon + 1).trim()}`);
    }
    const body =
      i < lines.length
        ? lines
            .slice(i + 1)
            .join('\n')
            .replace(/\n+$/, '')
        : '';
    out.push(toPayload(method, target, headers, body, defaults));
  }
  return out;
}

function header(headers: readonly string[], name: string): string | undefined {
  const prefix = `${name.toLowerCase()}:`;
  const h = headers.find((x) => x.toLowerCase().startsWith(prefix));
  return h?.slice(prefix.length).trim();
}

function toPayload(
  method: string,
  target: string,
  headers: string[],
  body: string,
  d: RequestDefaults,
): CollectorPayload {
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  const querystring = q === -1 ? '' : target.slice(q + 1);
  const contentType = header(headers, 'content-type');
  const cookie = header(headers, 'cookie');
  const sp = cookie
    ?.split(';')
    .map((c) => c.trim())
    .find((c) => c.startsWith('sp='));
  const p: CollectorPayload = {
    schema: COLLECTOR_PAYLOAD_SCHEMA,
    ipAddress: d.ipAddress,
    timestamp: d.timestamp,
    encoding: 'UTF-8',
    collector: d.collector,
    path,
    querystring,
    headers: contentType === undefined ? headers : [...headers, contentType],
  };
  const ua = header(headers, 'user-agent');
  if (ua !== undefined) p.userAgent = ua;
  const referer = header(headers, 'referer');
  if (referer !== undefined) p.refererUri = referer;
  const host = header(headers, 'host');
  if (host !== undefined) p.hostname = host.replace(/:\d+$/, '');
  if (method !== 'GET' && method !== 'HEAD' && body !== '') p.body = body;
  if (contentType !== undefined && p.body !== undefined) p.contentType = contentType.toLowerCase();
  if (sp !== undefined) p.networkUserId = sp.slice(3);
  return p;
}
