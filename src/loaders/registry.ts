/**
 * Warehouse loaders by name, built from configuration. Adding a warehouse is a folder beside `duckdb/`
 * plus one line here.
 */
import { parseDuckDbLoaderConfig } from './duckdb/config.js';
import { DuckDbLoader } from './duckdb/loader.js';
import { describeConnection, parsePostgresLoaderConfig } from './postgres/config.js';
import { PostgresLoader } from './postgres/loader.js';
import type { Loader } from './types.js';

export interface LoaderContext {
  dataDir: string;
}

export interface LoaderDefinition {
  readonly kind: string;
  /** `options` is the user's `warehouse.<kind>` block, validated by the loader (errors name the key) */
  create(options: unknown, ctx: LoaderContext): Loader & { describe(): string };
}

const definitions: LoaderDefinition[] = [
  {
    kind: 'duckdb',
    create(options, ctx) {
      const cfg = parseDuckDbLoaderConfig(options ?? {}, {
        dataDir: ctx.dataDir,
        keyPrefix: 'warehouse.duckdb',
      });
      return Object.assign(new DuckDbLoader(cfg), { describe: () => `DuckDB ${cfg.path}` });
    },
  },
  {
    kind: 'postgres',
    create(options) {
      const cfg = parsePostgresLoaderConfig(options ?? {}, { keyPrefix: 'warehouse.postgres' });
      return Object.assign(new PostgresLoader(cfg), {
        describe: () => `PostgreSQL ${describeConnection(cfg.connection)} schema ${cfg.schema}`,
      });
    },
  },
];

export const LOADERS: ReadonlyMap<string, LoaderDefinition> = new Map(definitions.map((d) => [d.kind, d]));

export function createLoader(
  kind: string,
  options: unknown,
  ctx: LoaderContext,
): Loader & { describe(): string } {
  const def = LOADERS.get(kind);
  if (def === undefined) {
    throw new Error(
      `warehouse.loader: unknown warehouse "${kind}" (known: ${[...LOADERS.keys()].join(', ')})`,
    );
  }
  return def.create(options, ctx);
}
