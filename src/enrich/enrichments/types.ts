import type { Resolver } from '../../iglu/types.js';
import type { EnrichedEvent } from '../event.js';

/**
 * Where a step sits in Snowplow's fixed enrichment order (`EnrichmentManager.accState`, spec §3.3).
 * Built-in steps and configured enrichments are merged by this number, so an enrichment only has to
 * say where it belongs.
 */
export const ORDER = {
  vCollectorCheck: 1,
  pageUri: 2,
  derivedTstamp: 3,
  iabSpidersAndRobots: 4,
  userAgentUtils: 5,
  uaParser: 6,
  currencyConversion: 7,
  refererUri: 8,
  refererParser: 8.5,
  pageQuery: 9,
  campaignAttribution: 10,
  crossNavigation: 11,
  eventFingerprint: 12,
  cookieExtractor: 13,
  httpHeaderExtractor: 14,
  weather: 15,
  yauaa: 16,
  schemaFields: 17,
  ipLookups: 18,
  asnLookups: 19,
  botDetection: 20,
  javascript: 21,
  sqlQuery: 22,
  apiRequest: 23,
  anonIp: 24,
  piiPseudonymization: 25,
} as const;

/** `enrichment` part of a failure message: which configured enrichment failed (null for built-ins). */
export interface EnrichmentInfo {
  schemaKey: string;
  identifier: string;
}

/** One entry of an `enrichment_failures` bad row. */
export interface EnrichmentFailure {
  enrichment: EnrichmentInfo | null;
  message: Record<string, unknown>;
}

/** Returned by a step that wants the whole event discarded, with no bad row (JS `event.drop()`). */
export const DROP = Symbol('drop');

export type StepOutcome = undefined | EnrichmentFailure[] | typeof DROP;

/**
 * A prepared enrichment: everything that depends only on its configuration (compiled regexes,
 * loaded databases, clients) was resolved when it was built, so `enrich` does only per-event work.
 * It mutates the event and returns failures instead of throwing.
 */
export interface Enrichment {
  readonly order: number;
  readonly info: EnrichmentInfo | null;
  enrich(ev: EnrichedEvent): StepOutcome | Promise<StepOutcome>;
  close?(): Promise<void>;
}

/** The `data` of an enrichment configuration file (Snowplow's envelope, spec §4.1). */
export interface EnrichmentConfig {
  schemaKey: string;
  vendor: string;
  name: string;
  enabled: boolean;
  parameters: Record<string, unknown>;
  /** the whole `data` object: a few configs keep settings beside `parameters` (PII's `emitEvent`) */
  data?: Record<string, unknown>;
}

export interface EnrichmentEnv {
  resolver: Resolver;
  /** directory against which relative asset paths are resolved */
  baseDir: string;
}

/** A kind of enrichment, registered once in `registry.ts` under its configuration schema name. */
export interface EnrichmentDefinition {
  /** configuration schema name, the dispatch key (`anon_ip`, `ua_parser_config`, …) */
  readonly name: string;
  /** accepted configuration schemas, e.g. `iglu:com.snowplowanalytics.snowplow/anon_ip/jsonschema/1-0-*` */
  readonly criterion: string;
  /**
   * Furrow-only keys of `parameters` (e.g. a configurable API base URL for tests and proxies). Snowplow's
   * config schemas forbid unknown keys, so these are removed before the Iglu validation of the file.
   */
  readonly extensionKeys?: readonly string[];
  /** parse and validate the configuration (throw `EnrichmentConfigError` naming the key), then prepare */
  create(config: EnrichmentConfig, env: EnrichmentEnv): Enrichment | Promise<Enrichment>;
}

export class EnrichmentConfigError extends Error {
  override name = 'EnrichmentConfigError';
}

/** Snowplow prepends each step's entities to the ones derived so far. */
export function prependDerived(ev: EnrichedEvent, entities: EnrichedEvent['derived']): void {
  if (entities.length > 0) ev.derived = entities.concat(ev.derived);
}
