/**
 * The contract between Iglu (schema resolution and validation) and its users (adapters, enrich).
 * Shapes follow Snowplow's bad-row `IgluError` so they can be put into bad rows unchanged.
 */

/** One validation problem, Snowplow's `{message, path, keyword, targets}` report shape. */
export interface DataReport {
  message: string;
  path: string | null;
  keyword: string | null;
  targets: string[];
}

/** Per-repository record of a failed lookup. */
export interface LookupHistory {
  repository: string;
  errors: Array<{ error: string; message?: string }>;
  attempts: number;
  lastAttempt: string;
}

export type IgluClientError =
  | { error: 'ValidationError'; dataReports: DataReport[] }
  | { error: 'ResolutionError'; lookupHistory: LookupHistory[] }
  | { error: 'InvalidSchema'; invalidSchema: string; message: string };

/** Result of validating one self-describing datum. */
export type CheckResult =
  | {
      ok: true;
      /** set when the schema was superseded: the `M-R-A` version actually used (`$supersededBy`) */
      supersededBy?: string;
    }
  | { ok: false; error: IgluClientError };

/**
 * Resolves schemas through the configured registries and validates data against them.
 * `check` answers synchronously when the compiled validator is already cached (the hot path) and
 * with a promise only when a registry must be asked; callers `await` only when they get a promise.
 * Unreachable registries (network errors after retries) reject with `IgluSystemError`: that is an
 * infrastructure failure to retry, never a bad row.
 */
export interface Resolver {
  /** `schemaUri` is `iglu:vendor/name/format/M-R-A` */
  check(schemaUri: string, data: unknown): CheckResult | Promise<CheckResult>;
  /** the raw schema document, or a resolution error */
  lookupSchema(
    schemaUri: string,
  ): Promise<{ ok: true; schema: Record<string, unknown> } | { ok: false; error: IgluClientError }>;
}

export class IgluSystemError extends Error {
  override name = 'IgluSystemError';
}
