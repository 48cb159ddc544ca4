/**
 * Furrow's configuration: one typed, validated object built from a JSON file, then environment
 * variables, then command-line flags (later sources win). A bad value fails at start with a message
 * that names the key.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { collectorConfigSchema } from '../collector/config.js';

export const furrowConfigSchema = z
  .strictObject({
    /** where the spool, the embedded streams and the DuckDB warehouse live */
    dataDir: z.string().min(1).default('./furrow-data'),
    collector: collectorConfigSchema,
    iglu: z
      .strictObject({
        /** a standard Snowplow resolver-config JSON file; default: Iglu Central over HTTP + `schemasDir` */
        resolverFile: z.string().optional(),
        /** a local folder of schemas laid out as `<vendor>/<name>/jsonschema/<version>` (or with a `schemas/` level) */
        schemasDir: z.string().default('./schemas'),
      })
      .prefault({}),
    enrich: z
      .strictObject({
        /** worker threads; default: one per core */
        workers: z.number().int().min(1).max(64).default(Math.max(1, availableParallelism())),
        /** folder of Snowplow enrichment configuration files */
        enrichmentsDir: z.string().optional(),
        /** with no enrichmentsDir: `standard` (ua_parser, campaigns, fingerprint, bot detection) or `none` */
        defaultEnrichments: z.enum(['standard', 'none']).default('standard'),
        /** a referer database (path or URL, Snowplow's referers.json/.yml) enabling the default referer_parser */
        refererDatabase: z.string().optional(),
        maxJsonDepth: z.number().int().min(1).default(50),
        acceptInvalid: z.boolean().default(false),
        /**
         * Raw records per enrich batch (one acknowledgement). 100, not 1000: the main thread's CPU per event
         * (splitting, result messages, publishing, the Micro feed) fell from ~18-30 to ~14 µs in the worker
         * pool bench, and a batch's outputs wait less for its slowest task; at 5,000 events/s of 10-event
         * requests that is still only ~5 batches/s to publish and acknowledge.
         */
        batchSize: z.number().int().min(1).default(100),
      })
      .prefault({}),
    spool: z
      .strictObject({
        /** refuse (503) once the spool holds this many bytes */
        maxBytes: z
          .number()
          .int()
          .positive()
          .default(1024 ** 3),
        /** `fsync`: a 200 means fsynced; `os`: a 200 means written to the OS (dev only) */
        durability: z.enum(['fsync', 'os']).default('fsync'),
      })
      .prefault({}),
    streams: z
      .strictObject({
        /** `embedded` (a durable log in the data directory), `kafka`, `nats` or `pubsub` */
        engine: z.string().default('embedded'),
        /** stream (topic) names of the three streams */
        names: z
          .strictObject({
            raw: z.string().min(1).default('raw'),
            enriched: z.string().min(1).default('enriched'),
            bad: z.string().min(1).default('bad'),
          })
          .prefault({}),
        /** engine options, validated by the engine (see docs/distributed.md) */
        embedded: z.unknown().optional(),
        kafka: z.unknown().optional(),
        nats: z.unknown().optional(),
        pubsub: z.unknown().optional(),
      })
      .prefault({}),
    warehouse: z
      .strictObject({
        /** `duckdb` (a file in the data directory) or `postgres` */
        loader: z.string().default('duckdb'),
        duckdb: z.unknown().optional(),
        postgres: z.unknown().optional(),
      })
      .prefault({}),
    loader: z
      .strictObject({
        batchRows: z.number().int().min(1).default(5000),
        maxDelayMs: z.number().int().min(1).default(500),
      })
      .prefault({}),
    micro: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** events kept in memory for the Micro API (oldest dropped beyond); each costs a few KB */
        maxEvents: z.number().int().min(1).default(10_000),
      })
      .prefault({}),
    shutdown: z
      .strictObject({
        /** after SIGTERM keep serving (readiness false) this long, so load balancers stop sending */
        preTerminationMs: z.number().int().min(0).default(1000),
        /** drain the spool and in-flight batches for at most this long */
        drainDeadlineMs: z.number().int().min(0).default(30_000),
      })
      .prefault({}),
    log: z
      .strictObject({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .prefault({}),
  })
  .prefault({});

export type FurrowConfig = z.output<typeof furrowConfigSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Environment variables and the config key each one sets (documented in `furrow up --help`). */
export const ENV_KEYS: ReadonlyArray<readonly [string, string, 'string' | 'number' | 'boolean']> = [
  ['FURROW_DATA_DIR', 'dataDir', 'string'],
  ['FURROW_HOST', 'collector.interface', 'string'],
  ['FURROW_PORT', 'collector.port', 'number'],
  ['FURROW_RESOLVER', 'iglu.resolverFile', 'string'],
  ['FURROW_SCHEMAS', 'iglu.schemasDir', 'string'],
  ['FURROW_ENRICHMENTS', 'enrich.enrichmentsDir', 'string'],
  ['FURROW_WORKERS', 'enrich.workers', 'number'],
  ['FURROW_SPOOL_MAX_BYTES', 'spool.maxBytes', 'number'],
  ['FURROW_DURABILITY', 'spool.durability', 'string'],
  ['FURROW_LOG_LEVEL', 'log.level', 'string'],
  ['FURROW_STREAMS', 'streams.engine', 'string'],
  ['FURROW_WAREHOUSE', 'warehouse.loader', 'string'],
];

type Json = Record<string, unknown>;

/** Sets `obj.a.b.c = value` for the dotted key `a.b.c`, creating objects on the way. */
export function setPath(obj: Json, key: string, value: unknown): void {
  const parts = key.split('.');
  let o = obj;
  for (const p of parts.slice(0, -1)) {
    if (typeof o[p] !== 'object' || o[p] === null) o[p] = {};
    o = o[p] as Json;
  }
  o[parts[parts.length - 1]] = value;
}

function coerce(key: string, raw: string, kind: 'string' | 'number' | 'boolean'): unknown {
  if (kind === 'string') return raw;
  if (kind === 'number') {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n))
      throw new ConfigError(`${key}: expected a number, got "${raw}"`);
    return n;
  }
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(`${key}: expected true or false, got "${raw}"`);
}

export interface ConfigSources {
  /** path of a JSON config file */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** dotted key → value, from flags */
  overrides?: ReadonlyArray<readonly [string, unknown]>;
  /** dotted key → value, a command's own defaults (below the file) */
  defaults?: ReadonlyArray<readonly [string, unknown]>;
}

function deepMerge(into: Json, from: Json): Json {
  for (const [k, v] of Object.entries(from)) {
    const cur = into[k];
    if (
      typeof v === 'object' &&
      v !== null &&
      !Array.isArray(v) &&
      typeof cur === 'object' &&
      cur !== null &&
      !Array.isArray(cur)
    ) {
      deepMerge(cur as Json, v as Json);
    } else into[k] = v;
  }
  return into;
}

/** Builds and validates the configuration: file, then environment, then flags. */
export function loadConfig(sources: ConfigSources = {}): FurrowConfig {
  let base: Json = {};
  const env = sources.env ?? process.env;
  const file = sources.file ?? env.FURROW_CONFIG;
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`config file ${file}: ${(e as Error).message}`);
    }
    try {
      base = JSON.parse(text) as Json;
    } catch (e) {
      throw new ConfigError(`config file ${file}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof base !== 'object' || base === null || Array.isArray(base)) {
      throw new ConfigError(`config file ${file}: expected a JSON object`);
    }
  }
  const withDefaults: Json = {};
  for (const [key, value] of sources.defaults ?? []) setPath(withDefaults, key, value);
  base = deepMerge(withDefaults, base);
  for (const [name, key, kind] of ENV_KEYS) {
    const v = env[name];
    if (v !== undefined && v !== '') setPath(base, key, coerce(`${name} (${key})`, v, kind));
  }
  for (const [key, value] of sources.overrides ?? []) if (value !== undefined) setPath(base, key, value);
  const parsed = furrowConfigSchema.safeParse(base);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
