/**
 * DuckDB loader options as the user writes them (`warehouse.duckdb` in the config file), validated once
 * with defaults. A bad value fails at start with a message naming the key.
 *
 * @example
 * const cfg = parseDuckDbLoaderConfig({ maxRows: 10_000 }, { dataDir: './furrow-data' });
 * // cfg.path === 'furrow-data/warehouse.duckdb', cfg.schema === 'atomic'
 */
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { KeyedConfigError, parsePluginOptions } from '../../runtime/plugin-config.js';

/** SQL identifiers are spliced into DDL, so only plain unquoted names are accepted. */
const identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'must be a plain SQL identifier (letters, digits, _)');

const size = z
  .string()
  .regex(/^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i, 'a size such as "512MB" or "2GiB"');

export const duckDbLoaderConfigSchema = z.strictObject({
  /** the DuckDB database file; default `<dataDir>/warehouse.duckdb` */
  path: z.string().min(1).optional(),
  /** schema holding `events` and `bad_rows` (Snowplow's is `atomic`) */
  schema: identifier.default('atomic'),
  /** a batch is flushed when it holds this many lines… */
  maxRows: z.number().int().min(1).max(1_000_000).default(5000),
  /** …or this many bytes of TSV… */
  maxBytes: z
    .number()
    .int()
    .min(1024)
    .default(16 * 1024 * 1024),
  /** …or when its oldest line has waited this long */
  maxDelayMs: z.number().int().min(1).max(600_000).default(1000),
  /** where batches are staged as TSV files before `COPY`; default: beside the database file */
  stagingDir: z.string().min(1).optional(),
  /**
   * DuckDB worker threads. Default 1: a batch of a few thousand rows gains nothing from DuckDB's
   * parallelism and pays for its coordination, 80 vs 135 µs of process CPU per row with 2 threads on the
   * 2-core reference VM (150k rows in batches of 5k), and the batches finished sooner too; in `furrow up`
   * the other cores belong to the collector and the enrich workers anyway.
   */
  threads: z.number().int().min(1).max(256).default(1),
  /** DuckDB `memory_limit`, e.g. `"1GB"`; default: DuckDB's own (80% of RAM) */
  memoryLimit: size.optional(),
  /**
   * DuckDB `checkpoint_threshold`: WAL size that triggers a checkpoint. DuckDB's 16MB default checkpoints
   * every couple of 5k-row batches, and each checkpoint rewrites the still-growing row group (122,880
   * rows), which halved the load rate in bench/duckdb-loader.ts; the price is a longer WAL replay on open.
   */
  checkpointThreshold: size.default('256MB'),
  /**
   * Dedupe on event_id looks at the rows whose collector_tstamp is within the batch's range widened by
   * this many seconds (replays always match exactly; see loader.ts `dedupeFilter`). Wider catches older
   * tracker resends and costs a longer scan per batch.
   */
  dedupeWindowSeconds: z.number().int().min(0).max(31_536_000).default(600),
});

export type DuckDbLoaderOptions = z.input<typeof duckDbLoaderConfigSchema>;

export interface DuckDbLoaderConfig {
  readonly path: string;
  readonly schema: string;
  readonly maxRows: number;
  readonly maxBytes: number;
  readonly maxDelayMs: number;
  readonly stagingDir: string;
  readonly threads: number;
  readonly memoryLimit: string | undefined;
  readonly checkpointThreshold: string;
  readonly dedupeWindowSeconds: number;
}

export class DuckDbConfigError extends KeyedConfigError {
  override name = 'DuckDbConfigError';
}

export interface ParseContext {
  /** the data directory the default `path` lives in */
  dataDir?: string;
  /** how the options are reached in the whole config, for error messages */
  keyPrefix?: string;
}

/** Validates user options and fills defaults; throws `DuckDbConfigError` naming the first bad key. */
export function parseDuckDbLoaderConfig(input: unknown, ctx: ParseContext = {}): DuckDbLoaderConfig {
  const prefix = ctx.keyPrefix ?? 'warehouse.duckdb';
  const parsed = {
    data: parsePluginOptions(
      duckDbLoaderConfigSchema,
      input,
      prefix,
      (key, message) => new DuckDbConfigError(key, message),
    ),
  };
  const o = parsed.data;
  const path = o.path ?? join(ctx.dataDir ?? './furrow-data', 'warehouse.duckdb');
  // `:memory:` has no directory; staging files then go to the working directory's data folder.
  const stagingDir = o.stagingDir ?? (path === ':memory:' ? (ctx.dataDir ?? '.') : dirname(path));
  return {
    path,
    schema: o.schema,
    maxRows: o.maxRows,
    maxBytes: o.maxBytes,
    maxDelayMs: o.maxDelayMs,
    stagingDir,
    threads: o.threads,
    memoryLimit: o.memoryLimit,
    checkpointThreshold: o.checkpointThreshold,
    dedupeWindowSeconds: o.dedupeWindowSeconds,
  };
}
