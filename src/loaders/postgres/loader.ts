/**
 * The PostgreSQL warehouse loader: enriched TSV batches → `<schema>.events` (Snowplow's atomic layout plus
 * wide `jsonb` entity columns, schema.ts), bad rows → `<schema>.bad_rows`, over a small connection pool.
 *
 * How a batch loads (one transaction, all or nothing). First the direct path, which is what almost every
 * batch takes: `BEGIN; COPY events (atomic columns, the entity columns the table has, load_tstamp) FROM
 * STDIN; INSERT INTO bad_rows …; COMMIT` — one pass over the rows, no staging copy. It gives up (rolls
 * back, nothing visible) and the batch takes the staged path below when a line needs an entity column
 * the table lacks (a migration), when the unique index on event_id refuses a row (a replay, or a row
 * another loader committed first), or when PostgreSQL refuses a value. The staged path:
 * 1. `BEGIN; CREATE TEMP TABLE furrow_stage (128 typed atomic columns, entities jsonb) ON COMMIT DROP;
 *    COPY furrow_stage FROM STDIN (text)`, the rows encoded while they stream (encoder.ts), so the JS
 *    validation overlaps PostgreSQL's parsing on the other core. Lines that fail validation become
 *    `loader_parsing_error` bad rows; a repeated `event_id` keeps its first line. Each staged row carries its
 *    entity columns as one JSON object, so the COPY can start before the batch's columns are known.
 * 2. Migration, only when the batch carried an entity/event schema whose column does not exist yet: take a
 *    transaction-level advisory lock, re-read the table's columns, `ALTER TABLE … ADD COLUMN IF NOT EXISTS
 *    … jsonb`. The lock serialises loaders racing for the same new schema: the second finds the column
 *    there and adds nothing. Inside the load transaction, so a failed batch leaves no trace at all; the
 *    price is that the ALTER's ACCESS EXCLUSIVE lock is held until this batch commits (tens of
 *    milliseconds, and only for batches that bring a new schema).
 * 3. `INSERT INTO events (…) SELECT …, entities->'<column>' …, load_tstamp FROM furrow_stage
 *    ON CONFLICT (event_id) DO NOTHING; INSERT INTO bad_rows …; COMMIT`. Replays, and rows another loader
 *    committed first, insert nothing.
 *
 * A value PostgreSQL refuses although the encoder accepted it fails the COPY on a known line; that line is
 * moved to the bad rows and the batch retried (at most 64 times), so one line cannot stall the pipeline.
 *
 * Failures: any other error (PostgreSQL down, connection killed mid-batch, statement timeout) rolls the
 * transaction back and rejects; nothing of the batch is visible, the broken connection is discarded, and the
 * caller's retry (LoadStage retries with backoff) loads it on a fresh connection. Only getting a connection
 * is retried here (`connectRetries`), since nothing has happened yet at that point.
 *
 * `loadGood` splits a call larger than `maxRows`/`maxBytes` into several batches, each its own transaction:
 * if a later one fails, the earlier ones stay committed and the caller's retry of the whole call inserts
 * them again as nothing (idempotent), so delivery stays at-least-once without duplicates.
 *
 * @example
 * const loader = new PostgresLoader(parsePostgresLoaderConfig({ database: 'snowplow' }));
 * await loader.init();
 * const { inserted, rejected } = await loader.loadGood(lines);
 * await loader.close();
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { LoaderParsingFailure } from '../../protocol/bad-rows.js';
import type { Processor } from '../../protocol/processor.js';
import type { Logger } from '../../runtime/logger.js';
import { parsingErrorRow } from '../tsv.js';
import type { Loader, LoadResult } from '../types.js';
import { describeConnection, type PostgresLoaderConfig } from './config.js';
import { copyRow, directCopyRow, encodeLine, LOADER_PROCESSOR } from './encoder.js';
import {
  addEntityColumnsDdl,
  copyDirectSql,
  copyStagingSql,
  createStatements,
  eventIdIndexDdl,
  eventsTable,
  insertBadRowsSql,
  insertFromStagingSql,
  isEntityColumnName,
  loadTstampDdl,
  stagingDdl,
} from './schema.js';

export interface PostgresLoaderHooks {
  /** For failure tests: runs inside a batch's transaction after the COPY, with the backend's pid. */
  afterCopy?: (backendPid: number) => void | Promise<void>;
  /** For failure tests: runs inside a batch's transaction just before COMMIT. */
  beforeCommit?: (backendPid: number) => void | Promise<void>;
}

export interface PostgresLoaderOptions {
  /** named in `loader_parsing_error` bad rows */
  processor?: Processor;
  /** the `load_tstamp` clock */
  now?: () => Date;
  log?: Logger;
  hooks?: PostgresLoaderHooks;
  /** extra server settings for the loader's sessions, e.g. `{ temp_buffers: '64MB' }` */
  sessionSettings?: Readonly<Record<string, string>>;
}

/** A line PostgreSQL refused although the encoder accepted it is isolated this many times per batch at most. */
const MAX_POISON_RETRIES = 64;
/**
 * COPY data is written in pieces of this many bytes, each row encoded to UTF-8 straight into the piece:
 * concatenating rows into one string and converting that cost ~3 µs per 2 KB row, 4x the direct write.
 */
const COPY_PIECE = 256 * 1024;
const COPY_LINE_RE = /(?:^|\n)COPY \S+, line (\d+)/;
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01', // admin_shutdown (pg_terminate_backend, fast shutdown)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down)
]);
const CONNECTION_MESSAGE_RE =
  /Connection terminated|connection timeout|not queryable|Client was closed|terminating connection/i;

type PgError = Error & { code?: string; where?: string };

/** Errors after which the connection is unusable and a retry on a new one may succeed. */
export function isConnectionError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as PgError).code;
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08'))) return true;
  return CONNECTION_MESSAGE_RE.test(e.message);
}

/** The 0-based row of a COPY data error (`where`: `COPY furrow_stage, line 3, column …`). */
export function copyErrorLine(e: unknown): number | undefined {
  const err = e as PgError;
  if (typeof err?.code !== 'string' || !(err.code.startsWith('22') || err.code.startsWith('23')))
    return undefined;
  const m = COPY_LINE_RE.exec(err.where ?? '');
  return m === null ? undefined : Number(m[1]) - 1;
}

const NUL_OR_SURROGATE_ESCAPE_RE = /\\u0000|\\u[dD][89a-fA-F]/;
const HUGE_EXPONENT_RE = /\d[eE][+-]?\d{6,}/;
const UNSTORABLE_CHAR_RE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function storableJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    typeof x === 'string' ? x.replace(UNSTORABLE_CHAR_RE, '\uFFFD') : x,
  );
}

/**
 * A bad row as `jsonb` input: kept byte for byte when PostgreSQL can store it; re-serialised with U+0000 and
 * lone surrogates replaced (and absurd exponents turned into null) when not; a string when it is not JSON.
 */
export function badRowJson(text: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return storableJson(text);
  }
  if (!NUL_OR_SURROGATE_ESCAPE_RE.test(text) && !HUGE_EXPONENT_RE.test(text)) return text;
  const json = storableJson(parsed);
  // A NUL left in an object key: keep the whole row as a (sanitised) string instead.
  return /(?<!\\)(?:\\\\)*\\u0000/.test(json) ? storableJson(text) : json;
}

function sqlTimestamp(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A signed 64-bit advisory-lock key derived from a name, the same in every loader process. */
function lockKey(name: string): string {
  return createHash('sha1').update(name).digest().readBigInt64BE(0).toString();
}

interface StreamState {
  /** index in the batch of each staged row, to name the line a COPY error points at */
  rows: number[];
  ids: Set<string>;
  bad: string[];
  /** entity column → first schema URI seen */
  columns: Map<string, string>;
  /** direct path: a line needed an entity column the table lacks, so the COPY stopped short */
  needsMigration: boolean;
}

function newStreamState(): StreamState {
  return { rows: [], ids: new Set(), bad: [], columns: new Map(), needsMigration: false };
}

/** The direct path's COPY target: the table's entity columns, and the batch's load_tstamp. */
interface DirectTarget {
  columns: readonly string[];
  allowed: ReadonlySet<string>;
  loadTs: string;
}

/** Thrown inside the direct path's transaction to roll it back and take the staged path. */
const TAKE_STAGED_PATH = new Error('postgres loader: batch needs the staged path');
const NONE_REFUSED: ReadonlySet<number> = new Set();

export class PostgresLoader implements Loader {
  private readonly pool: pg.Pool;
  private readonly processor: Processor;
  private readonly now: () => Date;
  private readonly log: Logger | undefined;
  private readonly hooks: PostgresLoaderHooks;
  private readonly lockKey: string;
  /** columns of events as last read or added; entity columns missing here trigger a migration */
  private known = new Set<string>();
  private initialized = false;
  private closed = false;
  private readonly watched = new WeakSet<pg.PoolClient>();
  /** Batches committed by each path (see the file comment); for tests and the benchmark. */
  readonly paths = { direct: 0, staged: 0 };

  constructor(
    readonly config: PostgresLoaderConfig,
    options: PostgresLoaderOptions = {},
  ) {
    this.processor = options.processor ?? LOADER_PROCESSOR;
    this.now = options.now ?? (() => new Date());
    this.log = options.log;
    this.hooks = options.hooks ?? {};
    this.lockKey = lockKey(`furrow-loader-postgres:${config.schema}`);
    const c = config.connection;
    // Timestamps are written and compared as UTC wall-clock values (`timestamp without time zone`).
    const settings: Record<string, string> = { TimeZone: 'UTC', ...options.sessionSettings };
    this.pool = new pg.Pool({
      connectionString: c.connectionString,
      host: c.host,
      port: c.port,
      user: c.user,
      password: c.password,
      database: c.database,
      ssl: c.ssl === 'no-verify' ? { rejectUnauthorized: false } : c.ssl,
      max: config.poolSize,
      connectionTimeoutMillis: config.connectTimeoutMs,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: config.applicationName,
      statement_timeout: config.statementTimeoutMs > 0 ? config.statementTimeoutMs : undefined,
      options: Object.entries(settings)
        .map(([k, v]) => `-c ${k}=${v.replace(/[\\ ]/g, '\\$&')}`)
        .join(' '),
    });
    // An idle pooled connection that dies (server restart, pg_terminate_backend) is dropped by the pool;
    // without a listener the 'error' event would crash the process.
    this.pool.on('error', (err) => {
      this.log?.warn({ err }, 'postgres loader: an idle connection failed; it was discarded');
    });
  }

  /** Creates the schema, `events` (with its unique index on event_id) and `bad_rows` if needed. */
  async init(): Promise<void> {
    this.ensureOpen();
    if (this.initialized) return;
    const schema = this.config.schema;
    await this.transaction(async (client) => {
      // Two loaders starting together would otherwise race on the catalog (CREATE … IF NOT EXISTS is not
      // atomic against a concurrent CREATE).
      await client.query('SELECT pg_advisory_xact_lock($1)', [this.lockKey]);
      for (const sql of createStatements(schema)) await client.query(sql);
      const columns = await this.readColumns(client);
      if (!columns.has('load_tstamp')) await client.query(loadTstampDdl(schema));
      const idx = await client.query(
        `SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
         WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indnatts = 1 AND a.attname = 'event_id'`,
        [eventsTable(schema)],
      );
      if (idx.rowCount === 0) await client.query(eventIdIndexDdl(schema));
      columns.add('load_tstamp');
      this.known = columns;
    });
    this.initialized = true;
    this.log?.info(
      { target: describeConnection(this.config.connection), schema },
      'postgres loader: warehouse ready',
    );
  }

  async loadGood(lines: readonly string[]): Promise<LoadResult> {
    this.ensureReady();
    const seen = new Set<string>();
    let inserted = 0;
    let rejected = 0;
    for (const chunk of this.split(lines)) {
      const r = await this.loadBatch(chunk, seen);
      inserted += r.inserted;
      rejected += r.rejected;
    }
    return { inserted, rejected };
  }

  async loadBad(rows: readonly string[]): Promise<number> {
    this.ensureReady();
    if (rows.length === 0) return 0;
    const loadTs = sqlTimestamp(this.now());
    return this.transaction((client) => this.insertBad(client, rows, loadTs));
  }

  /** Read-only convenience for tests and tools: one statement on a pooled connection. */
  async query<R extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    params: unknown[] = [],
  ): Promise<R[]> {
    this.ensureOpen();
    const r = await this.pool.query(sql, params);
    return r.rows as R[];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  /** The batches of one call: at most `maxRows` lines and `maxBytes` bytes of TSV each. */
  private *split(lines: readonly string[]): Generator<readonly string[]> {
    const { maxRows, maxBytes } = this.config;
    let start = 0;
    let bytes = 0;
    for (let i = 0; i < lines.length; i++) {
      const size = Buffer.byteLength(lines[i]) + 1;
      if (i > start && (i - start >= maxRows || bytes + size > maxBytes)) {
        yield lines.slice(start, i);
        start = i;
        bytes = 0;
      }
      bytes += size;
    }
    if (start < lines.length) yield start === 0 ? lines : lines.slice(start);
  }

  /**
   * One batch, one transaction (see the file comment). `seen` holds the event_ids of earlier batches of
   * the same call; ids are added only once this batch committed.
   */
  private async loadBatch(lines: readonly string[], seen: Set<string>): Promise<LoadResult> {
    // One clock reading for the batch, whichever path commits it.
    const firstTs = sqlTimestamp(this.now());
    const direct = await this.loadDirect(lines, seen, firstTs);
    if (direct !== undefined) return direct;
    const schema = this.config.schema;
    /** lines PostgreSQL refused on an earlier attempt, and their bad rows */
    const refused = new Set<number>();
    const refusedRows: string[] = [];
    for (let attempt = 0; ; attempt++) {
      const state = newStreamState();
      const loadTs = attempt === 0 ? firstTs : sqlTimestamp(this.now());
      try {
        const { inserted, added } = await this.transaction(async (client, pid) => {
          await client.query(stagingDdl());
          await pipeline(
            Readable.from(this.encodeStream(lines, refused, seen, state)),
            client.query(copyFrom(copyStagingSql())),
          );
          if (this.hooks.afterCopy !== undefined) await this.hooks.afterCopy(await pid());
          const added = await this.migrate(client, state.columns);
          const columns = [...state.columns.keys()].sort();
          const r =
            state.rows.length === 0
              ? undefined
              : await client.query(insertFromStagingSql(schema, columns), [loadTs]);
          await this.insertBad(client, [...state.bad, ...refusedRows], loadTs);
          if (this.hooks.beforeCommit !== undefined) await this.hooks.beforeCommit(await pid());
          return { inserted: r?.rowCount ?? 0, added };
        });
        for (const id of state.ids) seen.add(id);
        this.paths.staged++;
        if (added.length > 0) {
          for (const c of added) this.known.add(c);
          this.log?.info({ columns: added }, 'postgres loader: added entity columns to events');
        }
        return { inserted, rejected: state.bad.length + refusedRows.length };
      } catch (e) {
        if ((e as PgError).code === '42703') this.known.clear(); // a column vanished: re-read next time
        const row = copyErrorLine(e);
        const index = row === undefined ? undefined : state.rows[row];
        if (index === undefined || attempt >= MAX_POISON_RETRIES) throw e;
        // PostgreSQL refused a value the encoder let through: that line becomes a bad row, the rest retries.
        refused.add(index);
        const failure: LoaderParsingFailure = {
          type: 'RowDecodingError',
          errors: [{ type: 'UnhandledRowDecodingError', message: `PostgreSQL: ${(e as Error).message}` }],
        };
        refusedRows.push(JSON.stringify(parsingErrorRow(lines[index], failure, this.processor)));
        this.log?.warn({ err: e }, 'postgres loader: a line PostgreSQL refused was moved to bad rows');
      }
    }
  }

  /**
   * The direct path (file comment): undefined when the batch must take the staged path instead, with
   * nothing of it committed. Connection failures reject as on the staged path.
   */
  private async loadDirect(
    lines: readonly string[],
    seen: Set<string>,
    loadTs: string,
  ): Promise<LoadResult | undefined> {
    const state = newStreamState();
    try {
      const inserted = await this.transaction(async (client, pid) => {
        if (this.known.size === 0) this.known = await this.readColumns(client);
        const columns = [...this.known].filter(isEntityColumnName).sort();
        const target: DirectTarget = { columns, allowed: new Set(columns), loadTs };
        await pipeline(
          Readable.from(this.encodeStream(lines, NONE_REFUSED, seen, state, target)),
          client.query(copyFrom(copyDirectSql(this.config.schema, columns))),
        );
        if (state.needsMigration) throw TAKE_STAGED_PATH;
        if (this.hooks.afterCopy !== undefined) await this.hooks.afterCopy(await pid());
        await this.insertBad(client, state.bad, target.loadTs);
        if (this.hooks.beforeCommit !== undefined) await this.hooks.beforeCommit(await pid());
        return state.rows.length;
      });
      for (const id of state.ids) seen.add(id);
      this.paths.direct++;
      return { inserted, rejected: state.bad.length };
    } catch (e) {
      if (e === TAKE_STAGED_PATH) return undefined;
      if (isConnectionError(e)) throw e;
      if ((e as PgError).code === '42703') this.known.clear(); // a column vanished: re-read next time
      // 23505 (a replayed event_id), a value PostgreSQL refused, …: the staged path sorts these out, and
      // rethrows what it cannot.
      return undefined;
    }
  }

  /**
   * The COPY data, encoded lazily in pieces as the stream asks for them: staging rows, or with `direct`
   * rows for events itself (stopping at the first line that needs a column the table lacks).
   */
  private *encodeStream(
    lines: readonly string[],
    refused: ReadonlySet<number>,
    seen: ReadonlySet<string>,
    state: StreamState,
    direct?: DirectTarget,
  ): Generator<Buffer> {
    const options = { processor: this.processor, columns: state.columns };
    let piece = Buffer.allocUnsafe(COPY_PIECE);
    let used = 0;
    for (let i = 0; i < lines.length; i++) {
      if (refused.has(i)) continue;
      const r = encodeLine(lines[i], options);
      if (!r.ok) {
        state.bad.push(JSON.stringify(r.badRow));
        continue;
      }
      // First line wins, as RDB's natural dedupe and dbt's `row_number() … = 1` keep the first.
      const id = r.event.eventId;
      if (seen.has(id) || state.ids.has(id)) continue;
      // an entity column the table lacks: this batch goes the staged way, which migrates first
      if (direct !== undefined && r.event.entities !== null && !allKnown(r.event.entities, direct.allowed)) {
        state.needsMigration = true;
        break;
      }
      state.ids.add(id);
      state.rows.push(i);
      const row =
        direct === undefined ? copyRow(r.event) : directCopyRow(r.event, direct.columns, direct.loadTs);
      // 3 bytes per UTF-16 unit at most; a row larger than a piece goes on its own
      if (used + row.length * 3 > COPY_PIECE) {
        if (used > 0) yield piece.subarray(0, used);
        piece = Buffer.allocUnsafe(Math.max(COPY_PIECE, row.length * 3));
        used = 0;
      }
      used += piece.write(row, used);
    }
    if (used > 0) yield piece.subarray(0, used);
  }

  /**
   * Adds the wide-row columns the batch needs and the table lacks, inside the load transaction (step 2 of
   * the file comment). Returns the columns added, for the cache once the transaction committed.
   */
  private async migrate(client: pg.PoolClient, columns: ReadonlyMap<string, string>): Promise<string[]> {
    if (columns.size === 0) return [];
    if (this.known.size === 0) this.known = await this.readColumns(client);
    const missing = [...columns].filter(([c]) => !this.known.has(c));
    if (missing.length === 0) return [];
    await client.query(`SET LOCAL lock_timeout = ${this.config.migrationLockTimeoutMs}`);
    await client.query('SELECT pg_advisory_xact_lock($1)', [this.lockKey]);
    const existing = await this.readColumns(client);
    const toAdd = missing
      .filter(([c]) => !existing.has(c))
      .map(([column, schemaUri]) => ({ column, schemaUri }));
    for (const sql of addEntityColumnsDdl(this.config.schema, toAdd)) await client.query(sql);
    return missing.map(([c]) => c);
  }

  private async readColumns(client: pg.PoolClient): Promise<Set<string>> {
    const r = await client.query<{ attname: string }>(
      'SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped',
      [eventsTable(this.config.schema)],
    );
    return new Set(r.rows.map((row) => row.attname));
  }

  private async insertBad(client: pg.PoolClient, rows: readonly string[], loadTs: string): Promise<number> {
    if (rows.length === 0) return 0;
    const json = rows.map(badRowJson);
    const hashes = rows.map((t) => createHash('sha1').update(t).digest('hex'));
    const r = await client.query(insertBadRowsSql(this.config.schema), [loadTs, json, hashes]);
    return r.rowCount ?? 0;
  }

  /** A pooled connection, retrying only the connecting itself (nothing has been sent yet). */
  private async acquire(): Promise<pg.PoolClient> {
    let delay = 100;
    for (let attempt = 0; ; attempt++) {
      try {
        const client = await this.pool.connect();
        if (!this.watched.has(client)) {
          this.watched.add(client);
          // Errors of a checked-out connection also reject its pending query, which is where they are
          // handled; this listener only keeps the event from crashing the process.
          client.on('error', () => undefined);
        }
        return client;
      } catch (e) {
        if (this.closed || attempt >= this.config.connectRetries || !isConnectionError(e)) throw e;
        this.log?.warn({ err: e, attempt }, 'postgres loader: cannot connect, retrying');
        await sleep(delay);
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  /** BEGIN … COMMIT on one pooled connection; on failure ROLLBACK, and a broken connection is discarded. */
  private async transaction<T>(
    body: (client: pg.PoolClient, backendPid: () => Promise<number>) => Promise<T>,
  ): Promise<T> {
    const client = await this.acquire();
    let broken: Error | undefined;
    const pid = async (): Promise<number> => {
      const known = (client as unknown as { processID?: number | null }).processID;
      if (typeof known === 'number') return known;
      return (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    };
    try {
      await client.query('BEGIN');
      const result = await body(client, pid);
      await client.query('COMMIT');
      return result;
    } catch (e) {
      if (isConnectionError(e)) broken = e as Error;
      else
        await client.query('ROLLBACK').catch((re: unknown) => {
          broken = re as Error;
        });
      throw e;
    } finally {
      client.release(broken);
    }
  }

  private ensureOpen(): void {
    if (this.closed) throw new Error('PostgresLoader is closed');
  }

  private ensureReady(): void {
    this.ensureOpen();
    if (!this.initialized) throw new Error('PostgresLoader.init() was not called');
  }
}

function allKnown(entities: ReadonlyMap<string, unknown>, allowed: ReadonlySet<string>): boolean {
  for (const col of entities.keys()) if (!allowed.has(col)) return false;
  return true;
}
