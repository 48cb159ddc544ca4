/**
 * anon_ip enrichment (spec §4.2): masks the trailing IPv4 octets / IPv6 segments of `user_ipaddress` with `x`.
 * It runs late (after geo and IAB lookups, which need the real address) and before PII pseudonymisation.
 *
 * @example
 * {"schema":"iglu:com.snowplowanalytics.snowplow/anon_ip/jsonschema/1-0-1",
 *  "data":{"vendor":"com.snowplowanalytics.snowplow","name":"anon_ip","enabled":true,
 *          "parameters":{"anonOctets":2,"anonSegments":3}}}
 */
import { isIPv4 } from 'node:net';
import { F } from '../../protocol/enriched-fields.js';
import type { EnrichedEvent } from '../event.js';
import {
  type Enrichment,
  type EnrichmentConfig,
  EnrichmentConfigError,
  type EnrichmentDefinition,
  ORDER,
  type StepOutcome,
} from './types.js';

/**
 * The eight 16-bit groups of an IPv6 address (with `::` and an embedded dotted quad allowed), or null when it
 * is not one. Only RFC 4291 text forms are accepted, as Guava's `InetAddresses.forString` does upstream.
 */
export function parseIpv6(s: string): number[] | null {
  if (s.length < 2 || s.length > 45 || s.indexOf(':') < 0) return null;
  let head = s;
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) >= 0) {
    const v4 = s.slice(lastColon + 1);
    if (!isIPv4(v4)) return null;
    const o = v4.split('.').map(Number);
    tail = [(o[0] << 8) | o[1], (o[2] << 8) | o[3]];
    head = s.slice(0, lastColon + 1);
    // `::1.2.3.4` leaves `::`; `a:…:b:1.2.3.4` leaves `a:…:b:` whose trailing colon belongs to the quad.
    if (!head.endsWith('::')) head = head.slice(0, -1);
  }
  const dbl = head.indexOf('::');
  if (dbl >= 0 && head.indexOf('::', dbl + 1) >= 0) return null;
  const group = (g: string): number => (/^[0-9a-fA-F]{1,4}$/.test(g) ? Number.parseInt(g, 16) : -1);
  const want = 8 - tail.length;
  let groups: number[];
  if (dbl >= 0) {
    const left = head.slice(0, dbl);
    const right = head.slice(dbl + 2);
    const l = left === '' ? [] : left.split(':').map(group);
    const r = right === '' ? [] : right.split(':').map(group);
    if (l.length + r.length >= want) return null;
    groups = [...l, ...new Array(want - l.length - r.length).fill(0), ...r];
  } else {
    groups = head.split(':').map(group);
    if (groups.length !== want) return null;
  }
  if (groups.some((g) => g < 0)) return null;
  return groups.concat(tail);
}

/** Java `Inet6Address.getHostAddress`: lower-case hex, no leading zeros, no `::` compression. */
function javaIpv6Text(groups: readonly number[]): string {
  return groups.map((g) => g.toString(16)).join(':');
}

function isIpv4Mapped(g: readonly number[]): boolean {
  return g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff;
}

function maskParts(parts: string[], total: number, anon: number): string {
  for (let i = 0; i < parts.length; i++) if (total - i <= anon) parts[i] = 'x';
  return parts.join(total === 4 ? '.' : ':');
}

/**
 * Snowplow's rules: a dotted address (including an IPv4-mapped IPv6 written with its quad, whose `::FFFF:`
 * prefix is kept as written) has its last `anonOctets` dot-separated parts masked; an IPv6 address is expanded
 * to Java's canonical form and its last `anonSegments` groups masked; text that is neither is masked by the
 * same rules when it contains `.` (or is empty) or `:`, and otherwise left alone.
 */
export function anonymizeIp(ip: string, anonOctets: number, anonSegments: number): string {
  const v6 = parseIpv6(ip);
  if (v6 !== null) {
    if (isIpv4Mapped(v6)) return maskParts(ip.split('.'), 4, anonOctets);
    return maskParts(javaIpv6Text(v6).split(':'), 8, anonSegments);
  }
  if (ip === '' || ip.includes('.')) return maskParts(ip.split('.'), 4, anonOctets);
  if (ip.includes(':')) return maskParts(ip.split(':'), 8, anonSegments);
  return ip;
}

function intParam(p: Record<string, unknown>, key: string, max: number): number | undefined {
  const v = p[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    throw new EnrichmentConfigError(`parameters.${key}: expected an integer 1–${max}`);
  }
  return v;
}

export const anonIpEnrichment: EnrichmentDefinition = {
  name: 'anon_ip',
  criterion: 'iglu:com.snowplowanalytics.snowplow/anon_ip/jsonschema/1-0-*',
  create(config: EnrichmentConfig): Enrichment {
    const p = config.parameters;
    const anonOctets = intParam(p, 'anonOctets', 4);
    if (anonOctets === undefined)
      throw new EnrichmentConfigError('parameters.anonOctets: expected an integer 1–4');
    const anonSegments = intParam(p, 'anonSegments', 8) ?? anonOctets;
    return {
      order: ORDER.anonIp,
      info: { schemaKey: config.schemaKey, identifier: 'anon-ip' },
      enrich(ev: EnrichedEvent): StepOutcome {
        const ip = ev.fields[F.user_ipaddress];
        if (ip !== null) ev.fields[F.user_ipaddress] = anonymizeIp(ip, anonOctets, anonSegments);
        return undefined;
      },
    };
  },
};
