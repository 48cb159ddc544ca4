/** Temporary schema directories for Iglu tests (static-registry layout, removed by the caller). */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempSchemas {
  /** registry root: holds `schemas/` (an `embedded.path`) */
  root: string;
  /** the `schemas/` directory itself (a loopback server's `schemasRoot`) */
  schemas: string;
  /** writes `schemas/<path>`; `body` is serialised unless it is already a string */
  put(path: string, body: unknown): Promise<void>;
  remove(): Promise<void>;
}

export async function tempSchemas(): Promise<TempSchemas> {
  const root = await mkdtemp(join(tmpdir(), 'furrow-iglu-'));
  const schemas = join(root, 'schemas');
  await mkdir(schemas);
  return {
    root,
    schemas,
    async put(path, body) {
      const file = join(schemas, path);
      await mkdir(join(file, '..'), { recursive: true });
      await writeFile(file, typeof body === 'string' ? body : JSON.stringify(body, null, 2));
    },
    remove: () => rm(root, { recursive: true, force: true }),
  };
}

/** A small self-describing schema: an object with a required string `a`. */
export function tinySchema(
  vendor: string,
  name: string,
  version: string,
  extra: Record<string, unknown> = {},
) {
  return {
    $schema: 'http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#',
    self: { vendor, name, format: 'jsonschema', version },
    type: 'object',
    properties: { a: { type: 'string' } },
    required: ['a'],
    additionalProperties: false,
    ...extra,
  };
}
