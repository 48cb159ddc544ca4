/**
 * Which enrichments run: the Snowplow configuration folder the user gave, unchanged; or, with none, a
 * default set that needs no downloaded assets — ua_parser (uap-core rules from npm), campaign_attribution,
 * event_fingerprint and bot_detection (from user-agent classification), plus referer_parser when a referer
 * database is given (the public one is GPL-licensed, so Furrow does not ship it).
 */
import { resolve } from 'node:path';
import { defaultDeviceEnrichmentConfigs } from './defaults-device.js';
import { defaultPageEnrichmentConfigs } from './defaults-page.js';
import { buildEnrichments, readEnrichmentDir } from './load.js';
import type { Enrichment, EnrichmentEnv } from './types.js';

export interface EnrichmentChoice {
  /** a folder of Snowplow enrichment configuration files; when absent the default set runs */
  dir?: string;
  /** `none`: no enrichments at all (benchmarks, strict format tests) */
  defaults?: 'standard' | 'none';
  /** a referer database (path or URL) for the default referer_parser */
  refererDatabase?: string;
}

export function defaultEnrichmentConfigs(refererDatabase?: string): unknown[] {
  return [...defaultDeviceEnrichmentConfigs(), ...defaultPageEnrichmentConfigs(refererDatabase)];
}

export async function chooseEnrichments(
  choice: EnrichmentChoice,
  env: Omit<EnrichmentEnv, 'baseDir'>,
): Promise<Enrichment[]> {
  if (choice.dir !== undefined) {
    return buildEnrichments(await readEnrichmentDir(choice.dir), { ...env, baseDir: resolve(choice.dir) });
  }
  if (choice.defaults === 'none') return [];
  const sources = defaultEnrichmentConfigs(choice.refererDatabase).map((json, i) => ({
    file: `(default enrichment ${i + 1})`,
    json,
  }));
  return buildEnrichments(sources, { ...env, baseDir: process.cwd() });
}
