/**
 * pii_enrichment_config (spec §4.18): replaces configured atomic fields and JSONPath matches inside entities
 * with `hex(hash(value + salt))`. It runs last, after anon_ip, so an anonymised address is what gets hashed.
 *
 * `emitEvent: true` records what was replaced in a `pii_transformation/1-0-0` entity. Enrich 3–5 emitted that
 * as a separate event on an optional `pii` stream; Enrich 6 has no such stream, and neither does Furrow, so the
 * entity is added to this event's `derived_contexts` instead (it carries the original values: whoever reads
 * derived contexts can see them, which is the point of the feature for re-identification).
 *
 * @example
 * {"schema":"iglu:com.snowplowanalytics.snowplow.enrichments/pii_enrichment_config/jsonschema/2-0-1",
 *  "data":{"vendor":"com.snowplowanalytics.snowplow.enrichments","name":"pii_enrichment_config","enabled":true,
 *          "emitEvent":true,"anonymousOnly":false,
 *          "parameters":{"pii":[{"pojo":{"field":"user_id"}},
 *                               {"json":{"field":"contexts","schemaCriterion":"iglu:com.acme/user/jsonschema/1-*-*",
 *                                        "jsonPath":"$.email"}}],
 *                        "strategy":{"pseudonymize":{"hashFunction":"SHA-256","salt":"pepper"}}}}}
 */
import { createHash, getHashes } from 'node:crypto';
import { JSONPath } from 'jsonpath-plus';
import { parseSchemaKey, schemaCriterion } from '../../iglu/schema-key.js';
import { F } from '../../protocol/enriched-fields.js';
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

export const PII_TRANSFORMATION_SCHEMA =
  'iglu:com.snowplowanalytics.snowplow/pii_transformation/jsonschema/1-0-0';

/** The atomic fields Snowplow allows (`pojo.field`), by name. */
const SCALAR_FIELDS: ReadonlyMap<string, number> = new Map([
  ['user_id', F.user_id],
  ['user_ipaddress', F.user_ipaddress],
  ['user_fingerprint', F.user_fingerprint],
  ['domain_userid', F.domain_userid],
  ['network_userid', F.network_userid],
  ['ip_organization', F.ip_organization],
  ['ip_domain', F.ip_domain],
  ['tr_orderid', F.tr_orderid],
  ['ti_orderid', F.ti_orderid],
  ['mkt_term', F.mkt_term],
  ['mkt_content', F.mkt_content],
  ['se_category', F.se_category],
  ['se_action', F.se_action],
  ['se_label', F.se_label],
  ['se_property', F.se_property],
  ['mkt_clickid', F.mkt_clickid],
  ['refr_domain_userid', F.refr_domain_userid],
  ['domain_sessionid', F.domain_sessionid],
]);

/** Config names → node:crypto names. MD2 is only there when OpenSSL's legacy provider is loaded. */
const HASHES: Readonly<Record<string, string>> = {
  MD2: 'md2',
  MD5: 'md5',
  'SHA-1': 'sha1',
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
};

type JsonField = 'contexts' | 'derived_contexts' | 'unstruct_event';

type Rule =
  | { kind: 'pojo'; field: string; index: number }
  | { kind: 'json'; field: JsonField; matches: (schema: string) => boolean; jsonPath: string; query: string };

interface PojoModified {
  fieldName: string;
  originalValue: string;
  modifiedValue: string;
}

interface JsonModified extends PojoModified {
  jsonPath: string;
  schema: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const QUOTED = String.raw`'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"`;
const QUOTED_UNION = new RegExp(String.raw`\[\s*(?:${QUOTED})(?:\s*,\s*(?:${QUOTED}))+\s*\]`, 'g');

/**
 * Jayway syntax that jsonpath-plus reads differently: `$.['a','b']` (a dot before a bracket, and a union of
 * quoted names) becomes `$[a,b]`. Everything else (dots, `[n]`, `[*]`, `..`, filters) is common to both.
 */
export function toJsonPathPlus(path: string): string {
  return path.replace(/\.\[/g, '[').replace(QUOTED_UNION, (u) => {
    const names = [...u.matchAll(new RegExp(QUOTED, 'g'))].map((m) =>
      m[0].slice(1, -1).replace(/\\(.)/g, '$1'),
    );
    return `[${names.join(',')}]`;
  });
}

interface Match {
  value: unknown;
  parent: unknown;
  parentProperty: string | number;
}

function query(path: string, json: unknown): Match[] {
  if (json === null || typeof json !== 'object') return [];
  const r = JSONPath({ path, json: json as object, resultType: 'all', wrap: true, eval: 'safe' }) as unknown;
  return Array.isArray(r) ? (r as Match[]) : [];
}

/** Jayway's `map` as Snowplow uses it: strings are replaced, and the strings directly inside a matched array. */
function touchesStrings(matches: readonly Match[]): boolean {
  return matches.some(
    (m) =>
      typeof m.value === 'string' || (Array.isArray(m.value) && m.value.some((x) => typeof x === 'string')),
  );
}

function parseRule(entry: unknown, where: string): Rule {
  if (!isObject(entry)) throw new EnrichmentConfigError(`${where}: expected an object with pojo or json`);
  const { pojo, json } = entry;
  if (isObject(pojo)) {
    const index = typeof pojo.field === 'string' ? SCALAR_FIELDS.get(pojo.field) : undefined;
    if (index === undefined) {
      throw new EnrichmentConfigError(
        `${where}.pojo.field: expected one of ${[...SCALAR_FIELDS.keys()].join(', ')}`,
      );
    }
    return { kind: 'pojo', field: pojo.field as string, index };
  }
  if (isObject(json)) {
    const { field, schemaCriterion: criterion, jsonPath } = json;
    if (field !== 'contexts' && field !== 'derived_contexts' && field !== 'unstruct_event') {
      throw new EnrichmentConfigError(
        `${where}.json.field: expected one of contexts, derived_contexts, unstruct_event`,
      );
    }
    let c: ReturnType<typeof schemaCriterion>;
    try {
      c = schemaCriterion(criterion as string);
    } catch {
      throw new EnrichmentConfigError(
        `${where}.json.schemaCriterion: expected an Iglu criterion (iglu:vendor/name/jsonschema/1-*-*)`,
      );
    }
    if (typeof jsonPath !== 'string' || !jsonPath.startsWith('$')) {
      throw new EnrichmentConfigError(`${where}.json.jsonPath: expected a JSONPath starting with $`);
    }
    const q = toJsonPathPlus(jsonPath);
    try {
      JSONPath({ path: q, json: { probe: [] }, wrap: true, eval: 'safe' });
    } catch (e) {
      throw new EnrichmentConfigError(
        `${where}.json.jsonPath: invalid JSONPath "${jsonPath}" (${(e as Error).message})`,
      );
    }
    return {
      kind: 'json',
      field,
      matches: (schema) => {
        const k = parseSchemaKey(schema);
        return k.ok && c.matches(k.value);
      },
      jsonPath,
      query: q,
    };
  }
  throw new EnrichmentConfigError(`${where}: expected an object with pojo or json`);
}

function flag(config: EnrichmentConfig, key: string): boolean {
  // emitEvent / anonymousOnly sit beside `parameters` in the 2-0-x config; accept them inside it too.
  const data = config.data;
  const v = isObject(data) && key in data ? data[key] : config.parameters[key];
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new EnrichmentConfigError(`${key}: expected a boolean`);
  return v;
}

export const piiPseudonymizationEnrichment: EnrichmentDefinition = {
  name: 'pii_enrichment_config',
  criterion: 'iglu:com.snowplowanalytics.snowplow.enrichments/pii_enrichment_config/jsonschema/2-*-*',
  create(config: EnrichmentConfig): Enrichment {
    const p = config.parameters;
    if (!Array.isArray(p.pii)) throw new EnrichmentConfigError('parameters.pii: expected an array of fields');
    const rules = p.pii.map((e, i) => parseRule(e, `parameters.pii[${i}]`));
    const pseudonymize = isObject(p.strategy) ? p.strategy.pseudonymize : undefined;
    if (!isObject(pseudonymize)) {
      throw new EnrichmentConfigError('parameters.strategy.pseudonymize: expected {hashFunction, salt}');
    }
    const hashFunction = pseudonymize.hashFunction;
    const algorithm = typeof hashFunction === 'string' ? HASHES[hashFunction] : undefined;
    if (algorithm === undefined) {
      throw new EnrichmentConfigError(
        `parameters.strategy.pseudonymize.hashFunction: expected one of ${Object.keys(HASHES).join(', ')}`,
      );
    }
    if (!getHashes().includes(algorithm)) {
      throw new EnrichmentConfigError(
        `parameters.strategy.pseudonymize.hashFunction: ${hashFunction} is not available in this Node.js (OpenSSL 3 disables it); choose another`,
      );
    }
    const salt = pseudonymize.salt;
    if (typeof salt !== 'string')
      throw new EnrichmentConfigError('parameters.strategy.pseudonymize.salt: expected a string');
    const emitEvent = flag(config, 'emitEvent');
    const anonymousOnly = flag(config, 'anonymousOnly');
    const scramble = (s: string): string =>
      createHash(algorithm)
        .update(s + salt, 'utf8')
        .digest('hex');

    /** The entity with its matches hashed (a copy: entities may be shared with caches), or null if untouched. */
    const scrambleEntity = (
      e: SelfDescribingJson,
      rule: Rule & { kind: 'json' },
      log: JsonModified[] | null,
    ): SelfDescribingJson | null => {
      if (!rule.matches(e.schema) || !touchesStrings(query(rule.query, e.data))) return null;
      const data = structuredClone(e.data);
      const record = (originalValue: string, modifiedValue: string): void => {
        log?.push({
          fieldName: rule.field,
          originalValue,
          modifiedValue,
          jsonPath: rule.jsonPath,
          schema: e.schema,
        });
      };
      for (const m of query(rule.query, data)) {
        const v = m.value;
        if (typeof v === 'string') {
          const h = scramble(v);
          (m.parent as Record<string | number, unknown>)[m.parentProperty] = h;
          record(v, h);
        } else if (Array.isArray(v)) {
          for (let i = 0; i < v.length; i++) {
            const x = v[i];
            if (typeof x !== 'string') continue;
            v[i] = scramble(x);
            record(x, v[i]);
          }
        }
      }
      return { schema: e.schema, data };
    };

    const scrambleList = (
      list: SelfDescribingJson[],
      rule: Rule & { kind: 'json' },
      log: JsonModified[] | null,
    ): SelfDescribingJson[] => {
      let out: SelfDescribingJson[] | null = null;
      for (let i = 0; i < list.length; i++) {
        const changed = scrambleEntity(list[i], rule, log);
        if (changed !== null) (out ??= list.slice())[i] = changed;
      }
      return out ?? list;
    };

    return {
      order: ORDER.piiPseudonymization,
      info: { schemaKey: config.schemaKey, identifier: 'pii' },
      enrich(ev: EnrichedEvent): StepOutcome {
        if (anonymousOnly && !ev.raw.headers.some((h) => h.slice(0, 12).toLowerCase() === 'sp-anonymous')) {
          return undefined;
        }
        const pojo: PojoModified[] | null = emitEvent ? [] : null;
        const json: JsonModified[] | null = emitEvent ? [] : null;
        // Key order of `pii` follows the kind of the first replacement, as Snowplow's fold builds it.
        let firstKind: 'pojo' | 'json' | null = null;
        for (const rule of rules) {
          if (rule.kind === 'pojo') {
            const v = ev.fields[rule.index];
            if (v === null) continue;
            const h = scramble(v);
            ev.fields[rule.index] = h;
            pojo?.push({ fieldName: rule.field, originalValue: v, modifiedValue: h });
            firstKind ??= 'pojo';
            continue;
          }
          const before = json?.length ?? 0;
          if (rule.field === 'contexts') ev.contexts = scrambleList(ev.contexts, rule, json);
          else if (rule.field === 'derived_contexts') ev.derived = scrambleList(ev.derived, rule, json);
          else if (ev.unstruct !== null) ev.unstruct = scrambleEntity(ev.unstruct, rule, json) ?? ev.unstruct;
          if ((json?.length ?? 0) > before) firstKind ??= 'json';
        }
        if (emitEvent && firstKind !== null && pojo !== null && json !== null) {
          // Snowplow prepends each replacement while folding, so both lists come out in reverse order.
          const pii: Record<string, unknown> = {};
          const lists = { pojo: pojo.reverse(), json: json.reverse() };
          for (const k of firstKind === 'pojo' ? (['pojo', 'json'] as const) : (['json', 'pojo'] as const)) {
            if (lists[k].length > 0) pii[k] = lists[k];
          }
          prependDerived(ev, [
            {
              schema: PII_TRANSFORMATION_SCHEMA,
              data: { pii, strategy: { pseudonymize: { hashFunction } } },
            },
          ]);
        }
        return undefined;
      },
    };
  },
};
