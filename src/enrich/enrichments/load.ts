/**
 * Builds the configured enrichments from Snowplow's own configuration files, unchanged: a folder with one
 * self-describing JSON per enrichment, or the `enrichments/jsonschema/1-0-0` wrapper holding them all.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ENRICHMENTS } from './registry.js';
import {
  type Enrichment,
  type EnrichmentConfig,
  EnrichmentConfigError,
  type EnrichmentEnv,
} from './types.js';

const IGLU_URI = /^iglu:([a-zA-Z0-9-_.]+)\/([a-zA-Z0-9-_]+)\/jsonschema\/([1-9][0-9]*)-([0-9]+)-([0-9]+)$/;

/** Reads every `*.json` file of `dir` (in name order) as one enrichment configuration. */
export async function readEnrichmentDir(dir: string): Promise<Array<{ file: string; json: unknown }>> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  } catch (e) {
    throw new EnrichmentConfigError(`enrichments directory ${dir}: ${(e as Error).message}`);
  }
  const out: Array<{ file: string; json: unknown }> = [];
  for (const name of names) {
    const file = join(dir, name);
    const text = await readFile(file, 'utf8');
    try {
      out.push({ file, json: JSON.parse(text) });
    } catch (e) {
      throw new EnrichmentConfigError(`${file}: not valid JSON (${(e as Error).message})`);
    }
  }
  return out;
}

/** Splits the `enrichments` wrapper into its entries; any other document is one entry. */
function entries(source: { file: string; json: unknown }): Array<{ where: string; json: unknown }> {
  const j = source.json as { schema?: unknown; data?: unknown };
  if (
    typeof j?.schema === 'string' &&
    j.schema.includes('/enrichments/jsonschema/') &&
    Array.isArray(j.data)
  ) {
    return j.data.map((json, i) => ({ where: `${source.file}: data[${i}]`, json }));
  }
  return [{ where: source.file, json: source.json }];
}

/** Parses Snowplow's envelope `{schema, data:{vendor, name, enabled, parameters}}`. */
export function parseEnrichmentConfig(json: unknown, where: string): EnrichmentConfig {
  const j = json as { schema?: unknown; data?: Record<string, unknown> };
  if (typeof j !== 'object' || j === null || typeof j.schema !== 'string') {
    throw new EnrichmentConfigError(`${where}: schema: expected an iglu: URI string`);
  }
  const m = IGLU_URI.exec(j.schema);
  if (m === null)
    throw new EnrichmentConfigError(`${where}: schema: not an iglu: jsonschema URI (${j.schema})`);
  const data = j.data;
  if (typeof data !== 'object' || data === null)
    throw new EnrichmentConfigError(`${where}: data: expected an object`);
  if (typeof data.enabled !== 'boolean')
    throw new EnrichmentConfigError(`${where}: data.enabled: expected a boolean`);
  const parameters = data.parameters ?? {};
  if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters)) {
    throw new EnrichmentConfigError(`${where}: data.parameters: expected an object`);
  }
  return {
    schemaKey: j.schema,
    vendor: typeof data.vendor === 'string' ? data.vendor : m[1],
    name: m[2],
    enabled: data.enabled,
    parameters: parameters as Record<string, unknown>,
    data,
  };
}

function criterionMatches(criterion: string, schemaKey: string): boolean {
  const c = IGLU_URI.exec(criterion.replace(/\*/g, '0'));
  const k = IGLU_URI.exec(schemaKey);
  if (c === null || k === null) return false;
  const parts = criterion.slice(criterion.lastIndexOf('/') + 1).split('-');
  if (c[1] !== k[1] || c[2] !== k[2]) return false;
  return parts.every((p, i) => p === '*' || p === k[3 + i]);
}

/**
 * Validates each configuration against its Iglu schema (when the resolver can find it), dispatches by
 * schema name, skips disabled ones and ignores unknown names (as Snowplow does), then prepares each.
 * Any problem fails here, at start, with a message naming the file and key.
 */
export async function buildEnrichments(
  sources: ReadonlyArray<{ file: string; json: unknown }>,
  env: EnrichmentEnv,
): Promise<Enrichment[]> {
  const built: Enrichment[] = [];
  for (const source of sources) {
    for (const { where, json } of entries(source)) {
      const config = parseEnrichmentConfig(json, where);
      const def = ENRICHMENTS.get(config.name);
      if (def === undefined || !config.enabled) continue;
      if (!criterionMatches(def.criterion, config.schemaKey)) {
        throw new EnrichmentConfigError(
          `${where}: schema: ${config.schemaKey} is not one of ${def.criterion}`,
        );
      }
      let checked = (json as { data: Record<string, unknown> }).data;
      if (def.extensionKeys !== undefined && def.extensionKeys.some((k) => k in config.parameters)) {
        const parameters = { ...config.parameters };
        for (const k of def.extensionKeys) delete parameters[k];
        checked = { ...checked, parameters };
      }
      let r = env.resolver.check(config.schemaKey, checked);
      if (r instanceof Promise) r = await r.catch(() => ({ ok: true as const }));
      if (!r.ok && r.error.error === 'ValidationError') {
        const detail = r.error.dataReports.map((d) => d.message).join('; ');
        throw new EnrichmentConfigError(`${where}: invalid ${config.name} configuration: ${detail}`);
      }
      try {
        built.push(await def.create(config, env));
      } catch (e) {
        if (e instanceof EnrichmentConfigError) throw new EnrichmentConfigError(`${where}: ${e.message}`);
        throw e;
      }
    }
  }
  return built;
}
