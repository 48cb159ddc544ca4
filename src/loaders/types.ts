/**
 * The contract every warehouse loader implements (DuckDB, PostgreSQL). Loading is idempotent: a batch
 * that is replayed after a crash inserts no row twice (dedupe on `event_id`, plus the fingerprint where
 * the warehouse keeps it).
 */
export interface LoadResult {
  /** rows inserted (replayed duplicates excluded) */
  inserted: number;
  /** lines that could not be parsed as enriched TSV; they were stored as `loader_parsing_error` bad rows */
  rejected: number;
}

export interface Loader {
  /** Create schemas and tables if needed. */
  init(): Promise<void>;
  /** Enriched TSV lines (131 fields). Resolves when the rows are committed. */
  loadGood(lines: readonly string[]): Promise<LoadResult>;
  /** Bad rows (self-describing JSON). Resolves when committed. */
  loadBad(rows: readonly string[]): Promise<number>;
  close(): Promise<void>;
}
