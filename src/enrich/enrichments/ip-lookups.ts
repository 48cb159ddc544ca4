/**
 * ip_lookups enrichment (spec §4.3): MaxMind GeoIP2/GeoLite2 databases (`.mmdb`, read with the `maxmind` npm
 * reader) looked up by `user_ipaddress` before anonymisation. City → `geo_*`; ISP → `ip_isp`/`ip_organization`;
 * Domain → `ip_domain`; Connection-Type → `ip_netspeed`; ASN (or the ISP database's AS fields) → the derived
 * `asn/jsonschema/1-0-1` entity that asn_lookups and bot_detection read later.
 *
 * @example
 * {"schema":"iglu:com.snowplowanalytics.snowplow/ip_lookups/jsonschema/2-0-1",
 *  "data":{"vendor":"com.snowplowanalytics.snowplow","name":"ip_lookups","enabled":true,"parameters":{
 *    "geo":{"database":"GeoLite2-City.mmdb","uri":"/var/lib/furrow/maxmind"},
 *    "asn":{"database":"GeoLite2-ASN.mmdb","uri":"/var/lib/furrow/maxmind"}}}}
 */
import maxmind, {
  type AsnResponse,
  type CityResponse,
  type ConnectionTypeResponse,
  type DomainResponse,
  type IspResponse,
  type Reader,
  type Response,
} from 'maxmind';
import { Lru } from '../../iglu/lru.js';
import { F } from '../../protocol/enriched-fields.js';
import { formatJavaFloat } from '../../protocol/java-format.js';
import { sanitize } from '../../protocol/sanitize.js';
import type { EnrichedEvent, SelfDescribingJson } from '../event.js';
import { type AssetRef, RefreshingAsset } from './assets.js';
import {
  type Enrichment,
  type EnrichmentConfig,
  EnrichmentConfigError,
  type EnrichmentDefinition,
  type EnrichmentEnv,
  ORDER,
  prependDerived,
  type StepOutcome,
} from './types.js';

export const ASN_SCHEMA = 'iglu:com.snowplowanalytics.snowplow/asn/jsonschema/1-0-1';

const DATABASES = ['geo', 'isp', 'domain', 'connectionType', 'asn'] as const;
type DatabaseKey = (typeof DATABASES)[number];

/** Everything one address yields; cached per address because the same IPs repeat within a session. */
interface IpResult {
  /** [field index, TSV value] pairs to write */
  fields: Array<[number, string]>;
  asn: { number: number; organization: string | null } | null;
}

const NOTHING: IpResult = { fields: [], asn: null };

// `a.b.c.d:port` and `[v6]:port`; upstream strips the port before looking the address up.
const V4_PORT = /^(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}):\d+$/;
const V6_BRACKETS = /^\[([0-9a-fA-F:.]+)\](?::\d+)?$/;

export function stripPort(ip: string): string {
  const v4 = V4_PORT.exec(ip);
  if (v4 !== null) return v4[1];
  const v6 = V6_BRACKETS.exec(ip);
  return v6 !== null ? v6[1] : ip;
}

function assetRef(p: Record<string, unknown>, key: DatabaseKey): AssetRef | null {
  const v = p[key];
  if (v === undefined) return null;
  const o = v as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) {
    throw new EnrichmentConfigError(`parameters.${key}: expected an object {database, uri}`);
  }
  if (typeof o.database !== 'string' || o.database === '') {
    throw new EnrichmentConfigError(`parameters.${key}.database: expected a file name`);
  }
  if (typeof o.uri !== 'string') throw new EnrichmentConfigError(`parameters.${key}.uri: expected a string`);
  return { uri: o.uri, database: o.database };
}

/** Lookup errors (unknown address, malformed text) are not failures upstream: they just yield nothing. */
function lookup<T extends Response>(reader: Reader<T> | undefined, ip: string): T | null {
  if (reader === undefined) return null;
  try {
    return reader.get(ip);
  } catch {
    return null;
  }
}

function put(out: Array<[number, string]>, field: number, v: string | null | undefined): void {
  if (v === undefined || v === null) return;
  const s = sanitize(v);
  if (s !== null) out.push([field, s]);
}

export const ipLookupsEnrichment: EnrichmentDefinition = {
  name: 'ip_lookups',
  criterion: 'iglu:com.snowplowanalytics.snowplow/ip_lookups/jsonschema/2-*-*',
  async create(config: EnrichmentConfig, env: EnrichmentEnv): Promise<Enrichment> {
    const p = config.parameters;
    for (const k of Object.keys(p)) {
      if (!(DATABASES as readonly string[]).includes(k)) {
        throw new EnrichmentConfigError(
          `parameters.${k}: unknown database (expected one of ${DATABASES.join(', ')})`,
        );
      }
    }
    const refs = DATABASES.map((k) => [k, assetRef(p, k)] as const);
    const assets = new Map<DatabaseKey, RefreshingAsset<Reader<Response>>>();
    const cache = new Lru<string, IpResult>(10_000);
    try {
      for (const [key, ref] of refs) {
        if (ref === null) continue;
        const asset = await RefreshingAsset.load(ref, (bytes) => new maxmind.Reader<Response>(bytes), env);
        assets.set(key, asset);
      }
    } catch (e) {
      for (const a of assets.values()) a.close();
      throw e;
    }
    const loaded = [...assets.values()];
    // Which readers the cached answers came from: a refreshed database must not keep serving old answers.
    let cachedFrom = loaded.map((a) => a.value);
    const db = <T extends Response>(k: DatabaseKey) => assets.get(k)?.value as Reader<T> | undefined;

    const resolve = (ip: string): IpResult => {
      const fields: Array<[number, string]> = [];
      const city = lookup(db<CityResponse>('geo'), ip);
      if (city !== null) {
        const sub = city.subdivisions?.[0];
        put(fields, F.geo_country, city.country?.iso_code);
        put(fields, F.geo_region, sub?.iso_code);
        put(fields, F.geo_city, city.city?.names?.en);
        put(fields, F.geo_zipcode, city.postal?.code);
        const loc = city.location;
        if (typeof loc?.latitude === 'number') fields.push([F.geo_latitude, formatJavaFloat(loc.latitude)]);
        if (typeof loc?.longitude === 'number')
          fields.push([F.geo_longitude, formatJavaFloat(loc.longitude)]);
        put(fields, F.geo_region_name, sub?.names?.en);
        put(fields, F.geo_timezone, loc?.time_zone);
      }
      const isp = lookup(db<IspResponse>('isp'), ip);
      if (isp !== null) {
        put(fields, F.ip_isp, isp.isp);
        put(fields, F.ip_organization, isp.organization);
      }
      put(fields, F.ip_domain, lookup(db<DomainResponse>('domain'), ip)?.domain);
      put(fields, F.ip_netspeed, lookup(db<ConnectionTypeResponse>('connectionType'), ip)?.connection_type);
      const as: AsnResponse | null = lookup(db<AsnResponse>('asn'), ip) ?? isp;
      const n = as?.autonomous_system_number;
      const asn =
        typeof n === 'number' && Number.isInteger(n) && n >= 0
          ? { number: n, organization: as?.autonomous_system_organization ?? null }
          : null;
      return fields.length === 0 && asn === null ? NOTHING : { fields, asn };
    };

    return {
      order: ORDER.ipLookups,
      info: { schemaKey: config.schemaKey, identifier: 'ip-lookups' },
      enrich(ev: EnrichedEvent): StepOutcome {
        const raw = ev.fields[F.user_ipaddress];
        if (raw === null || assets.size === 0) return undefined;
        const ip = stripPort(raw);
        for (let i = 0; i < loaded.length; i++) {
          if (loaded[i].value !== cachedFrom[i]) {
            cache.clear();
            cachedFrom = loaded.map((a) => a.value);
            break;
          }
        }
        let r = cache.get(ip);
        if (r === undefined) {
          r = resolve(ip);
          cache.set(ip, r);
        }
        for (const [i, v] of r.fields) ev.fields[i] = v;
        if (r.asn !== null) {
          // A fresh object per event: asn_lookups adds `likelyBot` to it in place.
          const ctx: SelfDescribingJson = { schema: ASN_SCHEMA, data: { ...r.asn } };
          prependDerived(ev, [ctx]);
        }
        return undefined;
      },
      async close() {
        for (const a of assets.values()) a.close();
      },
    };
  },
};
