/**
 * cookie_extractor enrichment (spec §4.9): one `org.ietf/http_cookie/1-0-0` entity per configured cookie found
 * in the request's `Cookie` headers.
 *
 * @example
 * {"schema":"iglu:com.snowplowanalytics.snowplow/cookie_extractor_config/jsonschema/1-0-0",
 *  "data":{"vendor":"com.snowplowanalytics.snowplow","name":"cookie_extractor_config","enabled":true,
 *          "parameters":{"cookies":["sp","_ga"]}}}
 */
import type { EnrichedEvent, SelfDescribingJson } from '../event.js';
import {
  type Enrichment,
  type EnrichmentConfig,
  EnrichmentConfigError,
  type EnrichmentDefinition,
  ORDER,
  prependDerived,
  type StepOutcome,
} from './types.js';

export const HTTP_COOKIE_SCHEMA = 'iglu:org.ietf/http_cookie/jsonschema/1-0-0';

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

/**
 * HttpCore's `BasicHeaderValueParser.parseParameters`, which Snowplow uses on the `Cookie` value: `name=value`
 * pairs split at `;`, values may be quoted (quotes and backslash escapes removed), runs of whitespace inside a
 * token collapse to one space, a pair without `=` has a null value, and a `,` ends the list (HTTP element
 * separator), so anything after the first comma is ignored.
 */
export function parseCookieParameters(s: string): Array<[string, string | null]> {
  const out: Array<[string, string | null]> = [];
  const n = s.length;
  let pos = 0;
  const skipSpace = (): void => {
    while (pos < n && isSpace(s.charCodeAt(pos))) pos++;
  };
  // Token or value up to one of `stops`; `quoted` enables "…" sections.
  const read = (stops: string, quoted: boolean): string => {
    let dst = '';
    let space = false;
    while (pos < n) {
      const ch = s[pos];
      if (stops.includes(ch)) break;
      if (isSpace(s.charCodeAt(pos))) {
        skipSpace();
        space = true;
        continue;
      }
      if (space && dst.length > 0) dst += ' ';
      space = false;
      if (quoted && ch === '"') {
        pos++;
        let escaped = false;
        while (pos < n) {
          const c = s[pos];
          if (escaped) {
            if (c !== '"' && c !== '\\') dst += '\\';
            dst += c;
            escaped = false;
          } else if (c === '"') {
            pos++;
            break;
          } else if (c === '\\') escaped = true;
          else if (c !== '\r' && c !== '\n') dst += c;
          pos++;
        }
        continue;
      }
      while (pos < n) {
        const c = s[pos];
        if (stops.includes(c) || isSpace(s.charCodeAt(pos)) || (quoted && c === '"')) break;
        dst += c;
        pos++;
      }
    }
    return dst;
  };
  skipSpace();
  while (pos < n) {
    const name = read('=;,', false);
    if (pos >= n) {
      out.push([name, null]);
      break;
    }
    const delim = s[pos];
    pos++;
    if (delim !== '=') {
      out.push([name, null]);
    } else {
      const value = read(';,', true);
      if (pos < n) pos++;
      out.push([name, value]);
    }
    if (s[pos - 1] === ',') break;
  }
  return out;
}

export const cookieExtractorEnrichment: EnrichmentDefinition = {
  name: 'cookie_extractor_config',
  criterion: 'iglu:com.snowplowanalytics.snowplow/cookie_extractor_config/jsonschema/1-*-*',
  create(config: EnrichmentConfig): Enrichment {
    const cookies = config.parameters.cookies;
    if (!Array.isArray(cookies) || !cookies.every((c) => typeof c === 'string')) {
      throw new EnrichmentConfigError('parameters.cookies: expected an array of cookie names');
    }
    const wanted = new Set<string>(cookies);
    return {
      order: ORDER.cookieExtractor,
      info: { schemaKey: config.schemaKey, identifier: 'cookie-extractor' },
      enrich(ev: EnrichedEvent): StepOutcome {
        if (wanted.size === 0) return undefined;
        let found: SelfDescribingJson[] | null = null;
        for (const header of ev.raw.headers) {
          const colon = header.indexOf(':');
          if (colon !== 6 || header.slice(0, 6).toLowerCase() !== 'cookie') continue;
          for (const [name, value] of parseCookieParameters(header.slice(colon + 1))) {
            if (wanted.has(name)) (found ??= []).push({ schema: HTTP_COOKIE_SCHEMA, data: { name, value } });
          }
        }
        if (found !== null) prependDerived(ev, found);
        return undefined;
      },
    };
  },
};
