/**
 * A registry on the local filesystem, Snowplow's "embedded" repository: `path` is a directory holding
 * `schemas/<vendor>/<name>/<format>/<version>` (the static-registry layout, files without extension).
 * A `path` that is itself such a `schemas/` folder (no `schemas/` inside it) is accepted too, so a
 * project's `schemas/` directory can be used as it is.
 *
 * @example
 * const local = createDirectoryRegistry({ name: 'Local', priority: 0, vendorPrefixes: [], path: './iglu' });
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { SchemaKey } from '../schema-key.js';
import { formatSchemaVer } from '../schema-key.js';
import type { Registry, RegistryLookupResult } from './registry.js';
import { isSchemaObject, isUnsafeVendor } from './registry.js';

export interface DirectoryRegistryOptions {
  name: string;
  priority: number;
  vendorPrefixes: readonly string[];
  path: string;
}

const MISSING = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);

export function createDirectoryRegistry(opts: DirectoryRegistryOptions): Registry {
  let root: string | undefined;
  // Decided on first use (the directory may be created after start-up) and kept once it exists.
  async function schemasRoot(): Promise<string> {
    if (root !== undefined) return root;
    const nested = join(opts.path, 'schemas');
    if (await isDir(nested)) root = nested;
    else if (await isDir(opts.path)) root = opts.path;
    return root ?? nested;
  }
  return {
    name: opts.name,
    classPriority: 2,
    priority: opts.priority,
    vendorPrefixes: opts.vendorPrefixes,
    async lookup(key: SchemaKey): Promise<RegistryLookupResult> {
      if (isUnsafeVendor(key.vendor)) return { notFound: true };
      const file = join(await schemasRoot(), key.vendor, key.name, key.format, formatSchemaVer(key.version));
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== undefined && MISSING.has(code)) return { notFound: true };
        return {
          error: { error: 'RepoFailure', message: `${file}: ${(e as Error).message}` },
          transient: false,
          attempts: 1,
        };
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (e) {
        return {
          error: { error: 'RepoFailure', message: `${file}: not valid JSON: ${(e as Error).message}` },
          transient: false,
          attempts: 1,
        };
      }
      if (!isSchemaObject(json)) {
        return {
          error: { error: 'RepoFailure', message: `${file}: not a JSON object` },
          transient: false,
          attempts: 1,
        };
      }
      return { found: json };
    },
  };
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}
