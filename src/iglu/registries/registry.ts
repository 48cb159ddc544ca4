/**
 * The shape every registry (HTTP, directory, in-memory) shares, so the resolver treats them alike.
 */
import type { SchemaKey } from '../schema-key.js';

export interface RegistryFailure {
  /** Snowplow's `RegistryError` names: `RepoFailure` (the registry misbehaved), `ClientFailure` (we did) */
  error: 'RepoFailure' | 'ClientFailure';
  message: string;
}

export type RegistryLookupResult =
  | { found: Record<string, unknown> }
  | { notFound: true }
  | {
      error: RegistryFailure;
      /**
       * true when the registry could not be reached (network error, timeout, 5xx): an
       * infrastructure failure rather than an answer about the schema
       */
      transient: boolean;
      /** requests made, retries included */
      attempts: number;
    };

export interface Registry {
  readonly name: string;
  /** lookup-order class: in-memory 1, embedded (directory) 2, HTTP 100 (Snowplow's classPriority) */
  readonly classPriority: number;
  readonly priority: number;
  readonly vendorPrefixes: readonly string[];
  lookup(key: SchemaKey): Promise<RegistryLookupResult>;
}

/**
 * The vendor regex admits "." and "..", which would climb out of `schemas/` once joined into a path
 * or URL; such keys cannot name a schema, so registries answer NotFound without asking.
 */
export function isUnsafeVendor(vendor: string): boolean {
  return vendor === '.' || vendor === '..';
}

export function isSchemaObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
