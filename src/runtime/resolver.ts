/** The Iglu resolver configuration a role uses: a standard resolver-config file, or the default set. */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defaultResolverConfig } from '../iglu/resolver-config.js';
import { ConfigError, type FurrowConfig } from './config.js';

/** A resolver-config JSON document; workers build their own resolver from it. */
export function resolverConfigFor(cfg: FurrowConfig): unknown {
  const file = cfg.iglu.resolverFile;
  if (file !== undefined) {
    try {
      return JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new ConfigError(`iglu.resolverFile (${file}): ${(e as Error).message}`);
    }
  }
  const dir = resolve(cfg.iglu.schemasDir);
  return defaultResolverConfig(existsSync(dir) ? { schemasDir: dir } : {});
}
