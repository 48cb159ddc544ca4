import { parseArgs } from 'node:util';
import { loadConfig } from '../../runtime/config.js';
import { onShutdownSignals } from '../../runtime/lifecycle.js';
import { createLogger } from '../../runtime/logger.js';
import { type RoleName, startRoleApp } from '../../runtime/role-app.js';
import type { Command } from '../command.js';
import { envHelp, flagOverrides, SERVER_FLAGS, SERVER_FLAGS_HELP } from '../config-flags.js';

const ROLE_FLAGS = {
  ...SERVER_FLAGS,
  streams: { type: 'string' },
  warehouse: { type: 'string' },
} as const;

const WHAT: Record<RoleName, string> = {
  collector:
    'Runs the collector alone: tracking routes on --port, each request appended to the spool in --data-dir\n(fsync before the 200) and forwarded to the raw stream (with the embedded engine the raw stream’s own\nlog is the spool: written once). Scale by running more collectors (each with its own data directory /\nvolume).',
  enrich:
    'Runs enrich alone as a stream role: reads the raw stream as consumer group "enrich", enriches in worker\nthreads, writes the enriched and bad streams, commits its position only after both are acknowledged.\nScale by running more enrich processes: they share the work through the consumer group.\n(With a FILE argument, or "-" for standard input, furrow enrich works offline instead: see\n"furrow enrich --help".)',
  load: 'Runs the loader alone: reads the enriched and bad streams as consumer group "loader" and loads them\ninto the warehouse (DuckDB by default, PostgreSQL with --warehouse postgres), idempotently.',
};

export function roleHelp(role: RoleName): string {
  return `Usage: furrow ${role} [options]

${WHAT[role]}

Options:
${SERVER_FLAGS_HELP}
  -d, --data-dir DIR      data directory (spool, embedded streams, DuckDB file)
      --streams ENGINE    stream engine: embedded (default), kafka, nats, pubsub; engine options in the
                          config file under streams.<engine> (see docs/distributed.md)
      --warehouse KIND    duckdb (default) or postgres; options under warehouse.<kind>
      --log-level LEVEL   fatal, error, warn, info (default), debug, trace, silent

Every role serves /health/live, /health/ready and /metrics on --port (default 8080).
Environment variables (overridden by flags):
${envHelp()}
`;
}

export async function runRole(role: RoleName, argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: ROLE_FLAGS, allowPositionals: false });
  if (values.help) {
    process.stdout.write(roleHelp(role));
    return 0;
  }
  const overrides = [
    ...flagOverrides(values),
    ['streams.engine', values.streams] as [string, unknown],
    ['warehouse.loader', values.warehouse] as [string, unknown],
  ];
  const cfg = loadConfig({ file: values.config, overrides });
  const log = createLogger({ level: cfg.log.level, role });
  const app = await startRoleApp(cfg, log, role);
  process.stderr.write(`furrow ${role}: listening on ${app.url} — ${app.describe}\n`);
  await onShutdownSignals(app, { preTerminationMs: cfg.shutdown.preTerminationMs, log });
  return 0;
}

export const collectorCommand: Command = {
  name: 'collector',
  summary: 'the collector role alone (spool → raw stream), for distributed mode',
  help: roleHelp('collector'),
  run: (argv) => runRole('collector', argv),
};

export const loadCommand: Command = {
  name: 'load',
  summary: 'the loader role alone (enriched/bad streams → warehouse)',
  help: roleHelp('load'),
  run: (argv) => runRole('load', argv),
};
