/**
 * referer_parser enrichment (spec §4.6): classifies `page_referrer` into `refr_medium` / `refr_source` /
 * `refr_term` with the referer-parser database (`referers.json` or `referers.yml`, both
 * `{medium: {Source: {domains, parameters}}}`), plus custom `referrers` from the config and the site's own
 * `internalDomains`.
 *
 * The database is GPL-licensed data, so it is never bundled: like Snowplow, the config names where to read it
 * (`uri` + `database`), and it is refreshed in the background.
 *
 * @example
 * {"schema":"iglu:com.snowplowanalytics.snowplow/referer_parser/jsonschema/2-0-1",
 *  "data":{"vendor":"com.snowplowanalytics.snowplow","name":"referer_parser","enabled":true,
 *          "parameters":{"uri":"https://example.com/third-party/referer-parser/","database":"referers-latest.json",
 *                        "internalDomains":["blog.example.com"]}}}
 */
import { parse as parseYaml } from 'yaml';
import { F } from '../../protocol/enriched-fields.js';
import { sanitize } from '../../protocol/sanitize.js';
import type { EnrichedEvent } from '../event.js';
import { type AssetRef, RefreshingAsset } from './assets.js';
import {
  type Enrichment,
  type EnrichmentConfig,
  EnrichmentConfigError,
  type EnrichmentDefinition,
  type EnrichmentEnv,
  ORDER,
  type StepOutcome,
} from './types.js';

/** The media scala-referer-parser knows; any other top-level key makes the database corrupt. */
const MEDIA: ReadonlySet<string> = new Set([
  'unknown',
  'search',
  'internal',
  'social',
  'email',
  'paid',
  'chatbot',
]);

const VALID_SCHEMES: ReadonlySet<string> = new Set(['http', 'https', 'android-app']);

export interface RefererLookup {
  medium: string;
  source: string;
  /** query parameters that hold the search term, for `search` */
  parameters: readonly string[];
}

/** `host[/path]` → what it refers to. */
export type RefererDatabase = Map<string, RefererLookup>;

export interface Referer {
  medium: string;
  source: string | null;
  term: string | null;
}

function stringArray(v: unknown, where: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new Error(`${where}: expected an array of strings`);
  }
  return v as string[];
}

/**
 * Adds a `{medium: {Source: {domains, parameters}}}` document to `into`. Later entries for the same domain
 * replace earlier ones, which is how custom `referrers` override the file.
 */
export function addReferers(into: RefererDatabase, doc: unknown, where: string): RefererDatabase {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new Error(`${where}: referers must be an object`);
  }
  for (const [medium, sources] of Object.entries(doc)) {
    if (!MEDIA.has(medium)) throw new Error(`${where}: unrecognized medium '${medium}'`);
    if (typeof sources !== 'object' || sources === null || Array.isArray(sources)) {
      throw new Error(`${where}.${medium}: medium '${medium}' is not an object`);
    }
    for (const [source, entry] of Object.entries(sources as Record<string, unknown>)) {
      const at = `${where}.${medium}.${source}`;
      if (typeof entry !== 'object' || entry === null) throw new Error(`${at}: expected an object`);
      const e = entry as { domains?: unknown; parameters?: unknown };
      const domains = stringArray(e.domains, `${at}.domains`);
      const parameters =
        e.parameters === undefined || e.parameters === null
          ? []
          : stringArray(e.parameters, `${at}.parameters`);
      const lookup: RefererLookup = { medium, source, parameters };
      for (const d of domains) into.set(d, lookup);
    }
  }
  return into;
}

/** Parses the database file: YAML for `.yml`/`.yaml`, JSON otherwise. */
export function parseRefererDatabase(bytes: Buffer, location: string): RefererDatabase {
  const text = bytes.toString('utf8');
  const doc: unknown = /\.ya?ml$/i.test(location) ? parseYaml(text) : JSON.parse(text);
  return addReferers(new Map(), doc, 'referers');
}

/** `www.google.co.uk` → `www.google.co.uk`, `google.co.uk`, `co.uk`, `uk` (Java `split` drops trailing empties). */
function hostsToTry(host: string): string[] {
  const parts = host.split('.');
  while (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) out.push(parts.slice(i).join('.'));
  return out;
}

/** `/images/1/2` → `/images/1/2`, `/images`, `` ; a path with no segment → `` only. */
function pathsToTry(path: string): string[] {
  const first = path.split('/').find((s) => s !== '');
  return first === undefined ? [''] : [path, `/${first}`, ''];
}

/** Path loop outside, host loop inside, first hit wins (scala-referer-parser's order). */
export function lookupReferer(db: RefererDatabase, host: string, path: string): RefererLookup | undefined {
  const hosts = hostsToTry(host);
  for (const p of pathsToTry(path)) {
    for (const h of hosts) {
      const hit = db.get(h + p);
      if (hit !== undefined) return hit;
    }
  }
  return undefined;
}

const utf8 = new TextDecoder('utf-8');

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Percent-decoding as UTF-8 with malformed bytes replaced (Java's `URI.getPath` and `URLDecoder`); `plus`
 * also turns `+` into a space (`URLDecoder`). A `%` without two hex digits is kept as text: Java would throw,
 * but the referer URI was already validated, so only the lenient fallback path could produce one.
 */
export function percentDecode(s: string, plus: boolean): string {
  if (s.indexOf('%') < 0) return plus && s.indexOf('+') >= 0 ? s.replace(/\+/g, ' ') : s;
  let out = '';
  let i = 0;
  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && i + 2 < n && hexVal(s.charCodeAt(i + 1)) >= 0 && hexVal(s.charCodeAt(i + 2)) >= 0) {
      const bytes: number[] = [];
      while (i + 2 < n && s.charCodeAt(i) === 0x25) {
        const h = hexVal(s.charCodeAt(i + 1));
        const l = hexVal(s.charCodeAt(i + 2));
        if (h < 0 || l < 0) break;
        bytes.push((h << 4) | l);
        i += 3;
      }
      out += utf8.decode(Uint8Array.from(bytes));
    } else {
      out += plus && c === 0x2b ? ' ' : s[i];
      i++;
    }
  }
  return out;
}

/** The first parameter of the referer's query, in URL order, whose decoded name is one of `names`. */
export function extractSearchTerm(rawQuery: string, names: readonly string[]): string | null {
  if (names.length === 0) return null;
  for (const pair of rawQuery.split('&')) {
    const eq = pair.indexOf('=');
    const name = percentDecode(eq > 0 ? pair.slice(0, eq) : pair, true);
    if (names.includes(name)) return eq > 0 ? percentDecode(pair.slice(eq + 1), true) : '';
  }
  return null;
}

/**
 * scala-referer-parser's `Parser.parse` over the already split referer URI. `null` means "not a referer we
 * classify" (unsupported scheme, no host): no medium at all.
 */
export function parseReferer(
  db: RefererDatabase,
  internalDomains: ReadonlySet<string>,
  scheme: string | null,
  host: string | null,
  rawPath: string | null,
  rawQuery: string | null,
  pageHost: string | null,
): Referer | null {
  if (scheme === null || !VALID_SCHEMES.has(scheme) || host === null) return null;
  if (host === pageHost || internalDomains.has(host)) return { medium: 'internal', source: null, term: null };
  // Java's URI.getPath is decoded; an empty path of a hierarchical URI is "" (never null).
  const path = rawPath === null ? '' : percentDecode(rawPath, false);
  const hit = lookupReferer(db, host, path);
  if (hit === undefined || hit.medium === 'unknown') return { medium: 'unknown', source: null, term: null };
  if (hit.medium === 'internal') return { medium: 'internal', source: null, term: null };
  const term =
    hit.medium === 'search' && rawQuery !== null ? extractSearchTerm(rawQuery, hit.parameters) : null;
  return { medium: hit.medium, source: hit.source, term };
}

function assetRef(p: Record<string, unknown>): AssetRef {
  if (typeof p.uri !== 'string') throw new EnrichmentConfigError('parameters.uri: expected a string');
  if (typeof p.database !== 'string' || p.database === '') {
    throw new EnrichmentConfigError('parameters.database: expected a file name');
  }
  return { uri: p.uri, database: p.database };
}

export const refererParserEnrichment: EnrichmentDefinition = {
  name: 'referer_parser',
  criterion: 'iglu:com.snowplowanalytics.snowplow/referer_parser/jsonschema/2-*-*',
  async create(config: EnrichmentConfig, env: EnrichmentEnv): Promise<Enrichment> {
    const p = config.parameters;
    const ref = assetRef(p);
    const domains = p.internalDomains;
    if (!Array.isArray(domains) || !domains.every((d) => typeof d === 'string')) {
      throw new EnrichmentConfigError('parameters.internalDomains: expected an array of strings');
    }
    const internalDomains = new Set(domains.map((d: string) => d.trim()));
    const custom = p.referrers;
    let customDb: RefererDatabase | null = null;
    if (custom !== undefined) {
      try {
        customDb = addReferers(new Map(), custom, 'parameters.referrers');
      } catch (e) {
        throw new EnrichmentConfigError((e as Error).message);
      }
    }
    // Custom referrers are merged into every (re)loaded copy of the file so a refresh keeps them.
    const asset = await RefreshingAsset.load(
      ref,
      (bytes, location) => {
        const db = parseRefererDatabase(bytes, location);
        if (customDb !== null) for (const [k, v] of customDb) db.set(k, v);
        return db;
      },
      env,
    );
    return {
      order: ORDER.refererParser,
      info: { schemaKey: config.schemaKey, identifier: 'referer-parser' },
      enrich(ev: EnrichedEvent): StepOutcome {
        const f = ev.fields;
        // The referer-URI step filled refr_url* only when page_referrer parsed, which is when Snowplow runs this.
        const r = parseReferer(
          asset.value,
          internalDomains,
          f[F.refr_urlscheme],
          f[F.refr_urlhost],
          f[F.refr_urlpath],
          f[F.refr_urlquery],
          f[F.page_urlhost],
        );
        if (r === null) return undefined;
        f[F.refr_medium] = r.medium;
        if (r.source !== null) f[F.refr_source] = sanitize(r.source);
        if (r.term !== null) f[F.refr_term] = sanitize(r.term);
        return undefined;
      },
      async close() {
        asset.close();
      },
    };
  },
};
