/** Public surface of `src/iglu`: keys, resolver config, resolver, validation. */

export { createDirectoryRegistry } from './registries/directory.js';
export { createHttpRegistry } from './registries/http.js';
export { createMemoryRegistry } from './registries/memory.js';
export type { Registry, RegistryFailure, RegistryLookupResult } from './registries/registry.js';
export type { CreateResolverOptions, IgluResolver, LookupSchemaResult } from './resolver.js';
export { createResolver } from './resolver.js';
export * from './resolver-config.js';
export * from './schema-key.js';
export * from './types.js';
export type { CompileResult, SchemaValidator, ValidateData } from './validator.js';
export { createSchemaValidator, IGLU_META_SCHEMA_URI } from './validator.js';
