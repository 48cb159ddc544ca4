/**
 * Flags shared by the long-running commands, each mapped onto a config key so that flags override the
 * config file and the environment (see `runtime/config.ts`).
 */
import type { ParseArgsConfig } from 'node:util';
import { ENV_KEYS } from '../runtime/config.js';
import { UsageError } from './command.js';

export const SERVER_FLAGS = {
  config: { type: 'string', short: 'c' },
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
  'data-dir': { type: 'string', short: 'd' },
  resolver: { type: 'string', short: 'r' },
  schemas: { type: 'string', short: 's' },
  enrichments: { type: 'string', short: 'e' },
  workers: { type: 'string', short: 'w' },
  durability: { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} satisfies ParseArgsConfig['options'];

export const SERVER_FLAGS_HELP = `  -c, --config FILE       JSON config file (also FURROW_CONFIG); keys as in docs/configuration.md
  -p, --port PORT         collector / API port
      --host ADDRESS      interface to listen on (default 0.0.0.0)
  -r, --resolver FILE     Iglu resolver configuration (Snowplow's resolver-config JSON, 1-0-0…1-0-3);
                          default: Iglu Central over HTTP plus the --schemas folder when it exists
  -s, --schemas DIR       local schema folder (<vendor>/<name>/jsonschema/<version>), default ./schemas
  -e, --enrichments DIR   folder of Snowplow enrichment configuration JSON files
  -w, --workers N         enrich worker threads (default: one per core)
  -h, --help              show this help`;

export function envHelp(): string {
  return ENV_KEYS.map(([name, key]) => `  ${name.padEnd(24)}${key}`).join('\n');
}

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new UsageError(`--${name} must be an integer (got ${v})`);
  return n;
}

/** Flag values → dotted config keys. */
export function flagOverrides(
  values: Record<string, string | boolean | undefined>,
): Array<[string, unknown]> {
  return [
    ['collector.port', int('port', values.port as string | undefined)],
    ['collector.interface', values.host],
    ['dataDir', values['data-dir']],
    ['iglu.resolverFile', values.resolver],
    ['iglu.schemasDir', values.schemas],
    ['enrich.enrichmentsDir', values.enrichments],
    ['enrich.workers', int('workers', values.workers as string | undefined)],
    ['spool.durability', values.durability],
    ['log.level', values['log-level']],
  ];
}
