/**
 * PostgreSQL loader options as the user writes them (`warehouse.postgres` in the config file), validated once
 * with defaults. Connection settings not given fall back to libpq's environment variables (`PGHOST`,
 * `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`), then to libpq's defaults. A bad value fails at start with
 * a message naming the key (or the environment variable).
 *
 * @example
 * const cfg = parsePostgresLoaderConfig({ database: 'snowplow', maxRows: 10_000 }, { env: process.env });
 * // cfg.schema === 'atomic', cfg.connection.host === process.env.PGHOST ?? 'localhost'
 */
import { userInfo } from 'node:os';
import { z } from 'zod';
import { KeyedConfigError, parsePluginOptions } from '../../runtime/plugin-config.js';

/** SQL identifiers are spliced into DDL, so only plain unquoted names are accepted. */
const identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'must be a plain SQL identifier (letters, digits, _)');

const port = z.number().int().min(1).max(65535);

export const postgresLoaderConfigSchema = z.strictObject({
  /** a `postgres://user:pass@host:port/db` URL; the separate keys below override its parts */
  url: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
    .optional(),
  host: z.string().min(1).optional(),
  port: port.optional(),
  user: z.string().min(1).optional(),
  password: z.string().optional(),
  database: z.string().min(1).optional(),
  /** TLS: `false` (default), `true`, or `"no-verify"` (encrypt, do not check the certificate) */
  ssl: z.union([z.boolean(), z.literal('no-verify')]).default(false),
  /** schema holding `events` and `bad_rows` (Snowplow's is `atomic`) */
  schema: identifier.default('atomic'),
  /** a batch (one COPY, one transaction) holds at most this many lines… */
  maxRows: z.number().int().min(1).max(1_000_000).default(5000),
  /** …and at most this many bytes of TSV; loadGood splits larger calls into such batches */
  maxBytes: z
    .number()
    .int()
    .min(1024)
    .default(16 * 1024 * 1024),
  /** the caller's stage flushes a batch when its oldest line has waited this long */
  maxDelayMs: z.number().int().min(1).max(600_000).default(1000),
  /** pooled connections (the load stage uses one for good and one for bad rows at a time) */
  poolSize: z.number().int().min(1).max(100).default(2),
  /** how long to wait for a connection (TCP + auth) before failing the call */
  connectTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
  /** attempts to (re)connect when a call cannot get a connection, with exponential backoff from 100 ms */
  connectRetries: z.number().int().min(0).max(100).default(3),
  /** server-side `statement_timeout` for the loader's statements; 0 = none */
  statementTimeoutMs: z.number().int().min(0).default(0),
  /** `lock_timeout` while adding columns (ALTER TABLE waits for running transactions on events) */
  migrationLockTimeoutMs: z.number().int().min(0).default(60_000),
  /** `application_name`, visible in pg_stat_activity */
  applicationName: z.string().max(63).default('furrow-loader'),
});

export type PostgresLoaderOptions = z.input<typeof postgresLoaderConfigSchema>;

export interface PostgresConnectionConfig {
  readonly connectionString: string | undefined;
  readonly host: string | undefined;
  readonly port: number | undefined;
  readonly user: string | undefined;
  readonly password: string | undefined;
  readonly database: string | undefined;
  readonly ssl: boolean | 'no-verify';
}

export interface PostgresLoaderConfig {
  readonly connection: PostgresConnectionConfig;
  readonly schema: string;
  readonly maxRows: number;
  readonly maxBytes: number;
  readonly maxDelayMs: number;
  readonly poolSize: number;
  readonly connectTimeoutMs: number;
  readonly connectRetries: number;
  readonly statementTimeoutMs: number;
  readonly migrationLockTimeoutMs: number;
  readonly applicationName: string;
}

export class PostgresConfigError extends KeyedConfigError {
  override name = 'PostgresConfigError';
}

export interface ParseContext {
  /** environment for the PG* fallbacks; default `process.env` */
  env?: Readonly<Record<string, string | undefined>>;
  /** how the options are reached in the whole config, for error messages */
  keyPrefix?: string;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

/** Validates user options, applies PG* environment fallbacks and defaults; throws `PostgresConfigError`. */
export function parsePostgresLoaderConfig(input: unknown, ctx: ParseContext = {}): PostgresLoaderConfig {
  const prefix = ctx.keyPrefix ?? 'warehouse.postgres';
  const env = ctx.env ?? process.env;
  const parsed = {
    data: parsePluginOptions(
      postgresLoaderConfigSchema,
      input,
      prefix,
      (key, message) => new PostgresConfigError(key, message),
    ),
  };
  const o = parsed.data;
  let envPort: number | undefined;
  const rawPort = nonEmpty(env.PGPORT);
  if (rawPort !== undefined) {
    envPort = Number(rawPort);
    if (!/^\d+$/.test(rawPort) || !port.safeParse(envPort).success)
      throw new PostgresConfigError('PGPORT', `must be a port number (1-65535), got "${rawPort}"`);
  }
  // With a URL, only explicit keys override it; the environment fills what neither gives.
  const fromUrl = o.url !== undefined;
  const pick = <T>(explicit: T | undefined, fallback: T | undefined): T | undefined =>
    explicit !== undefined ? explicit : fromUrl ? undefined : fallback;
  return {
    connection: {
      connectionString: o.url,
      host: pick(o.host, nonEmpty(env.PGHOST) ?? 'localhost'),
      port: pick(o.port, envPort ?? 5432),
      user: pick(o.user, nonEmpty(env.PGUSER) ?? safeUserName()),
      password: pick(o.password, env.PGPASSWORD),
      database: pick(o.database, nonEmpty(env.PGDATABASE)),
      ssl: o.ssl,
    },
    schema: o.schema,
    maxRows: o.maxRows,
    maxBytes: o.maxBytes,
    maxDelayMs: o.maxDelayMs,
    poolSize: o.poolSize,
    connectTimeoutMs: o.connectTimeoutMs,
    connectRetries: o.connectRetries,
    statementTimeoutMs: o.statementTimeoutMs,
    migrationLockTimeoutMs: o.migrationLockTimeoutMs,
    applicationName: o.applicationName,
  };
}

/** libpq's default user is the OS user. */
function safeUserName(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}

/** The connection for log lines and errors: never the password. */
export function describeConnection(c: PostgresConnectionConfig): string {
  if (c.connectionString !== undefined && c.host === undefined) {
    return c.connectionString.replace(/\/\/([^:@/]*)(:[^@/]*)?@/, '//$1@');
  }
  return `postgres://${c.user ?? ''}@${c.host ?? 'localhost'}:${c.port ?? 5432}/${c.database ?? c.user ?? ''}`;
}
