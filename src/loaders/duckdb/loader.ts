/**
 * The DuckDB warehouse loader: enriched TSV batches → `<schema>.events`, bad rows → `<schema>.bad_rows`,
 * over one connection, one transaction per batch (all or nothing), idempotent on `event_id`.
 *
 * How a batch loads (the `copy` method, the default): lines are validated in JS (encoder.ts) — failures
 * become `loader_parsing_error` bad rows, repeated `event_id`s keep their first line — the survivors are
 * written unchanged to a staging TSV file, and one statement converts and inserts them:
 * `INSERT INTO events SELECT s.*, <load_tstamp> FROM read_csv(<file>, typed columns) s WHERE NOT EXISTS
 * (same event_id in events, among the rows near the batch's collector_tstamp range; see dedupeFilter)`. The alternative `appender` method appends typed values row by row into a
 * TEMP staging table and runs the same anti-join from there.
 *
 * Measured with bench/duckdb-loader.ts on a 2-core VM shared with other builds (load average 2–10 during
 * the runs, so absolute figures are low and noisy); 100k rows of ~1.9 KB in batches of 5k, rows/s:
 *   run                          1      2      3      4      5      6
 *   plain COPY baseline        5.9k   6.0k   5.5k   5.7k   6.0k   2.2k
 *   copy (read_csv) + dedupe   4.9k   5.3k   4.2k   6.3k   4.0k   1.9k
 *   appender + dedupe          6.4k   5.3k   8.5k   5.6k   2.0k   2.2k
 * Ingest alone (5k rows into a TEMP table, median of 8): appender 8.0k / 12.4k, read_csv 4.1k / 6.9k.
 * The two methods do not separate reliably here (storage — WAL, commit, checkpoint — dominates), unlike
 * the quieter reference run of spec performance.md §2.8 (COPY 47–55k vs appender 17–21k rows/s). COPY is
 * kept as the default because its heavy part (parsing, casting) runs on DuckDB's threads while the
 * appender makes 131 synchronous native calls per row on the event loop, which in `furrow up` is shared
 * with the collector: longest event-loop stall per run 0.9–1.1 s (copy) vs 1.5–1.7 s (appender) under
 * that load. `method: 'appender'` stays available; re-measure on a quiet host. With DuckDB at one thread
 * (the default since, see config.ts), process CPU per row at 100–150k rows: copy 80 µs, appender 90–104 µs.
 *
 * Dedupe on top of 1M rows already loaded (20 batches of 5k, rows/s): no dedupe 9.3k, anti-join on
 * UUID 7.5k, PRIMARY KEY + INSERT OR IGNORE 3.6k on UUID / 2.6k on VARCHAR, with a 3.5×–5× bigger file
 * (the ART index is stored, and DuckDB wants it in memory). Hence the anti-join: one scan of the 16-byte
 * `event_id` column per batch, limited to the row groups near the batch's collector_tstamp range (see
 * dedupeFilter), no in-memory index, and safe because only this connection writes the file (DuckDB locks
 * it per process).
 *
 * @example
 * const loader = new DuckDbLoader(parseDuckDbLoaderConfig({}, { dataDir }));
 * await loader.init();
 * const { inserted, rejected } = await loader.loadGood(lines);
 * await loader.close();
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import {
  type DuckDBAppender,
  type DuckDBConnection,
  DuckDBInstance,
  DuckDBTimestampValue,
  LIST,
  listValue,
  VARCHAR,
} from '@duckdb/node-api';
import type { LoaderParsingFailure } from '../../protocol/bad-rows.js';
import { F, FIELD_COUNT, FIELDS } from '../../protocol/enriched-fields.js';
import type { Processor } from '../../protocol/processor.js';
import type { Loader, LoadResult } from '../types.js';
import type { DuckDbLoaderConfig } from './config.js';
import { checkLine, LOADER_PROCESSOR, parseTstamp, parsingErrorRow, toColumnValues } from './encoder.js';
import { BAD_ROW_COLUMNS, createStatements, EVENT_COLUMNS, quoteIdent, readStagedTsv } from './schema.js';

export type LoadMethod = 'copy' | 'appender';

export interface DuckDbLoaderOptions {
  /** `copy` (default, the faster) or `appender`; both kept so the bench can compare them in one run */
  method?: LoadMethod;
  /** named in `loader_parsing_error` bad rows */
  processor?: Processor;
  /** the `load_tstamp` clock */
  now?: () => Date;
  /** For crash tests: runs inside a batch's transaction, after the inserts, before COMMIT. */
  beforeCommit?: () => void | Promise<void>;
}

/** A line DuckDB refused even though the encoder accepted it is isolated this many times per batch at most. */
const MAX_POISON_RETRIES = 64;
const CSV_LINE_RE = /CSV Error on Line: (\d+)/;
const LONE_SURROGATE_CHAR_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const LONE_SURROGATE_CHAR_TEST = new RegExp(LONE_SURROGATE_CHAR_RE.source);
const SURROGATE_ESCAPE_RE = /\\u[dD][89a-fA-F]/;

/**
 * JSON text DuckDB's parser accepts: JSON.stringify escapes a lone surrogate as `\udXXX`, which DuckDB
 * rejects (and the whole statement with it), so lone surrogates become U+FFFD.
 */
function duckJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    typeof x === 'string' ? x.replace(LONE_SURROGATE_CHAR_RE, '\uFFFD') : x,
  );
}

function sqlTimestamp(d: Date): string {
  return `TIMESTAMP '${d.toISOString().replace('T', ' ').replace('Z', '')}'`;
}

interface BadRowColumns {
  schema: (string | null)[];
  failureType: (string | null)[];
  processor: (string | null)[];
  failure: (string | null)[];
  payload: (string | null)[];
  badRow: string[];
  hash: string[];
}

function jsonOrNull(v: unknown): string | null {
  return v === undefined ? null : duckJson(v);
}

/** Splits bad rows into the table's columns; anything that is not a self-describing JSON is kept whole. */
function badRowColumns(rows: readonly string[]): BadRowColumns {
  const c: BadRowColumns = {
    schema: [],
    failureType: [],
    processor: [],
    failure: [],
    payload: [],
    badRow: [],
    hash: [],
  };
  for (const text of rows) {
    let parsed: unknown;
    let isJson = true;
    try {
      parsed = JSON.parse(text);
    } catch {
      isJson = false;
    }
    const sd =
      isJson && typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
        ? (parsed as { schema?: unknown; data?: unknown })
        : undefined;
    const schema = typeof sd?.schema === 'string' ? sd.schema : null;
    const data =
      typeof sd?.data === 'object' && sd.data !== null ? (sd.data as Record<string, unknown>) : undefined;
    c.schema.push(schema);
    c.failureType.push(schema === null ? null : (/\/([^/]+)\/jsonschema\//.exec(schema)?.[1] ?? null));
    c.processor.push(jsonOrNull(data?.processor));
    c.failure.push(jsonOrNull(data?.failure));
    c.payload.push(jsonOrNull(data?.payload));
    // The text is kept byte for byte unless it may hold a surrogate DuckDB would refuse.
    const risky = SURROGATE_ESCAPE_RE.test(text) || LONE_SURROGATE_CHAR_TEST.test(text);
    c.badRow.push(isJson ? (risky ? duckJson(parsed) : text) : duckJson(text));
    c.hash.push(createHash('sha1').update(text).digest('hex'));
  }
  return c;
}

export class DuckDbLoader implements Loader {
  readonly method: LoadMethod;
  private readonly processor: Processor;
  private readonly now: () => Date;
  private readonly beforeCommit: (() => void | Promise<void>) | undefined;
  private readonly events: string;
  private readonly badRows: string;
  private readonly stagePrefix: string;
  private readonly stageFile: string;
  private instance: DuckDBInstance | undefined;
  private conn: DuckDBConnection | undefined;
  /** One connection, one transaction at a time: calls queue behind each other. */
  private tail: Promise<unknown> = Promise.resolve();
  /** reused staging buffer (see stageBytes) */
  private stageBuf: Buffer = Buffer.alloc(0);
  private closed = false;

  constructor(
    readonly config: DuckDbLoaderConfig,
    options: DuckDbLoaderOptions = {},
  ) {
    this.method = options.method ?? 'copy';
    this.processor = options.processor ?? LOADER_PROCESSOR;
    this.now = options.now ?? (() => new Date());
    this.beforeCommit = options.beforeCommit;
    this.events = `${quoteIdent(config.schema)}.events`;
    this.badRows = `${quoteIdent(config.schema)}.bad_rows`;
    // The database lock makes this process the only writer of the file, so stale staging files named
    // after it can only be leftovers of an earlier crash.
    this.stagePrefix = `${basename(config.path === ':memory:' ? 'memory' : config.path)}.stage-`;
    this.stageFile = join(config.stagingDir, `${this.stagePrefix}${process.pid}-${randomUUID()}.tsv`);
  }

  async init(): Promise<void> {
    return this.serial(async () => {
      if (this.conn !== undefined) return;
      const settings: Record<string, string> = {
        checkpoint_threshold: this.config.checkpointThreshold,
        threads: String(this.config.threads),
      };
      if (this.config.memoryLimit !== undefined) settings.memory_limit = this.config.memoryLimit;
      if (this.config.path !== ':memory:') await mkdir(dirname(this.config.path), { recursive: true });
      await mkdir(this.config.stagingDir, { recursive: true });
      await this.removeStaleStaging();
      this.instance = await DuckDBInstance.create(this.config.path, settings);
      this.conn = await this.instance.connect();
      for (const sql of createStatements(this.config.schema)) await this.conn.run(sql);
      if (this.method === 'appender') {
        const cols = EVENT_COLUMNS.slice(0, FIELD_COUNT)
          .map((c) => `${quoteIdent(c.name)} ${c.type}`)
          .join(', ');
        await this.conn.run(`CREATE TEMP TABLE IF NOT EXISTS furrow_stage (${cols})`);
      }
    });
  }

  loadGood(lines: readonly string[]): Promise<LoadResult> {
    return this.serial(async () => {
      const conn = this.connection();
      const good: string[] = [];
      const goodFields: string[][] = [];
      const bad: string[] = [];
      const seen = new Set<string>();
      let minTs: bigint | undefined;
      let maxTs: bigint | undefined;
      for (const line of lines) {
        const r = checkLine(line);
        if (!r.ok) {
          bad.push(JSON.stringify(parsingErrorRow(line, r.failure, this.processor)));
          continue;
        }
        // First line wins, as dbt's `row_number() … = 1` and RDB's natural dedupe keep the first.
        const id = r.fields[F.event_id].toLowerCase();
        if (seen.has(id)) continue;
        seen.add(id);
        good.push(line);
        if (this.method === 'appender') goodFields.push(r.fields);
        // checkLine accepted it, so it parses
        const ts = parseTstamp(r.fields[F.collector_tstamp]) as bigint;
        if (minTs === undefined || ts < minTs) minTs = ts;
        if (maxTs === undefined || ts > maxTs) maxTs = ts;
      }
      const dedupe = this.dedupeFilter(minTs, maxTs);
      const rejectedByEncoder = bad.length;
      for (let attempt = 0; ; attempt++) {
        try {
          const inserted = await this.transaction(conn, async (loadTs) => {
            let n = 0;
            if (good.length > 0) {
              n =
                this.method === 'copy'
                  ? await this.insertCopy(conn, good, loadTs, dedupe)
                  : await this.insertAppender(conn, goodFields, loadTs, dedupe);
            }
            await this.insertBad(conn, bad, loadTs);
            return n;
          });
          return { inserted, rejected: bad.length };
        } catch (e) {
          // A line the encoder let through but DuckDB's cast refused would fail every replay of the batch
          // and stall the pipeline; it is moved to the bad rows and the rest retried.
          const idx = this.method === 'copy' ? poisonLine(e, good.length) : undefined;
          if (idx === undefined || attempt >= MAX_POISON_RETRIES) throw e;
          const [line] = good.splice(idx, 1);
          const failure: LoaderParsingFailure = {
            type: 'RowDecodingError',
            errors: [{ type: 'UnhandledRowDecodingError', message: (e as Error).message.split('\n')[0] }],
          };
          bad.splice(rejectedByEncoder, 0, JSON.stringify(parsingErrorRow(line, failure, this.processor)));
        }
      }
    });
  }

  loadBad(rows: readonly string[]): Promise<number> {
    return this.serial(async () => {
      const conn = this.connection();
      if (rows.length === 0) return 0;
      return this.transaction(conn, (loadTs) => this.insertBad(conn, rows, loadTs));
    });
  }

  /** Read-only convenience for the console, models and tests: runs on the loader's connection, in turn. */
  query(sql: string): Promise<Record<string, unknown>[]> {
    return this.serial(async () => (await this.connection().runAndReadAll(sql)).getRowObjectsJS());
  }

  close(): Promise<void> {
    return this.serial(async () => {
      if (this.closed) return;
      this.closed = true;
      const conn = this.conn;
      const instance = this.instance;
      this.conn = undefined;
      this.instance = undefined;
      try {
        // Folds the WAL into the file so the next open does not replay it and the file is self-contained.
        if (conn !== undefined) await conn.run('CHECKPOINT');
      } finally {
        conn?.closeSync();
        instance?.closeSync();
        await rm(this.stageFile, { force: true });
      }
    });
  }

  private connection(): DuckDBConnection {
    if (this.conn === undefined)
      throw new Error(this.closed ? 'DuckDbLoader is closed' : 'DuckDbLoader.init() was not called');
    return this.conn;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async transaction<T>(conn: DuckDBConnection, body: (loadTs: string) => Promise<T>): Promise<T> {
    await conn.run('BEGIN TRANSACTION');
    try {
      const result = await body(sqlTimestamp(this.now()));
      if (this.beforeCommit !== undefined) await this.beforeCommit();
      await conn.run('COMMIT');
      return result;
    } catch (e) {
      await conn.run('ROLLBACK').catch(() => undefined);
      throw e;
    }
  }

  /**
   * The anti-join's condition: the same event_id among the rows whose collector_tstamp lies within the
   * batch's own range widened by `dedupeWindowSeconds`. A replay (after a crash or a failed commit)
   * re-enriches the same raw records, so its events carry the same collector_tstamp and always fall in
   * the range; the window also catches a tracker's quick resend of an event. Bounding the scan this way
   * lets DuckDB skip the row groups outside the range by their min/max, so a batch costs the same at
   * 100M rows as at 100k, where the unbounded anti-join scanned every event_id ever loaded (+50 ms of CPU
   * per 1k-row batch at 100k rows already, growing linearly).
   */
  private dedupeFilter(minTs: bigint | undefined, maxTs: bigint | undefined): string {
    const match = 'e.event_id = s.event_id';
    if (minTs === undefined || maxTs === undefined) return match;
    const w = BigInt(this.config.dedupeWindowSeconds) * 1_000_000n;
    return `e.collector_tstamp BETWEEN make_timestamp(${minTs - w}) AND make_timestamp(${maxTs + w}) AND ${match}`;
  }

  private async insertCopy(
    conn: DuckDBConnection,
    lines: readonly string[],
    loadTs: string,
    dedupe: string,
  ): Promise<number> {
    await writeFile(this.stageFile, this.stageBytes(lines));
    try {
      const r = await conn.run(
        `INSERT INTO ${this.events} SELECT s.*, ${loadTs} FROM ${readStagedTsv(this.stageFile)} AS s ` +
          `WHERE NOT EXISTS (SELECT 1 FROM ${this.events} AS e WHERE ${dedupe})`,
      );
      return r.rowsChanged;
    } finally {
      await rm(this.stageFile, { force: true });
    }
  }

  /**
   * The batch as TSV bytes in a buffer kept across batches. Joining 5k lines into one string and encoding
   * it allocated ~10 MB twice per batch, fresh memory that had to be page-faulted in each time: on the
   * shared 2-core VM that was 6 % of the main thread's time in `furrow up` (bench/e2e.ts profile), while
   * writing each line into memory that stays mapped costs about a memcpy.
   */
  private stageBytes(lines: readonly string[]): Buffer {
    let buf = this.stageBuf;
    let off = 0;
    for (const line of lines) {
      // UTF-8 takes at most 3 bytes per UTF-16 code unit; +1 for the newline.
      const need = off + line.length * 3 + 1;
      if (need > buf.length) {
        const grown = Buffer.allocUnsafeSlow(Math.max(need, buf.length * 2, 1 << 20));
        buf.copy(grown, 0, 0, off);
        buf = grown;
        this.stageBuf = grown;
      }
      off += buf.write(line, off, 'utf8');
      buf[off++] = 0x0a;
    }
    return buf.subarray(0, off);
  }

  private async insertAppender(
    conn: DuckDBConnection,
    rows: readonly string[][],
    loadTs: string,
    dedupe: string,
  ): Promise<number> {
    await conn.run('DELETE FROM temp.main.furrow_stage');
    const appender = await conn.createAppender('furrow_stage', 'main', 'temp');
    try {
      for (const fields of rows) appendRow(appender, fields);
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
    const r = await conn.run(
      `INSERT INTO ${this.events} SELECT s.*, ${loadTs} FROM temp.main.furrow_stage AS s ` +
        `WHERE NOT EXISTS (SELECT 1 FROM ${this.events} AS e WHERE ${dedupe})`,
    );
    return r.rowsChanged;
  }

  private async insertBad(conn: DuckDBConnection, rows: readonly string[], loadTs: string): Promise<number> {
    if (rows.length === 0) return 0;
    const c = badRowColumns(rows);
    const lists = [c.schema, c.failureType, c.processor, c.failure, c.payload, c.badRow, c.hash];
    const names = BAD_ROW_COLUMNS.map((col) => quoteIdent(col.name)).join(', ');
    const r = await conn.run(
      `INSERT OR IGNORE INTO ${this.badRows} (${names}) ` +
        `SELECT ${loadTs}, unnest($1), unnest($2), unnest($3)::JSON, unnest($4)::JSON, unnest($5)::JSON, ` +
        `unnest($6)::JSON, unnest($7)`,
      lists.map((l) => listValue(l)),
      lists.map(() => LIST(VARCHAR)),
    );
    return r.rowsChanged;
  }

  private async removeStaleStaging(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.config.stagingDir);
    } catch {
      return;
    }
    await Promise.all(
      names
        .filter((n) => n.startsWith(this.stagePrefix) && n.endsWith('.tsv'))
        .map((n) => rm(join(this.config.stagingDir, n), { force: true })),
    );
  }
}

/** The 0-based index in the staged batch of the line DuckDB's CSV reader named in its error, if any. */
function poisonLine(e: unknown, count: number): number | undefined {
  const m = CSV_LINE_RE.exec(e instanceof Error ? e.message : String(e));
  if (m === null) return undefined;
  const idx = Number(m[1]) - 1;
  return idx >= 0 && idx < count ? idx : undefined;
}

const TYPES = FIELDS.map((f) => f.type);

/** Typed appends where JS already holds the value's type; DuckDB casts the strings (UUID, JSON) itself. */
function appendRow(a: DuckDBAppender, fields: readonly string[]): void {
  const values = toColumnValues(fields);
  for (let i = 0; i < FIELD_COUNT; i++) {
    const v = values[i];
    if (v === null) {
      a.appendNull();
      continue;
    }
    switch (TYPES[i]) {
      case 'int':
        a.appendInteger(v as number);
        break;
      case 'decimal':
      case 'float':
        a.appendDouble(v as number);
        break;
      case 'bool':
        a.appendBoolean(v as boolean);
        break;
      case 'tstamp':
        a.appendTimestamp(new DuckDBTimestampValue(v as bigint));
        break;
      default:
        a.appendVarchar(v as string);
    }
  }
  a.endRow();
}
