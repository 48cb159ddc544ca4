/**
 * ua_parser enrichment (spec §4.4): the ua-parser `regexes.yaml` rules (uap-core, bundled from npm, or a custom
 * file given as `{uri, database}`) turned into `ua_parser_context/1-0-0`.
 *
 * The parser itself (`UapParser`) is shared with the YAUAA stand-in (`yauaa.ts`), so the ~1,200 rules are
 * compiled once per file and both enrichments agree on family, versions and device.
 *
 * @example
 * {"schema":"iglu:com.snowplowanalytics.snowplow/ua_parser_config/jsonschema/1-0-1",
 *  "data":{"vendor":"com.snowplowanalytics.snowplow","name":"ua_parser_config","enabled":true,"parameters":{}}}
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parse as parseYaml } from 'yaml';
import { Lru } from '../../iglu/lru.js';
import { F } from '../../protocol/enriched-fields.js';
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

export const UA_PARSER_CONTEXT_SCHEMA =
  'iglu:com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-0';

export interface UapAgent {
  family: string;
  major: string | null;
  minor: string | null;
  patch: string | null;
  /** a fourth version part when the rule captures one (uap-core `patch_minor`); not in the Snowplow context */
  patchMinor: string | null;
}

/** An operating system has the same version parts as an agent. */
export type UapOs = UapAgent;

export interface UapDevice {
  family: string;
  brand: string | null;
  model: string | null;
}

export interface UapResult {
  userAgent: UapAgent;
  os: UapOs;
  device: UapDevice;
}

interface Rule {
  re: RegExp;
  /** replacements by output slot; undefined = take the capture group of the same position */
  repl: Array<string | undefined>;
}

const $N = /\$(\d)/g;

/** `$1`…`$9` replaced by the capture groups (a missing group is empty), trimmed; empty → null. */
function substitute(template: string, m: RegExpExecArray): string | null {
  const s = template.indexOf('$') < 0 ? template : template.replace($N, (_, d: string) => m[Number(d)] ?? '');
  const t = s.trim();
  return t === '' ? null : t;
}

/** Slot `i` (0-based): the replacement if the rule has one, else capture group `group`. */
function slot(rule: Rule, m: RegExpExecArray, i: number, group: number): string | null {
  const r = rule.repl[i];
  if (r !== undefined) return substitute(r, m);
  const g = m[group];
  return g === undefined || g === '' ? null : g;
}

function compile(list: unknown, keys: readonly string[], where: string): Rule[] {
  if (!Array.isArray(list)) throw new Error(`${where}: expected a list`);
  return list.map((entry, i) => {
    const e = entry as Record<string, unknown>;
    if (typeof e?.regex !== 'string') throw new Error(`${where}[${i}].regex: expected a string`);
    let re: RegExp;
    try {
      re = new RegExp(e.regex, e.regex_flag === 'i' ? 'i' : '');
    } catch (err) {
      throw new Error(`${where}[${i}].regex: ${(err as Error).message}`);
    }
    const repl = keys.map((k) => {
      const v = e[k];
      return v === undefined || v === null ? undefined : String(v);
    });
    return { re, repl };
  });
}

const AGENT_KEYS = [
  'family_replacement',
  'v1_replacement',
  'v2_replacement',
  'v3_replacement',
  'v4_replacement',
];
const OS_KEYS = [
  'os_replacement',
  'os_v1_replacement',
  'os_v2_replacement',
  'os_v3_replacement',
  'os_v4_replacement',
];
const DEVICE_KEYS = ['device_replacement', 'brand_replacement', 'model_replacement'];

/**
 * A compiled `regexes.yaml`: first matching rule wins per section (uap-core specification 0.2); no match gives
 * family `Other` with null versions. Results are cached by the raw user agent, since trackers repeat them.
 */

/** The first matching rule's family and version parts (agents and OSes share the shape), else `Other`. */
function firstVersioned(rules: readonly Rule[], ua: string): UapAgent {
  for (const rule of rules) {
    const m = rule.re.exec(ua);
    if (m === null) continue;
    return {
      family: slot(rule, m, 0, 1) ?? 'Other',
      major: slot(rule, m, 1, 2),
      minor: slot(rule, m, 2, 3),
      patch: slot(rule, m, 3, 4),
      patchMinor: slot(rule, m, 4, 5),
    };
  }
  return { family: 'Other', major: null, minor: null, patch: null, patchMinor: null };
}

export class UapParser {
  private readonly agents: Rule[];
  private readonly oses: Rule[];
  private readonly devices: Rule[];
  private readonly cache: Lru<string, UapResult>;

  constructor(yamlText: string, cacheSize = 5000) {
    const doc = parseYaml(yamlText) as Record<string, unknown> | null;
    if (typeof doc !== 'object' || doc === null) throw new Error('not a regexes.yaml document');
    this.agents = compile(doc.user_agent_parsers, AGENT_KEYS, 'user_agent_parsers');
    this.oses = compile(doc.os_parsers, OS_KEYS, 'os_parsers');
    this.devices = compile(doc.device_parsers ?? [], DEVICE_KEYS, 'device_parsers');
    this.cache = new Lru(cacheSize);
  }

  parse(ua: string): UapResult {
    let r = this.cache.get(ua);
    if (r === undefined) {
      r = { userAgent: this.parseAgent(ua), os: this.parseOs(ua), device: this.parseDevice(ua) };
      this.cache.set(ua, r);
    }
    return r;
  }

  private parseAgent(ua: string): UapAgent {
    return firstVersioned(this.agents, ua);
  }

  private parseOs(ua: string): UapOs {
    return firstVersioned(this.oses, ua);
  }

  private parseDevice(ua: string): UapDevice {
    for (const rule of this.devices) {
      const m = rule.re.exec(ua);
      if (m === null) continue;
      return {
        family: slot(rule, m, 0, 1) ?? 'Other',
        brand: slot(rule, m, 1, Number.NaN),
        // Without a model replacement the model is the first group, as the specification says.
        model: slot(rule, m, 2, 1),
      };
    }
    return { family: 'Other', brand: null, model: null };
  }
}

let bundled: UapParser | undefined;

/** Where npm put uap-core's `regexes.yaml` (resolved through the package, never copied into the repo). */
export function bundledRegexesPath(): string {
  return createRequire(import.meta.url).resolve('uap-core/regexes.yaml');
}

/** The parser over the bundled uap-core rules, compiled on first use and shared by every enrichment. */
export function bundledUapParser(): UapParser {
  bundled ??= new UapParser(readFileSync(bundledRegexesPath(), 'utf8'));
  return bundled;
}

/** `ua_parser_context/1-0-0` data, key order and nulls as Snowplow writes them. */
export function uaParserContextData(r: UapResult): Record<string, string | null> {
  const a = r.userAgent;
  const o = r.os;
  const sp = (v: string | null) => (v === null ? '' : ' ' + v);
  const dot = (v: string | null) => (v === null ? '' : '.' + v);
  return {
    useragentFamily: a.family,
    useragentMajor: a.major,
    useragentMinor: a.minor,
    useragentPatch: a.patch,
    useragentVersion: a.family + sp(a.major) + dot(a.minor) + dot(a.patch),
    osFamily: o.family,
    osMajor: o.major,
    osMinor: o.minor,
    osPatch: o.patch,
    osPatchMinor: o.patchMinor,
    osVersion: o.family + sp(o.major) + dot(o.minor) + dot(o.patch) + dot(o.patchMinor),
    deviceFamily: r.device.family,
  };
}

/** `{uri, database}` of a custom rules file, or null for the bundled rules. */
function customRules(p: Record<string, unknown>): AssetRef | null {
  const { uri, database } = p;
  if (uri === undefined && database === undefined) return null;
  if (typeof uri !== 'string')
    throw new EnrichmentConfigError('parameters.uri: expected a string next to database');
  if (typeof database !== 'string' || database === '') {
    throw new EnrichmentConfigError('parameters.database: expected a file name next to uri');
  }
  return { uri, database };
}

export const uaParserEnrichment: EnrichmentDefinition = {
  name: 'ua_parser_config',
  criterion: 'iglu:com.snowplowanalytics.snowplow/ua_parser_config/jsonschema/1-*-*',
  async create(config: EnrichmentConfig, env: EnrichmentEnv): Promise<Enrichment> {
    const p = config.parameters;
    for (const k of Object.keys(p)) {
      if (k !== 'uri' && k !== 'database')
        throw new EnrichmentConfigError(`parameters.${k}: unknown parameter`);
    }
    const ref = customRules(p);
    const rules =
      ref === null
        ? null
        : await RefreshingAsset.load(ref, (bytes) => new UapParser(bytes.toString('utf8')), env);
    // Compiled here, at start, so the first event does not pay for ~1,200 regexes.
    const fixed = rules === null ? bundledUapParser() : null;
    const info = { schemaKey: config.schemaKey, identifier: 'ua-parser' };
    return {
      order: ORDER.uaParser,
      info,
      enrich(ev: EnrichedEvent): StepOutcome {
        const ua = ev.fields[F.useragent];
        if (ua === null) return undefined;
        const parser = fixed ?? rules!.value;
        let data: Record<string, string | null>;
        try {
          data = uaParserContextData(parser.parse(ua));
        } catch (e) {
          return [
            { enrichment: info, message: { error: `Exception parsing useragent: ${(e as Error).message}` } },
          ];
        }
        const ctx: SelfDescribingJson = { schema: UA_PARSER_CONTEXT_SCHEMA, data };
        prependDerived(ev, [ctx]);
        return undefined;
      },
      async close() {
        rules?.close();
      },
    };
  },
};
