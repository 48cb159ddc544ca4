/**
 * A registry held in memory (Snowplow's class priority 1: asked before embedded and HTTP ones).
 * Useful for schemas shipped inside the program and for tests.
 *
 * @example
 * const mem = createMemoryRegistry({ name: 'Built-in', schemas: [mySchemaWithSelf] });
 */
import type { SchemaKey } from '../schema-key.js';
import { formatSchemaKey, parseSchemaSelf } from '../schema-key.js';
import type { Registry, RegistryLookupResult } from './registry.js';

export interface MemoryRegistryOptions {
  name: string;
  priority?: number;
  vendorPrefixes?: readonly string[];
  /** schema documents, each keyed by its own `self` block */
  schemas: ReadonlyArray<Record<string, unknown>>;
}

export function createMemoryRegistry(opts: MemoryRegistryOptions): Registry {
  const byUri = new Map<string, Record<string, unknown>>();
  opts.schemas.forEach((schema, i) => {
    const key = parseSchemaSelf(schema);
    if (!key.ok) throw new TypeError(`${opts.name}: schemas[${i}] has no valid "self" block (${key.error})`);
    byUri.set(formatSchemaKey(key.value), schema);
  });
  return {
    name: opts.name,
    classPriority: 1,
    priority: opts.priority ?? 0,
    vendorPrefixes: opts.vendorPrefixes ?? [],
    async lookup(key: SchemaKey): Promise<RegistryLookupResult> {
      const schema = byUri.get(formatSchemaKey(key));
      return schema === undefined ? { notFound: true } : { found: schema };
    },
  };
}
