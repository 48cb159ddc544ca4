/**
 * IAB spiders & robots enrichment (spec §4.12): classifies the event with the IAB/ABC International Spiders and
 * Bots List — an IP exclude list and user-agent include/exclude lists, read from the configured files — into
 * `com.iab.snowplow/spiders_and_robots/jsonschema/1-0-0`. Checks follow the IAB client Snowplow uses: inline
 * include patterns (browser), inline exclude patterns (robot), IP exclude list, UA include list (a user agent
 * that matches no active include pattern is a robot), UA exclude list (active/inactive by `derived_tstamp`).
 * The raw IP is used (the step runs long before anon_ip) and is never resolved through DNS.
 *
 * List formats (ISO-8859-1 text, `#` comment lines, blank lines ignored):
 * - `ip_exclude_current_cidr.txt`: one address or CIDR block per line;
 * - `include_current.txt`: `pattern|active(0/1)|start-of-string(0/1)|inactive date(MM/dd/yyyy)`;
 * - `exclude_current.txt`: `pattern|active|exception patterns (comma-separated)|additional flag|primary impact
 *   (0 page, 1 ad, 2 both)|start-of-string|inactive date`.
 * Patterns are matched case-insensitively as substrings (or prefixes with the start-of-string flag).
 *
 * @example
 * {"schema":"iglu:com.snowplowanalytics.snowplow.enrichments/iab_spiders_and_robots_enrichment/jsonschema/1-0-1",
 *  "data":{"vendor":"com.snowplowanalytics.snowplow.enrichments","name":"iab_spiders_and_robots_enrichment",
 *   "enabled":true,"parameters":{
 *     "ipFile":{"database":"ip_exclude_current_cidr.txt","uri":"/var/lib/furrow/iab"},
 *     "excludeUseragentFile":{"database":"exclude_current.txt","uri":"/var/lib/furrow/iab"},
 *     "includeUseragentFile":{"database":"include_current.txt","uri":"/var/lib/furrow/iab"}}}}
 */
import { isIPv4 } from 'node:net';
import { F } from '../../protocol/enriched-fields.js';
import type { EnrichedEvent, SelfDescribingJson } from '../event.js';
import { deriveTimestamp } from '../steps/derived-tstamp.js';
import { parseIpv6 } from './anon-ip.js';
import { type AssetRef, RefreshingAsset } from './assets.js';
import {
  type Enrichment,
  type EnrichmentConfig,
  EnrichmentConfigError,
  type EnrichmentDefinition,
  type EnrichmentEnv,
  type EnrichmentInfo,
  ORDER,
  prependDerived,
  type StepOutcome,
} from './types.js';

export const IAB_CONTEXT_SCHEMA = 'iglu:com.iab.snowplow/spiders_and_robots/jsonschema/1-0-0';

export interface IabResult {
  spiderOrRobot: boolean;
  category: 'SPIDER_OR_ROBOT' | 'ACTIVE_SPIDER_OR_ROBOT' | 'INACTIVE_SPIDER_OR_ROBOT' | 'BROWSER';
  reason: 'FAILED_IP_EXCLUDE' | 'FAILED_UA_INCLUDE' | 'FAILED_UA_EXCLUDE' | 'PASSED_ALL';
  primaryImpact: 'PAGE_IMPRESSIONS' | 'AD_IMPRESSIONS' | 'PAGE_AND_AD_IMPRESSIONS' | 'UNKNOWN' | 'NONE';
}

const BROWSER: IabResult = {
  spiderOrRobot: false,
  category: 'BROWSER',
  reason: 'PASSED_ALL',
  primaryImpact: 'NONE',
};
const IP_EXCLUDED: IabResult = {
  spiderOrRobot: true,
  category: 'SPIDER_OR_ROBOT',
  reason: 'FAILED_IP_EXCLUDE',
  primaryImpact: 'UNKNOWN',
};
const NOT_INCLUDED: IabResult = {
  spiderOrRobot: true,
  category: 'SPIDER_OR_ROBOT',
  reason: 'FAILED_UA_INCLUDE',
  primaryImpact: 'UNKNOWN',
};
const CUSTOM_EXCLUDED: IabResult = {
  spiderOrRobot: true,
  category: 'SPIDER_OR_ROBOT',
  reason: 'FAILED_UA_EXCLUDE',
  primaryImpact: 'UNKNOWN',
};
const IMPACTS: Readonly<Record<string, IabResult['primaryImpact']>> = {
  '0': 'PAGE_IMPRESSIONS',
  '1': 'AD_IMPRESSIONS',
  '2': 'PAGE_AND_AD_IMPRESSIONS',
};

// --- list files ---------------------------------------------------------------------------------------------

/** Pipe-separated records (commons-csv default quoting, `#` comments, blank lines skipped), fields trimmed. */
export function parsePipeRecords(text: string): string[][] {
  const out: string[][] = [];
  for (const rawLine of text.split(/\r?\n/)) {
    if (rawLine.length === 0 || rawLine.charCodeAt(0) === 0x23 /* # */) continue;
    const fields: string[] = [];
    let i = 0;
    while (i <= rawLine.length) {
      let value = '';
      if (rawLine[i] === '"') {
        i++;
        while (i < rawLine.length) {
          if (rawLine[i] === '"') {
            if (rawLine[i + 1] === '"') {
              value += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          value += rawLine[i++];
        }
        const bar = rawLine.indexOf('|', i);
        i = bar < 0 ? rawLine.length + 1 : bar + 1;
      } else {
        const bar = rawLine.indexOf('|', i);
        value = bar < 0 ? rawLine.slice(i) : rawLine.slice(i, bar);
        i = bar < 0 ? rawLine.length + 1 : bar + 1;
      }
      fields.push(value.trim());
    }
    out.push(fields);
  }
  return out;
}

/** `MM/dd/yyyy` (leniently, like `SimpleDateFormat`) as UTC midnight in ms, or null. */
export function parseIabDate(s: string | undefined): number | null {
  if (s === undefined) return null;
  const m = /^\s*(\d{1,2})\/(\d{1,2})\/(\d{1,4})/.exec(s);
  if (m === null) return null;
  return Date.UTC(Number(m[3]), Number(m[1]) - 1, Number(m[2]));
}

const flag = (s: string | undefined): boolean => s === '1';

interface IncludeRecord {
  pattern: string;
  active: boolean;
  startOnly: boolean;
  inactiveMs: number | null;
}

interface ExcludeRecord {
  pattern: string;
  active: boolean;
  exceptions: string[];
  impact: string;
  startOnly: boolean;
  inactiveMs: number | null;
}

function parseInclude(bytes: Buffer): IncludeRecord[] {
  return parsePipeRecords(bytes.toString('latin1')).map((f) => ({
    pattern: f[0].toLowerCase(),
    active: flag(f[1]),
    startOnly: flag(f[2]),
    inactiveMs: parseIabDate(f[3]),
  }));
}

function parseExclude(bytes: Buffer): ExcludeRecord[] {
  return parsePipeRecords(bytes.toString('latin1')).map((f) => ({
    pattern: f[0].toLowerCase(),
    active: flag(f[1]),
    exceptions: (f[2] ?? '')
      .toLowerCase()
      .split(',')
      .map((e) => e.trim())
      .filter((e) => e !== ''),
    impact: f[4] ?? '',
    startOnly: flag(f[5]),
    inactiveMs: parseIabDate(f[6]),
  }));
}

/** Address blocks as numeric ranges: IPv4 in plain numbers, IPv6 in bigints. */
export interface IpRanges {
  v4: Array<[number, number]>;
  v6: Array<[bigint, bigint]>;
}

type ParsedIp = { v4: number } | { v6: bigint };

export function parseIp(s: string): ParsedIp | null {
  if (isIPv4(s)) {
    const o = s.split('.').map(Number);
    return { v4: ((o[0] << 24) >>> 0) + (o[1] << 16) + (o[2] << 8) + o[3] };
  }
  const g = parseIpv6(s);
  if (g === null) return null;
  // IPv4-mapped addresses are IPv4 addresses (as `InetAddress` treats them).
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return { v4: g[6] * 65536 + g[7] };
  }
  let n = 0n;
  for (const x of g) n = (n << 16n) | BigInt(x);
  return { v6: n };
}

function parseIpFile(bytes: Buffer): IpRanges {
  const ranges: IpRanges = { v4: [], v6: [] };
  for (const raw of bytes.toString('latin1').split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const slash = line.indexOf('/');
    const ip = parseIp(slash < 0 ? line : line.slice(0, slash));
    if (ip === null) throw new Error(`not an address or CIDR block: ${line}`);
    const bits = 'v4' in ip ? 32 : 128;
    const prefix = slash < 0 ? bits : Number(line.slice(slash + 1));
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits)
      throw new Error(`bad prefix length: ${line}`);
    if ('v4' in ip) {
      const size = 2 ** (32 - prefix);
      const start = Math.floor(ip.v4 / size) * size;
      ranges.v4.push([start, start + size - 1]);
    } else {
      const size = 1n << BigInt(128 - prefix);
      const start = (ip.v6 / size) * size;
      ranges.v6.push([start, start + size - 1n]);
    }
  }
  // Sorted and merged so a lookup is one binary search.
  ranges.v4 = mergeRanges(ranges.v4);
  ranges.v6 = mergeRanges(ranges.v6);
  return ranges;
}

function mergeRanges<T extends number | bigint>(rs: Array<[T, T]>): Array<[T, T]> {
  rs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: Array<[T, T]> = [];
  for (const r of rs) {
    const last = out[out.length - 1];
    // Overlapping blocks merge; adjacent ones stay apart, which costs nothing in correctness.
    if (last !== undefined && r[0] <= last[1]) {
      if (r[1] > last[1]) last[1] = r[1];
    } else out.push([r[0], r[1]]);
  }
  return out;
}

function inRanges<T extends number | bigint>(rs: ReadonlyArray<[T, T]>, x: T): boolean {
  let lo = 0;
  let hi = rs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (x < rs[mid][0]) hi = mid - 1;
    else if (x > rs[mid][1]) lo = mid + 1;
    else return true;
  }
  return false;
}

export function ipExcluded(ranges: IpRanges, ip: ParsedIp): boolean {
  return 'v4' in ip ? inRanges(ranges.v4, ip.v4) : inRanges(ranges.v6, ip.v6);
}

const matches = (uaLower: string, pattern: string, startOnly: boolean): boolean =>
  startOnly ? uaLower.startsWith(pattern) : uaLower.includes(pattern);

/** Thrown for a matched exclude record whose impact flag is not 0/1/2 (the IAB client fails the check too). */
class IabCheckError extends Error {}

export interface IabLists {
  ips: IpRanges;
  include: IncludeRecord[];
  exclude: ExcludeRecord[];
  customInclude: string[];
  customExclude: string[];
}

/** The IAB client's `checkAt`; at least one of `ua`/`ip` is non-null. */
export function iabCheck(lists: IabLists, ua: string | null, ip: ParsedIp | null, atMs: number): IabResult {
  const uaLower = ua === null ? null : ua.toLowerCase();
  if (uaLower !== null) {
    for (const p of lists.customInclude) if (uaLower.includes(p)) return BROWSER;
    for (const p of lists.customExclude) if (uaLower.includes(p)) return CUSTOM_EXCLUDED;
  }
  if (ip !== null && ipExcluded(lists.ips, ip)) return IP_EXCLUDED;
  if (uaLower === null) return BROWSER;
  let included = false;
  for (const r of lists.include) {
    if (
      matches(uaLower, r.pattern, r.startOnly) &&
      (r.active || (r.inactiveMs !== null && atMs < r.inactiveMs))
    ) {
      included = true;
      break;
    }
  }
  if (!included) return NOT_INCLUDED;
  for (const r of lists.exclude) {
    if (!r.active && r.inactiveMs === null) continue;
    if (!matches(uaLower, r.pattern, r.startOnly)) continue;
    if (r.exceptions.some((e) => uaLower.includes(e))) continue;
    const primaryImpact = IMPACTS[r.impact];
    if (primaryImpact === undefined)
      throw new IabCheckError(`Invalid value of impression flag: '${r.impact}'`);
    const active = r.inactiveMs === null || atMs < r.inactiveMs;
    return {
      spiderOrRobot: true,
      category: active ? 'ACTIVE_SPIDER_OR_ROBOT' : 'INACTIVE_SPIDER_OR_ROBOT',
      reason: 'FAILED_UA_EXCLUDE',
      primaryImpact,
    };
  }
  return BROWSER;
}

// --- configuration ------------------------------------------------------------------------------------------

const FILE_KEYS = ['ipFile', 'excludeUseragentFile', 'includeUseragentFile'] as const;

function fileRef(p: Record<string, unknown>, key: string): AssetRef {
  const o = p[key] as Record<string, unknown> | undefined;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) {
    throw new EnrichmentConfigError(`parameters.${key}: expected an object {database, uri}`);
  }
  if (typeof o.database !== 'string' || o.database === '') {
    throw new EnrichmentConfigError(`parameters.${key}.database: expected a file name`);
  }
  if (typeof o.uri !== 'string') throw new EnrichmentConfigError(`parameters.${key}.uri: expected a string`);
  return { uri: o.uri, database: o.database };
}

function patterns(p: Record<string, unknown>, key: string): string[] {
  const v = p[key];
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) {
    throw new EnrichmentConfigError(`parameters.${key}: expected an array of strings`);
  }
  return (v as string[]).map((s) => s.toLowerCase()).filter((s) => s !== '');
}

export const iabSpidersAndRobotsEnrichment: EnrichmentDefinition = {
  name: 'iab_spiders_and_robots_enrichment',
  criterion:
    'iglu:com.snowplowanalytics.snowplow.enrichments/iab_spiders_and_robots_enrichment/jsonschema/1-0-*',
  async create(config: EnrichmentConfig, env: EnrichmentEnv): Promise<Enrichment> {
    const p = config.parameters;
    const known = new Set<string>([...FILE_KEYS, 'includeUseragents', 'excludeUseragents']);
    for (const k of Object.keys(p)) {
      if (!known.has(k)) throw new EnrichmentConfigError(`parameters.${k}: unknown parameter`);
    }
    const [ipRef, excludeRef, includeRef] = FILE_KEYS.map((k) => fileRef(p, k));
    const customInclude = patterns(p, 'includeUseragents');
    const customExclude = patterns(p, 'excludeUseragents');
    const ips = await RefreshingAsset.load(ipRef, parseIpFile, env);
    const exclude = await RefreshingAsset.load(excludeRef, parseExclude, env).catch((e) => {
      ips.close();
      throw e;
    });
    const include = await RefreshingAsset.load(includeRef, parseInclude, env).catch((e) => {
      ips.close();
      exclude.close();
      throw e;
    });
    const info: EnrichmentInfo = { schemaKey: config.schemaKey, identifier: 'iab-spiders-and-robots' };
    return {
      order: ORDER.iabSpidersAndRobots,
      info,
      enrich(ev: EnrichedEvent): StepOutcome {
        const atMs = deriveTimestamp(ev.collectorMs, ev.dvceCreatedMs, ev.dvceSentMs, ev.trueMs);
        if (Number.isNaN(atMs)) return undefined;
        const ua = ev.fields[F.useragent];
        const ipText = ev.fields[F.user_ipaddress];
        const ip = ipText === null ? null : parseIp(ipText);
        if (ua === null && ip === null) return undefined;
        const lists: IabLists = {
          ips: ips.value,
          include: include.value,
          exclude: exclude.value,
          customInclude,
          customExclude,
        };
        let result: IabResult;
        try {
          result = iabCheck(lists, ua, ip, atMs);
        } catch (e) {
          return [{ enrichment: info, message: { error: (e as Error).message } }];
        }
        const ctx: SelfDescribingJson = { schema: IAB_CONTEXT_SCHEMA, data: { ...result } };
        prependDerived(ev, [ctx]);
        return undefined;
      },
      async close() {
        ips.close();
        exclude.close();
        include.close();
      },
    };
  },
};
