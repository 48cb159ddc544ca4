/**
 * http_header_extractor enrichment (spec §4.10): one `org.ietf/http_header/1-0-0` entity per request header
 * whose name (the text before the first `:`, untrimmed) fully matches `headersPattern`, a Java regex.
 *
 * @example
 * {"schema":"iglu:com.snowplowanalytics.snowplow.enrichments/http_header_extractor_config/jsonschema/1-0-0",
 *  "data":{"vendor":"com.snowplowanalytics.snowplow.enrichments","name":"http_header_extractor_config",
 *          "enabled":true,"parameters":{"headersPattern":"X-Forwarded-.*|Accept-Language"}}}
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

export const HTTP_HEADER_SCHEMA = 'iglu:org.ietf/http_header/jsonschema/1-0-0';

/** Java's POSIX classes (US-ASCII only, as without UNICODE_CHARACTER_CLASS), as class contents. */
const POSIX: Readonly<Record<string, string>> = {
  Lower: 'a-z',
  Upper: 'A-Z',
  ASCII: '\\x00-\\x7F',
  Alpha: 'a-zA-Z',
  Digit: '0-9',
  Alnum: 'a-zA-Z0-9',
  Punct: '!-\\/:-@\\[-`{-~',
  Graph: '!-~',
  Print: ' -~',
  Blank: ' \\t',
  Cntrl: '\\x00-\\x1F\\x7F',
  XDigit: '0-9a-fA-F',
  Space: ' \\t\\n\\x0B\\f\\r',
};

const HORIZONTAL_SPACE = ' \\t\\xA0\\u1680\\u180E\\u2000-\\u200A\\u202F\\u205F\\u3000';

function escapeLiteral(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

/**
 * Translates a `java.util.regex` pattern into an equivalent JavaScript one, once, at configuration time.
 * Handled: leading inline flags `(?i)`/`(?s)`/`(?m)`, `\Q…\E` quoting, POSIX classes (`\p{Alpha}`, …), `\A`,
 * `\z`, `\Z`, `\h`, `\e`, `\a`. Approximated: possessive quantifiers and atomic groups become greedy ones and
 * plain groups (they only differ in backtracking, which header-name patterns do not rely on). Rejected with an
 * error: inline flags inside the pattern, character-class union/intersection, `(?x)` comments mode.
 */
export function translateJavaRegex(pattern: string): { source: string; flags: string } {
  let flags = '';
  let i = 0;
  const lead = /^\(\?([a-zA-Z]+)\)/.exec(pattern);
  if (lead !== null) {
    for (const ch of lead[1]) {
      if (ch === 'i' || ch === 's' || ch === 'm') {
        if (!flags.includes(ch)) flags += ch;
      } else if (ch !== 'u' && ch !== 'U' && ch !== 'd') {
        throw new Error(`inline flag (?${ch}) is not supported`);
      }
    }
    i = lead[0].length;
  }
  const n = pattern.length;
  let out = '';
  let inClass = false;
  let unicode = false;
  // whether the last element emitted was a quantifier, so that a following `+` makes it possessive
  let afterQuantifier = false;
  while (i < n) {
    const c = pattern[i];
    if (c === '\\') {
      const d = pattern[i + 1];
      if (d === undefined) throw new Error('trailing backslash');
      afterQuantifier = false;
      if (d === 'Q') {
        const end = pattern.indexOf('\\E', i + 2);
        out += escapeLiteral(end < 0 ? pattern.slice(i + 2) : pattern.slice(i + 2, end));
        i = end < 0 ? n : end + 2;
        continue;
      }
      if ((d === 'p' || d === 'P') && pattern[i + 2] === '{') {
        const close = pattern.indexOf('}', i + 3);
        if (close < 0) throw new Error('unclosed \\p{…}');
        const name = pattern.slice(i + 3, close);
        const posix = POSIX[name.startsWith('Is') ? name.slice(2) : name];
        if (posix !== undefined) {
          if (inClass) {
            if (d === 'P') throw new Error(`\\P{${name}} inside a character class is not supported`);
            out += posix;
          } else out += d === 'P' ? `[^${posix}]` : `[${posix}]`;
        } else {
          unicode = true;
          out += pattern.slice(i, close + 1);
        }
        i = close + 1;
        continue;
      }
      if (!inClass && d === 'A') out += '(?<![\\s\\S])';
      else if (!inClass && d === 'z') out += '(?![\\s\\S])';
      else if (!inClass && d === 'Z') out += '(?=\\n?(?![\\s\\S]))';
      else if (d === 'h') out += inClass ? HORIZONTAL_SPACE : `[${HORIZONTAL_SPACE}]`;
      else if (d === 'e') out += '\\x1B';
      else if (d === 'a') out += '\\x07';
      else out += c + d;
      i += 2;
      continue;
    }
    if (inClass) {
      if (c === '[') throw new Error('nested character classes (union) are not supported');
      if (c === '&' && pattern[i + 1] === '&')
        throw new Error('character class intersection (&&) is not supported');
      if (c === ']') inClass = false;
      out += c;
      i++;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      i++;
      // A `]` right after `[` or `[^` is a literal in Java.
      if (pattern[i] === '^') {
        out += '^';
        i++;
      }
      if (pattern[i] === ']') {
        out += '\\]';
        i++;
      }
      afterQuantifier = false;
      continue;
    }
    if (c === '(' && pattern[i + 1] === '?') {
      const e = pattern[i + 2];
      if (e === '>') {
        out += '(?:';
        i += 3;
        afterQuantifier = false;
        continue;
      }
      // `(?i:…)` and friends: JS (Node 20) has no inline modifiers. Named groups `(?<n>…)` and lookarounds pass.
      if (e !== undefined && /[a-zA-Z-]/.test(e)) {
        throw new Error(`inline group (?${e}… is not supported`);
      }
    }
    if (c === '+' && afterQuantifier) {
      afterQuantifier = false;
      i++;
      continue;
    }
    if (c === '*' || c === '+' || c === '?') {
      afterQuantifier = !(c === '?' && out.endsWith('('));
      out += c;
      i++;
      continue;
    }
    if (c === '{') {
      const m = /^\{\d+(,\d*)?\}/.exec(pattern.slice(i));
      if (m !== null) {
        out += m[0];
        i += m[0].length;
        afterQuantifier = true;
        continue;
      }
    }
    afterQuantifier = false;
    out += c;
    i++;
  }
  if (inClass) throw new Error('unclosed character class');
  if (unicode) flags += 'u';
  return { source: out, flags };
}

/** Java's `String.trim`: strips every char ≤ U+0020 at both ends (and nothing else, unlike JS `trim`). */
export function javaTrim(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && s.charCodeAt(a) <= 0x20) a++;
  while (b > a && s.charCodeAt(b - 1) <= 0x20) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** `String.matches`: the whole input must match. */
export function compileFullMatch(pattern: string): RegExp {
  const { source, flags } = translateJavaRegex(pattern);
  return new RegExp(`(?<![\\s\\S])(?:${source})(?![\\s\\S])`, flags);
}

export const httpHeaderExtractorEnrichment: EnrichmentDefinition = {
  name: 'http_header_extractor_config',
  criterion: 'iglu:com.snowplowanalytics.snowplow.enrichments/http_header_extractor_config/jsonschema/1-*-*',
  create(config: EnrichmentConfig): Enrichment {
    const pattern = config.parameters.headersPattern;
    if (typeof pattern !== 'string') {
      throw new EnrichmentConfigError('parameters.headersPattern: expected a Java regular expression string');
    }
    let re: RegExp;
    try {
      re = compileFullMatch(pattern);
    } catch (e) {
      throw new EnrichmentConfigError(
        `parameters.headersPattern: invalid pattern "${pattern}" (${(e as Error).message})`,
      );
    }
    return {
      order: ORDER.httpHeaderExtractor,
      info: { schemaKey: config.schemaKey, identifier: 'http-header-extractor' },
      enrich(ev: EnrichedEvent): StepOutcome {
        let found: SelfDescribingJson[] | null = null;
        for (const header of ev.raw.headers) {
          const colon = header.indexOf(':');
          if (colon < 0) continue;
          const name = header.slice(0, colon);
          if (!re.test(name)) continue;
          (found ??= []).push({
            schema: HTTP_HEADER_SCHEMA,
            data: { name: javaTrim(name), value: javaTrim(header.slice(colon + 1)) },
          });
        }
        if (found !== null) prependDerived(ev, found);
        return undefined;
      },
    };
  },
};
